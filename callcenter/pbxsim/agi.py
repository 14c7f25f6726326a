"""AsyncAGI: ``AGI(agi:async,…)`` in the dialplan and the ``AGI`` AMI action.

The controller drives a waiting channel by queueing commands with the AMI
``AGI`` action; each is answered by ``AGIExecStart``/``AGIExecEnd`` (with an
internal id) and ``AsyncAGIExec`` (with the client's ``CommandID`` and a
URL-encoded ``200 result=…`` line), exactly as Asterisk 22 does [capture 10].
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from twisted.internet import defer

from callcenter.pbxsim.dialplan import split_args
from callcenter.pbxsim.model import STOP, UNKNOWN, ChannelGone, Redirected
from callcenter.pbxsim.registry import APPLICATIONS
from callcenter.pbxsim.steps import answer, collect_digits

#: RFC 2396 unreserved marks stay as they are (Asterisk's legacy URI encoding).
_SAFE = "-_.!~*'()"


def uri_encode(text: str) -> str:
    return quote(text, safe=_SAFE)


class AsyncAGISession:
    """The command queue of one channel sitting in ``AGI(agi:async)``."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, str | None]] = []
        self._waiting: defer.Deferred | None = None
        self.closed: Exception | None = None

    def enqueue(self, command: str, command_id: str | None) -> None:
        if self._waiting is not None:
            d, self._waiting = self._waiting, None
            d.callback((command, command_id))
        else:
            self.pending.append((command, command_id))

    def next(self) -> defer.Deferred:
        if self.closed is not None:
            return defer.fail(self.closed)
        if self.pending:
            return defer.succeed(self.pending.pop(0))
        self._waiting = defer.Deferred()
        return self._waiting

    def close(self, exc: Exception | None = None) -> None:
        self.closed = exc or ChannelGone("hangup")
        if self._waiting is not None:
            d, self._waiting = self._waiting, None
            d.errback(self.closed)


def agi_env(sim, ch, args: list[str]) -> str:
    env = [
        ("agi_request", "async"), ("agi_channel", ch.name), ("agi_language", ch.language),
        ("agi_type", ch.tech), ("agi_uniqueid", ch.uniqueid), ("agi_version", sim.asterisk_version),
        ("agi_callerid", ch.caller_num if ch.caller_num != UNKNOWN else "unknown"),
        ("agi_calleridname", ch.caller_name if ch.caller_name != UNKNOWN else "unknown"),
        ("agi_callingpres", "0"), ("agi_callingani2", "0"), ("agi_callington", "0"), ("agi_callingtns", "0"),
        ("agi_dnid", ch.dnid or "unknown"), ("agi_rdnis", "unknown"), ("agi_context", ch.context),
        ("agi_extension", ch.exten), ("agi_priority", str(ch.priority)), ("agi_enhanced", "0.0"),
        ("agi_accountcode", ch.accountcode), ("agi_threadid", str(140000000000000 + id(ch) % 10**9)),
    ]
    env += [(f"agi_arg_{i}", a) for i, a in enumerate(args, 1)]
    text = "".join(f"{k}: {v}\n" for k, v in env) + "\n"
    return uri_encode(text)


@defer.inlineCallbacks
def run_async_agi(sim, ch, data: str):
    """The ``AGI(agi:async,args)`` application."""
    args = split_args(data)
    if not args or args[0] != "agi:async":
        sim.set_var(ch, "AGISTATUS", "FAILURE")
        return None
    session = AsyncAGISession()
    ch.agi = session
    sim.chan_event("AsyncAGIStart", "agi", ch, [("Env", agi_env(sim, ch, args[1:]))])
    status = "SUCCESS"
    try:
        while True:
            command, command_id = yield session.next()
            yield sim.sleep(ch, sim.agi_delay)
            sim._agi_seq += 1
            internal = str(100000000 + (sim._agi_seq * 7919) % 900000000)
            sim.chan_event("AGIExecStart", "agi", ch, [("CommandId", internal), ("Command", command)])
            outcome = yield execute(sim, ch, command)
            code, result = outcome
            failed = isinstance(outcome, CommandFailed)
            # RESULT_FAILURE (res_agi.c): AGIExecEnd says ResultCode -1 / Failure, the reply line
            # still reaches the client, and then the AsyncAGI session ends (AGISTATUS=FAILURE).
            sim.chan_event("AGIExecEnd", "agi", ch, [
                ("CommandId", internal), ("Command", command), ("ResultCode", "-1" if failed else str(code)),
                ("Result", "Failure" if failed else "Success" if code == 200 else result),
            ])
            line = f"{code} {result}\n"
            pairs = [("Result", uri_encode(line))]
            if command_id is not None:
                pairs.append(("CommandId", command_id))
            sim.chan_event("AsyncAGIExec", "agi", ch, pairs)
            if failed and outcome.cause is not None:
                raise outcome.cause   # the caller hung up, or a Redirect moved the channel, while it played
            if failed:
                status = "FAILURE"
                break
            verb = " ".join(tokenize(command)[:2]).upper()
            if verb == "ASYNCAGI BREAK":
                break
            if verb.startswith("HANGUP"):
                # the session ends, then a soft hang-up with no cause: Cause 0 on both Local halves [h04]
                ch.agi = None
                sim.chan_event("AsyncAGIEnd", "agi", ch)
                sim.hangup(ch, 0, request=True)
                gone = ChannelGone(ch.name)
                gone.agi_ended = True
                raise gone
    except ChannelGone as exc:
        if getattr(exc, "agi_ended", False):
            raise
        ch.agi = None
        if not ch.hungup:
            sim.hangup(ch, 16, request=True)
        sim.chan_event("AsyncAGIEnd", "agi", ch)
        raise
    except Redirected:
        ch.agi = None
        sim.chan_event("AsyncAGIEnd", "agi", ch)
        raise
    ch.agi = None
    sim.chan_event("AsyncAGIEnd", "agi", ch)
    sim.set_var(ch, "AGISTATUS", status)
    return None


