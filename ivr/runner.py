"""Running flows on live calls over AsyncAGI.

One :class:`IvrSession` per channel, created by ``AsyncAGIStart`` whose first
argument names one of our flows (``AGI(agi:async,ivr)``; other arguments such
as ``requeue`` belong to other services and are left alone).  A session loops:
engine commands → AGI commands via ``AMIClient.agi`` → results → engine
events, until the flow transfers, hangs up, or the caller disappears.

The IVR hands over in one of two ways:

- with ``on_transfer(call, queue, skill, priority)`` wired, the ACD takes the
  caller, still inside the AsyncAGI session (hold music, announcements);
- without it, the IVR sets ``IVR_ACTION=queue`` and ``IVR_QUEUE``/``IVR_SKILL``/
  ``IVR_PRIORITY`` and ends its AGI (``ASYNCAGI BREAK``) so the dialplan queues.

Hang-up mid-flow, a vanished channel, a lost AMI connection or a command that
never answers all end the session and remove it; nothing is kept per call
after that.  Every call's path (nodes, keys, timings) is on :class:`IvrCall`
and handed to ``on_finished(call)`` for reports.
"""
from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from twisted.internet import defer

from callcenter.clock import now_from
from callcenter.personal_data import mask_phone
from ivr import agi
from ivr.engine import (
    CallState, CollectDigits, Engine, Failure, Hangup, HangupSeen, Lookup, Outcome, Play, Record, Recorded,
    RequestCallback, Result, SetVar, Speech, SubmitMessage, Transfer, Understand,
)
from ivr.flow import Flow
from ivr.library import FlowLibrary
from ivr.prompts import dynamic_sound_name, prompt_sound_name
from ivr.sounds import check_pbx_sounds_dir

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000


@dataclass
class IvrCall:
    """What the rest of the service learns about one caller's IVR visit."""

    channel: str
    uniqueid: str
    linkedid: str
    caller: str
    caller_name: str
    flow: str
    started_at: datetime
    vars: dict[str, str] = field(default_factory=dict)
    lang: str = "zh"
    outcome: str | None = None  # transfer | hangup | caller_hangup | error | vanished | lost
    ended_at: datetime | None = None
    path: list[dict[str, Any]] = field(default_factory=list)
    queue: str | None = None

    @property
    def masked_caller(self) -> str:
        return mask_phone(self.caller)

    # The ACD's view of a call (``call_id``, ``number``, ``language``).
    @property
    def call_id(self) -> str:
        return self.uniqueid

    @property
    def number(self) -> str:
        return self.caller

    @property
    def language(self) -> str:
        return self.lang


class _Gone(Exception):
    """The channel or the AMI session went away; ``outcome`` says how."""

    def __init__(self, outcome: str):
        self.outcome = outcome
        super().__init__(outcome)


class IvrSession:
    def __init__(self, call: IvrCall, flow: Flow, engine: Engine):
        self.call = call
        self.flow = flow
        self.engine = engine
        self.state: CallState | None = None
        self.closed = False
        self.seq = itertools.count(1)
        self.checkpoint = ""
        #: distinguishes an adopted session's CommandIDs from those of the session before it (whose
        #: last command may still answer after the reconnect)
        self.tag = ""


def _blocking_inline(fn, *args):
    return defer.maybeDeferred(fn, *args)