class CommandFailed(tuple):
    """A command whose handler returned RESULT_FAILURE: its reply is sent, then res_agi ends the session
    (``cause``: the hang-up or Redirect that interrupted it, raised once the reply is out)."""

    def __new__(cls, code: int, text: str, cause: Exception | None = None):
        self = super().__new__(cls, (code, text))
        self.cause = cause
        return self


def tokenize(command: str) -> list[str]:
    """Split an AGI command line like Asterisk: blanks separate, quotes group."""
    out, cur, quoted, had = [], [], False, False
    for c in command:
        if c == '"':
            quoted = not quoted
            had = True
            continue
        if c in " \t" and not quoted:
            if cur or had:
                out.append("".join(cur))
            cur, had = [], False
            continue
        cur.append(c)
    if cur or had:
        out.append("".join(cur))
    return out


USAGE = (520, "Invalid command syntax.  Proper usage not available.")


@defer.inlineCallbacks
def execute(sim, ch, command: str):
    """Run one AGI command; returns ``(code, text)`` (text after the code)."""
    words = tokenize(command)
    upper = [w.upper() for w in words]
    head2 = " ".join(upper[:2])
    head3 = " ".join(upper[:3])
    if upper[:1] == ["ANSWER"]:
        answer(sim, ch)
        return 200, "result=0"
    if upper[:1] == ["NOOP"]:
        return 200, "result=0"
    if upper[:1] == ["VERBOSE"]:
        return 200, "result=1"
    if head2 == "ASYNCAGI BREAK":
        return 200, "result=0"
    if upper[:1] == ["HANGUP"]:
        return 200, "result=1"
    if head2 == "CHANNEL STATUS":
        return 200, f"result={ch.state}"
    if head2 == "SET VARIABLE":
        if len(words) < 4:
            return USAGE
        sim.set_var(ch, words[2], words[3])
        return 200, "result=1"
    if head3 == "GET FULL VARIABLE":
        if len(words) < 4:
            return USAGE
        return 200, f"result=1 ({sim.expand(ch, words[3])})"
    if head2 == "GET VARIABLE":
        if len(words) < 3:
            return USAGE
        name = words[2]
        value = sim.expand(ch, "${" + name + "}")
        known = name in ch.variables or name in sim.globals or "(" in name or name.upper() in ("UNIQUEID", "CHANNEL", "EXTEN", "CONTEXT")
        return (200, f"result=1 ({value})") if known else (200, "result=0")
    if head2 == "STREAM FILE":
        if len(words) < 4:
            return USAGE
        seconds = sim.sound_seconds(ch, words[2])
        if seconds is None:
            # handle_streamfile: "200 result=-1 endpos=0" and RESULT_FAILURE (the session ends)
            return CommandFailed(200, "result=-1 endpos=0")
        escape = words[3]
        started = sim.reactor.seconds()
        try:
            got = yield sim.sleep(ch, seconds, dtmf=bool(escape))
            while got is not None and got not in escape:
                left = seconds - (sim.reactor.seconds() - started) * sim.speed
                got = yield sim.sleep(ch, max(0.0, left), dtmf=True)
        except (ChannelGone, Redirected) as exc:
            # hung up or redirected mid-way: "200 result=-1 endpos=<samples played>", then the session
            # ends [real-Asterisk captures h03, h02]
            played = int((sim.reactor.seconds() - started) * sim.speed * 8000)
            return CommandFailed(200, f"result=-1 endpos={played}", exc)
        sim.set_var(ch, "PLAYBACKSTATUS", "SUCCESS")
        if got is not None:
            played = int((sim.reactor.seconds() - started) * sim.speed * 8000)
            return 200, f"result={ord(got)} endpos={played}"
        return 200, f"result=0 endpos={int(seconds * 8000)}"
    if head2 == "GET DATA":
        if len(words) < 3:
            return USAGE
        timeout = float(words[3]) / 1000 if len(words) > 3 and words[3].lstrip("-").isdigit() and int(words[3]) > 0 else 6.0
        max_digits = int(words[4]) if len(words) > 4 and words[4].isdigit() else 1024
        if words[2] and sim.sound_seconds(ch, words[2]) is None:
            return 200, "result=-1"  # ast_app_getdata_full: the prompt did not open; the session goes on
        digits, timed_out = yield collect_digits(sim, ch, [words[2]], max_digits, timeout)
        if timed_out:
            return 200, f"result={digits} (timeout)"
        return 200, f"result={digits}"
    if head3 == "WAIT FOR DIGIT":
        if len(words) < 4 or not words[3].lstrip("-").isdigit():
            return USAGE
        ms = int(words[3])
        sim.prompt_keys(ch)
        got = yield sim.sleep(ch, None if ms < 0 else ms / 1000, dtmf=True)
        return 200, f"result={ord(got) if got else 0}"
    if head2 in ("SAY DIGITS", "SAY NUMBER"):
        if len(words) < 4:
            return USAGE
        per = 0.4 if head2 == "SAY DIGITS" else 0.5
        got = yield sim.sleep(ch, per * max(1, len(words[2])), dtmf=bool(words[3]))
        return 200, f"result={ord(got) if got and got in words[3] else 0}"
    if head2 == "RECORD FILE":
        if len(words) < 6 or not words[5].lstrip("-").isdigit():
            return USAGE
        result = yield _record_file(sim, ch, words)
        return result
    if upper[:1] == ["EXEC"]:
        if len(words) < 2:
            return USAGE
        if words[1].lower() not in APPLICATIONS:
            return 200, "result=-2"
        app_args = " ".join(words[2:]) if len(words) > 2 else ""
        result = yield sim.exec_app(ch, words[1], app_args, newexten=False)
        if result is STOP or ch.hungup:
            raise ChannelGone(ch.name)
        if isinstance(result, tuple):
            raise Redirected(*result)
        return 200, "result=0"
    return 510, "Invalid or unknown command"


@defer.inlineCallbacks
def _record_file(sim, ch, words):
    """RECORD FILE: the caller's scripted speech becomes the recording."""
    filename, fmt, escape, timeout_ms = words[2], words[3], words[4], int(words[5])
    path = Path(filename)
    if not path.is_absolute():
        path = sim.spool_dir / "recordings" / filename
    path = path.with_name(path.name + "." + fmt)
    if fmt.lower() not in ("wav", "wav16", "sln"):
        return 200, "result=-1 (writefile)"
    if ".." in Path(filename).parts:
        return 200, "result=-1 (writefile)"
    source = sim.speech_source(ch)
    # a caller with nothing to say: Asterisk records silence until s=N seconds of it, an escape digit,
    # or the timeout [real-Asterisk capture h12]
    silence = next((int(w[2:]) for w in words[6:] if w.startswith("s=") and w[2:].isdigit()), None)
    seconds = float(silence) if silence else (timeout_ms / 1000 if timeout_ms > 0 else 1.0)
    if source is not None:
        import wave

        with wave.open(str(source), "rb") as w:
            seconds = w.getnframes() / float(w.getframerate())
    if timeout_ms > 0:
        seconds = min(seconds, timeout_ms / 1000)
    started = sim.reactor.seconds()
    try:
        got = yield sim.sleep(ch, seconds, dtmf=bool(escape))
    except ChannelGone:
        # Asterisk keeps what was recorded when the caller hangs up mid-message
        sim.write_speech(ch, path, (sim.reactor.seconds() - started) * sim.speed,
                         limit=(sim.reactor.seconds() - started) * sim.speed)
        raise
    sim.write_speech(ch, path, seconds, limit=seconds)
    if got is not None and got in escape:
        return 200, f"result={ord(got)} (dtmf) endpos={int(seconds * 8000)}"
    return 200, f"result=0 (timeout) endpos={int(seconds * 8000)}"