class IvrRunner:
    """Sessions for every channel that enters one of the library's flows."""

    #: seconds beyond a command's own duration before a silent channel is given up
    command_grace = 120.0
    #: longest prompt we expect; STREAM FILE gets this plus the grace
    max_prompt_seconds = 60.0
    #: beyond this many live sessions new calls go straight to the dialplan's queue
    max_sessions = 2000
    #: seconds of silence that end a recorded message
    record_silence = 5
    #: ``understand(call, recording, lang) -> Deferred[dict | None]`` for ``describe`` nodes: transcribe
    #: and propose a work order (:class:`callcenter.asr.intake.SpeechIntake`); None: callers use keys
    understand: Callable | None = None

    def __init__(self, ami, library: FlowLibrary, *, clock, sounds_dir: str | Path,
                 recordings_dir: str | Path, is_open: Callable[[datetime], bool] = lambda now: True,
                 is_restricted: Callable[[str, datetime], bool] = lambda caller, now: False,
                 lookup: Callable | None = None, lookup_by_caller: Callable | None = None,
                 on_transfer: Callable | None = None,
                 on_message: Callable | None = None, on_callback: Callable | None = None,
                 on_outcome: Callable | None = None, on_finished: Callable | None = None,
                 recognizer: Callable | None = None, tts=None, run_blocking: Callable | None = None,
                 pbx_sounds_dir: str | None = None, caller_screen=None):
        self.ami = ami
        self.library = library
        self.clock = clock
        self.sounds_dir = Path(sounds_dir).resolve()
        # ``sounds_dir`` as Asterisk names it: relative to its own sounds directory
        # ("hotline" for a volume mounted at sounds/hotline), never this process's path.
        self.pbx_sounds_dir = check_pbx_sounds_dir(pbx_sounds_dir)
        self.recordings_dir = Path(recordings_dir).resolve()
        self.is_open = is_open
        # the list behind the flows' ``screen`` nodes (callcenter.screening.CallerScreen): it answers
        # from memory and is started and stopped with the runner
        self.caller_screen = caller_screen
        self.is_restricted = caller_screen.is_restricted if caller_screen is not None else is_restricted
        self.lookup = lookup
        self.lookup_by_caller = lookup_by_caller
        self.on_transfer = on_transfer
        self.on_message = on_message
        self.on_callback = on_callback
        self.on_outcome = on_outcome
        self.on_finished = on_finished
        self.recognizer = recognizer
        self.tts = tts
        self.run_blocking = run_blocking or _blocking_inline
        self.sessions: dict[str, IvrSession] = {}
        #: sessions whose AMI link dropped while the caller was still in the PBX: adopted again after
        #: the reconnect (:meth:`adopt`), or ended when the channel is gone (:meth:`settle_orphans`)
        self.orphans: dict[str, IvrSession] = {}
        self._adoptions = 0
        self.finished = 0
        self._subscription = None

    # ----------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self.caller_screen is not None:
            self.caller_screen.start()
        missing = self.missing_prompts()
        if missing:
            log.error("prompt audio missing; run `callcenter ivr prompts build` (callers hearing nothing go to "
                      "an agent)", extra={"fields": {"missing": len(missing), "first": str(missing[0])}})
        self._subscription = self.ami.subscribe(self._event, names=("AsyncAGIStart", "AsyncAGIEnd", "Hangup"))

    def _can_understand(self) -> bool:
        return self.understand is not None

    def missing_prompts(self) -> list[Path]:
        """Rendered prompt files the flows need but the sounds directory lacks."""
        from ivr.prompts import catalogue

        wanted = (self.sounds_dir / f"{entry.name}.wav" for entry in catalogue(self.library.flows.values()))
        return [path for path in wanted if not path.exists()]

    def stop(self) -> None:
        if self.caller_screen is not None:
            self.caller_screen.stop()
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None

    def _event(self, message) -> None:
        name = message.name
        channel = message.get("Channel") or ""
        if name == "AsyncAGIStart":
            self._agi_start(message, channel)
            return
        session = self.sessions.get(channel)
        if session is not None and not session.closed:
            session.closed = True  # any pending command fails via the AMI client; the loop ends
            session.call.outcome = session.call.outcome or "caller_hangup"

    def _agi_start(self, message, channel: str) -> None:
        from callcenter.ami.events import parse_agi_env

        env = parse_agi_env(message.get("Env"))
        arg = env.get("agi_arg_1", "")
        flow = self.library.get(arg)
        if flow is None:
            return  # not an IVR flow (e.g. the ACD's requeue)
        old = self.sessions.get(channel)
        if old is not None:
            old.closed = True
            old.call.outcome = old.call.outcome or "vanished"
        now = now_from(self.clock)
        caller = env.get("agi_callerid", "")
        caller = caller if re.fullmatch(r"\+?[0-9*#]{1,32}", caller or "") else ""
        call = IvrCall(channel=channel, uniqueid=env.get("agi_uniqueid") or message.get("Uniqueid") or "",
                       linkedid=message.get("Linkedid") or "", caller=caller,
                       caller_name=env.get("agi_calleridname", ""), flow=flow.name, started_at=now,
                       lang=flow.default_language)
        if len(self.sessions) >= self.max_sessions:
            log.warning("IVR full; caller sent to the dialplan queue",
                        extra={"fields": {"channel": channel, "sessions": len(self.sessions)}})
            self.ami.agi(channel, agi.BREAK, command_id=f"ivr-{call.uniqueid}-full").addErrback(lambda f: None)
            return
        session = IvrSession(call, flow, Engine(flow, self.is_open, self.is_restricted, self._can_understand))
        self.sessions[channel] = session
        log.info("IVR session started", extra={"fields": {"channel": channel, "flow": flow.name,
                                                          "caller": call.masked_caller}})
        self._run(session).addErrback(self._crashed, session)

    # ------------------------------------------------------------- the loop

    @defer.inlineCallbacks
    def _run(self, session: IvrSession, resume: tuple | None = None):
        call = session.call
        try:
            for name in session.flow.channel_vars:
                result = yield self._agi(session, agi.get_full_variable(name), self.command_grace)
                if result.code == 200 and result.result == "1" and result.data:
                    call.vars[name] = result.data
            if resume is not None:
                node, lang = resume
                state, commands = session.engine.resume(session.state, call.caller, now_from(self.clock),
                                                        dict(call.vars), node, lang)
            else:
                state, commands = session.engine.start(call.caller, now_from(self.clock), dict(call.vars))
            session.state = state
            call.lang = state.lang
            while True:
                event = yield self._execute(session, commands)
                if session.closed and not (isinstance(event, Recorded) and event.hung_up):
                    event = HangupSeen()
                if event is None:
                    break
                state, commands = session.engine.step(session.state, event, now_from(self.clock))
                session.state = state
                call.lang, call.vars = state.lang, dict(state.vars)
                if state.done and not commands:
                    break
        except _Gone as gone:
            if gone.outcome == "lost" and not session.closed:
                self._orphan(session)  # the caller is still in the PBX: adopted again after the reconnect
                return
            if session.state is not None:
                session.state, _ = session.engine.step(session.state, HangupSeen(), now_from(self.clock))
            call.outcome = call.outcome if call.outcome not in (None, "transfer", "hangup") else gone.outcome
            if gone.outcome in ("vanished", "lost"):
                call.outcome = gone.outcome
        self._finish(session)

    # ------------------------------------------------------- re-adoption

    #: channel variable holding where a caller waits for input: ``flow|node|lang`` (set by AMI Setvar, so
    #: it belongs to the channel and any later controller can read it)
    CHECKPOINT = "HOTLINE_IVR"

    #: write the checkpoint (``build_runner`` turns it on for serve and demo; the capture tests
    #: replay Asterisk's exact AGI exchange, which has no Setvar in it)
    checkpoints = False

    def _checkpoint(self, session: IvrSession) -> None:
        if not self.checkpoints:
            return
        state = session.state
        if state is None or state.node is None:
            return
        value = f"{session.flow.name}|{state.node}|{state.lang}"
        if session.checkpoint == value:
            return
        session.checkpoint = value
        self.ami.setvar(self.CHECKPOINT, value, channel=session.call.channel).addErrback(lambda f: None)

    def _orphan(self, session: IvrSession) -> None:
        if self.sessions.get(session.call.channel) is session:
            del self.sessions[session.call.channel]
        self.orphans[session.call.channel] = session
        log.warning("IVR session lost its AMI link; kept for re-adoption",
                    extra={"fields": {"channel": session.call.channel, "node": session.state.node
                                      if session.state else None}})

    def adopt(self, channel: str, *, flow: str, uniqueid: str = "", linkedid: str = "", caller: str = "",
              caller_name: str = "", checkpoint: str = "") -> bool:
        """Drive a caller parked in ``AGI(agi:async,<flow>)`` that no session of ours drives — after an
        AMI reconnect, or one a previous controller left — from the safe node of ``checkpoint``
        (``flow|node|lang``: the input node they were at, its prompt again), else the flow's start.
        Returns False when the channel already has a session or the flow is not ours."""
        if channel in self.sessions:
            return False
        old = self.orphans.pop(channel, None)
        flow_obj = self.library.get(flow)
        if flow_obj is None:
            if old is not None:
                self.orphans[channel] = old
            return False
        node, lang = None, None
        parts = checkpoint.split("|") if checkpoint else []
        if len(parts) == 3 and parts[0] == flow:
            node, lang = parts[1], parts[2]
        if old is not None and old.flow.name == flow:
            call, state = old.call, old.state
        else:
            caller = caller if re.fullmatch(r"\+?[0-9*#]{1,32}", caller or "") else ""
            call = IvrCall(channel=channel, uniqueid=uniqueid, linkedid=linkedid, caller=caller,
                           caller_name=caller_name, flow=flow, started_at=now_from(self.clock),
                           lang=lang or flow_obj.default_language)
            state = None
        session = IvrSession(call, flow_obj,
                             Engine(flow_obj, self.is_open, self.is_restricted, self._can_understand))
        session.state = state
        self._adoptions += 1
        session.tag = f"-r{self._adoptions}"
        self.sessions[channel] = session
        log.info("IVR session adopted", extra={"fields": {"channel": channel, "flow": flow, "node": node,
                                                          "caller": call.masked_caller}})
        self._run(session, resume=(node, lang)).addErrback(self._crashed, session)
        return True

    def settle_orphans(self, live_channels) -> int:
        """End the kept sessions whose channel is gone (the caller hung up while the link was down)."""
        ended = 0
        for channel, session in list(self.orphans.items()):
            if channel not in live_channels:
                del self.orphans[channel]
                self.sessions[channel] = session
                session.call.outcome = "caller_hangup"
                self._finish(session)
                ended += 1
        return ended

    def _crashed(self, failure, session: IvrSession) -> None:
        """A bug, not the caller: end the session and let the dialplan queue the caller."""
        log.error("IVR session failed", extra={"fields": {"channel": session.call.channel,
                                                          "error": failure.getErrorMessage()}})
        caller_still_there = not session.closed
        session.call.outcome = "error"
        self._finish(session)
        if caller_still_there:
            self.ami.agi(session.call.channel, agi.BREAK,
                         command_id=f"ivr-{session.call.uniqueid}-abort").addErrback(lambda f: None)

    def _finish(self, session: IvrSession) -> None:
        call = session.call
        if self.sessions.get(call.channel) is session:
            del self.sessions[call.channel]
        else:
            return
        state = session.state
        if state is not None:
            call.path = state.path_report()
            call.lang = state.lang
            call.vars = dict(state.vars)
            if call.outcome is None:
                call.outcome = state.outcome
        call.ended_at = now_from(self.clock)
        session.closed = True
        self.finished += 1
        log.info("IVR session ended", extra={"fields": {"channel": call.channel, "flow": call.flow,
                                                        "outcome": call.outcome,
                                                        "path": state.path_summary() if state else ""}})
        if self.on_finished is not None:
            self._hook("on_finished", self.on_finished, call).addErrback(lambda f: None)

    def _hook(self, name: str, fn, *args) -> defer.Deferred:
        d = defer.maybeDeferred(fn, *args)

        def failed(f):
            log.error("IVR hook failed", extra={"fields": {"hook": name, "error": f.getErrorMessage()}})
            return f

        return d.addErrback(failed)

    # ------------------------------------------------------------ commands

    @defer.inlineCallbacks
    def _agi(self, session: IvrSession, command: str, timeout: float):
        """Send one AGI command; raise :class:`_Gone` if the caller or AMI is gone."""
        from callcenter.ami.errors import AGIError, AMIActionError, AMIConnectionLost, AMINotConnected, AMITimeout

        if session.closed:
            raise _Gone("caller_hangup")
        command_id = f"ivr-{session.call.uniqueid or 'x'}{session.tag}-{next(session.seq)}"
        try:
            result = yield self.ami.agi(session.call.channel, command, command_id=command_id, timeout=timeout)
        except AGIError:
            raise _Gone("caller_hangup") from None
        except AMIActionError:
            raise _Gone("vanished") from None  # "Channel X does not exist."
        except AMITimeout:
            raise _Gone("vanished") from None
        except (AMIConnectionLost, AMINotConnected):
            raise _Gone("lost") from None
        if agi.is_dead_channel(result):
            raise _Gone("caller_hangup")
        return result

    @defer.inlineCallbacks
    def _execute(self, session: IvrSession, commands: list):
        """Run a batch; return the event answering its input command (or a
        Failure), or ``None`` when the batch ended the IVR."""
        grace = self.command_grace
        for command in commands:
            if isinstance(command, Play):
                try:
                    sound = yield self._sound(session, command)
                except Exception as exc:  # TTS failure: the engine recovers via on_error
                    log.error("prompt unavailable", extra={"fields": {"prompt": command.prompt, "error": str(exc)}})
                    return Failure(0, "prompt unavailable")
                result = yield self._agi(session, agi.stream_file(sound), self.max_prompt_seconds + grace)
                if agi.failure(result):
                    return agi.failure(result)
            elif isinstance(command, CollectDigits):
                self._checkpoint(session)
                sound = yield self._sound(session, Play(command.prompt, command.lang))
                result = yield self._agi(session, agi.get_data(sound, command.timeout, command.max_digits),
                                         self.max_prompt_seconds + command.timeout + grace)
                return agi.digits_event(result)
            elif isinstance(command, SetVar):
                result = yield self._agi(session, agi.set_variable(command.name, command.value), grace)
                if agi.failure(result):
                    return agi.failure(result)
            elif isinstance(command, Record):
                event = yield self._record(session, command)
                return event
            elif isinstance(command, Understand):
                heard = None
                if self.understand is not None:
                    try:
                        heard = yield self._hook("understand", self.understand, session.call, command.recording,
                                                 command.lang)
                    except Exception:
                        log.exception("understanding the caller failed; falling back to keys")
                        heard = None
                return Result(heard if isinstance(heard, dict) else None)
            elif isinstance(command, SubmitMessage):
                # Awaited, so "your message is saved" is only said once it is; a failure is logged.
                if self.on_message is not None:
                    yield self._hook("on_message", self.on_message, session.call,
                                     command.recording).addErrback(lambda f: None)
            elif isinstance(command, Outcome):
                if self.on_outcome is not None:
                    yield self._hook("on_outcome", self.on_outcome, session.call, command.name,
                                     command.value).addErrback(lambda f: None)
            elif isinstance(command, RequestCallback):
                ok = False
                if self.on_callback is not None:
                    try:
                        ok = bool((yield self._hook("on_callback", self.on_callback, session.call, command.number,
                                                    command.queue, command.skill, command.priority)))
                    except Exception:
                        ok = False
                return Result(ok)
            elif isinstance(command, Lookup):
                status = None
                name, hook, arg = (("lookup_by_caller", self.lookup_by_caller, command.caller) if command.caller
                                   else ("lookup", self.lookup, command.order_number))
                if hook is not None:
                    try:
                        status = yield self._hook(name, hook, arg)
                    except Exception:
                        status = None
                return Result(status)
            elif isinstance(command, Speech):
                self._checkpoint(session)
                sound = yield self._sound(session, Play(command.prompt, command.lang))
                result = yield self._agi(session, agi.stream_file(sound), self.max_prompt_seconds + grace)
                if agi.failure(result):
                    return agi.failure(result)
                text = None
                if self.recognizer is not None:
                    try:
                        text = yield self._hook("recognizer", self.recognizer, session.call, command.words,
                                                command.timeout)
                    except Exception:
                        text = None
                    text = text if isinstance(text, str) else None
                return Result(text)
            elif isinstance(command, Transfer):
                yield self._transfer(session, command)
                return None
            elif isinstance(command, Hangup):
                yield self._end(session, [agi.set_variable("IVR_ACTION", "hangup")])
                return None
            else:  # pragma: no cover - a new command kind without a runner branch
                raise TypeError(f"no AGI mapping for {command!r}")
        return None

    @defer.inlineCallbacks
    def _end(self, session: IvrSession, commands: list[str]):
        for command in commands:
            yield self._agi(session, command, self.command_grace)
        try:
            yield self._agi(session, agi.BREAK, self.command_grace)
        except _Gone:
            pass  # the channel left the AGI; nothing more to do

    @defer.inlineCallbacks
    def _transfer(self, session: IvrSession, command: Transfer):
        call = session.call
        call.queue = command.queue
        if self.on_transfer is not None:
            try:
                yield self._hook("on_transfer", self.on_transfer, call, command.queue, command.skill,
                                 command.priority)
                return  # the ACD owns the channel now, still in AsyncAGI
            except Exception:
                pass  # the dialplan's own queueing is the safety net
        sets = [agi.set_variable("IVR_ACTION", "queue"), agi.set_variable("IVR_QUEUE", command.queue),
                agi.set_variable("IVR_PRIORITY", str(command.priority))]
        if command.skill:
            sets.append(agi.set_variable("IVR_SKILL", command.skill))
        yield self._end(session, sets)

    @defer.inlineCallbacks
    def _record(self, session: IvrSession, command: Record):
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        safe_id = re.sub(r"[^A-Za-z0-9.]", "_", session.call.uniqueid or "call")
        base = self.recordings_dir / f"ivr-{safe_id}-{command.name}"
        started = self.clock.seconds()
        try:
            result = yield self._agi(session, agi.record_file(str(base), command.max_seconds,
                                                                     command.silence or self.record_silence),
                                     command.max_seconds + self.command_grace)
        except _Gone as gone:
            if gone.outcome != "caller_hangup":
                raise
            # Hanging up is how most callers finish a message: keep it.
            return self._recorded(base, round(self.clock.seconds() - started, 1), hung_up=True)
        seconds = (result.endpos or 0) / SAMPLE_RATE
        if result.code == 200 and result.result == "-1" and result.data == "hangup":
            return self._recorded(base, seconds, hung_up=True)
        fail = agi.failure(result)
        if fail:
            return fail
        return self._recorded(base, seconds)

    def _recorded(self, base: Path, seconds: float, hung_up: bool = False) -> Recorded:
        """The message as the engine sees it; a file we cannot see is no message
        (the recordings directory must be shared with the PBX)."""
        wav = base.with_name(base.name + ".wav")
        if seconds > 0 and not wav.exists():
            log.error("recording not found; is ivr.recordings_dir shared with the PBX?",
                      extra={"fields": {"path": str(wav)}})
            seconds = 0.0
        return Recorded(str(wav), seconds, hung_up=hung_up)

    @defer.inlineCallbacks
    def _sound(self, session: IvrSession, play: Play):
        """The sound to play: an Asterisk sound name, a built prompt, or text rendered now."""
        if play.text is not None:
            name = dynamic_sound_name(play.text, play.lang)
            wav = self.sounds_dir / f"{name}.wav"
            if not wav.exists():
                if self.tts is None:
                    raise RuntimeError("no text-to-speech configured for read-back prompts")
                yield self.run_blocking(self.tts.render, play.text, play.lang, wav)
            return f"{self.pbx_sounds_dir}/{name}"
        prompt = session.flow.prompts[play.prompt]
        if prompt.sound:
            return prompt.sound
        return f"{self.pbx_sounds_dir}/{prompt_sound_name(session.flow.name, prompt.id, play.lang)}"
