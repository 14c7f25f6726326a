"""The PBX: channels, their life cycle and the events Asterisk 22 would send.

:class:`PBXSimulator` owns every channel, bridge, queue and AMI session.
Applications (:mod:`callcenter.pbxsim.apps`) and AMI actions
(:mod:`callcenter.pbxsim.actions`) call the primitives here — ``new_channel``,
``set_var``, ``answer``, ``hangup``, ``sleep``, ``bridge`` — which keep the
model consistent and emit the matching events.  All time comes from the
injected reactor (``speed`` > 1 runs the scripted world faster).
"""
from __future__ import annotations

import logging
from collections import deque
import os
import random
import tempfile
import wave
from importlib import resources
from pathlib import Path

from twisted.internet import defer

from callcenter.pbxsim.apps import APPLICATIONS
from callcenter.pbxsim.audiosocket import AudioSocketClient
from callcenter.pbxsim.dialplan import Dialplan, LAB_QUEUES, hotline_dialplan, lab_dialplan, substitute
from callcenter.pbxsim.media import read_slin
from callcenter.pbxsim.model import CAUSE_TEXT, STOP, UNKNOWN, Bridge, Channel, ChannelGone, Redirected
from callcenter.pbxsim.participants import CallerScript, Device, ListeningPhone, PSTNNumber, ScriptError
from callcenter.pbxsim.queues import QueueManager
from callcenter.pbxsim.server import AMIServerFactory
from callcenter.pbxsim.wire import encode

log = logging.getLogger(__name__)


class _Waiter:
    __slots__ = ("deferred", "call", "dtmf")

    def __init__(self, deferred, call, dtmf):
        self.deferred, self.call, self.dtmf = deferred, call, dtmf


class PBXSimulator:
    """An Asterisk 22 stand-in speaking AMI on loopback (see package docs)."""

    ami_version = "11.0.0"
    asterisk_version = "22.10.1"
    version_line = (
        "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-23 07:51:16 UTC"
    )
    channelvars = ("HOTLINE_CALLID", "WORKORDER")
    #: login failures are answered after this delay, like Asterisk (manager.c)
    auth_failure_delay = 1.0
    dtmf_duration = 0.1
    dtmf_gap = 0.25
    agi_delay = 0.1
    default_prompt_seconds = 1.0
    #: ended channels kept in ``calls_log`` (a long demo must not grow without bound)
    calls_log_limit = 10_000
    prompt_seconds = {"beep": 3404 / 8000, "hello-world": 1.36, "auth-thankyou": 0.9}
    #: Asterisk's core sounds (asterisk-core-sounds-en, listed in core-sounds.txt), present on an install
    #: with them: played without a file.  Any other sound must exist as a file, or playing it fails
    #: exactly as on Asterisk (see :meth:`sound_seconds`).
    core_sounds = frozenset(
        line for line in resources.files("callcenter.pbxsim").joinpath("core-sounds.txt").read_text("utf-8").splitlines()
        if not line.startswith("#"))
    #: file formats Asterisk can play here (format_wav, format_gsm, format_pcm, format_sln, format_g722)
    sound_formats = ("wav", "WAV", "wav16", "gsm", "sln", "sln16", "ulaw", "alaw", "g722")

    def __init__(self, reactor, *, users=None, spool_dir=None, speed: float = 1.0,
                 dialplan: str | Dialplan = "hotline", queues=None, sounds_dir=None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.reactor = reactor
        self.speed = float(speed)
        self.users = dict(users or {"hotline": "hotline-secret"})
        self.spool_dir = Path(spool_dir) if spool_dir else Path(tempfile.mkdtemp(prefix="pbxsim-spool-"))
        # Asterisk's sounds directory (``<astdatadir>/sounds``): relative sound names are looked up here.
        # None: only the core sounds exist, as on an Asterisk with nothing added.
        self.sounds_dir = Path(sounds_dir) if sounds_dir else None
        if isinstance(dialplan, Dialplan):
            self.dialplan = dialplan
        elif dialplan == "lab":
            self.dialplan = lab_dialplan()
        elif dialplan == "hotline":
            self.dialplan = hotline_dialplan()
        else:
            raise ValueError("dialplan is 'hotline', 'lab' or a Dialplan")
        self.globals: dict[str, str] = dict(self.dialplan.globals)
        self.started = reactor.seconds()
        self.sessions: list = []
        self._channels: dict[str, Channel] = {}
        self._device_use: dict[str, int] = {}
        self.calls_log: deque[dict] = deque(maxlen=self.calls_log_limit)
        self.created_channels: deque[str] = deque(maxlen=4 * self.calls_log_limit)
        self.devices: dict[str, Device] = {}
        self.pstn: dict[str, PSTNNumber] = {}
        self.device_states: dict[str, str] = {}
        self._uid_seq = 0
        self._chan_seq = 0
        self._agi_seq = 0
        self.processed_calls = 0
        self.queues = QueueManager(self)
        if queues is None and dialplan == "lab":
            queues = LAB_QUEUES
        for name, conf in (queues or {}).items():
            self.queues.configure(name, **conf)

    # -- read-only introspection ------------------------------------------
    @property
    def channels(self) -> dict[str, Channel]:
        """Live channels by name (a copy; mutate through actions only)."""
        return dict(self._channels)

    def find_channel(self, name: str) -> Channel | None:
        return self._channels.get(name)

    def new_challenge(self) -> str:
        """A fresh MD5 login challenge (Asterisk uses a random number)."""
        return str(random.randint(100000000, 999999999))

    # -- sounds ----------------------------------------------------------------
    def sound_file(self, ch: Channel, name: str) -> Path | None:
        """The file Asterisk would open for sound ``name`` on ``ch`` (None: "does not exist in any format").

        As ``ast_openstream``: an absolute name is taken as it is; a relative one is looked
        up in ``<sounds>/<language>/``, then ``<sounds>/``, then ``<sounds>/en/``; the name
        carries no extension and every known format is tried.
        """
        if not name or "\0" in name:
            return None
        path = Path(name)
        if path.is_absolute():
            candidates = [path]
        elif self.sounds_dir is None or ".." in path.parts:
            return None
        else:
            lang = ch.language or "en"
            candidates = [self.sounds_dir / lang / name, self.sounds_dir / name]
            if lang != "en":
                candidates.append(self.sounds_dir / "en" / name)
        for base in candidates:
            for fmt in self.sound_formats:
                found = base.with_name(f"{base.name}.{fmt}")
                if found.is_file():
                    return found
        return None

    def sound_seconds(self, ch: Channel, name: str) -> float | None:
        """How long sound ``name`` plays on ``ch``; None when Asterisk would not find it."""
        if name in self.prompt_seconds:
            return self.prompt_seconds[name]
        if name in self.core_sounds:
            return self.default_prompt_seconds
        found = self.sound_file(ch, name)
        if found is None:
            log.warning("File %s does not exist in any format", name)  # Asterisk's own words (file.c)
            return None
        if found.suffix.lower() == ".wav":
            try:
                with wave.open(str(found), "rb") as w:
                    return w.getnframes() / float(w.getframerate() or 8000)
            except (wave.Error, EOFError, OSError):
                return None  # Asterisk cannot open a broken file either
        return self.default_prompt_seconds

    # -- serving -------------------------------------------------------------
    def listen(self, port: int = 0, interface: str = "127.0.0.1"):
        """Serve AMI; fires with the ``IListeningPort``."""
        from twisted.internet.endpoints import TCP4ServerEndpoint

        return TCP4ServerEndpoint(self.reactor, port, interface=interface).listen(AMIServerFactory(self))

    # -- scripting -------------------------------------------------------------
    def add_device(self, name: str, answer_after=1.0, talk_seconds=None, drop_on_answer=False) -> Device:
        """An agent phone reachable as ``name`` (``PJSIP/1001``)."""
        device = Device(name, answer_after, talk_seconds, drop_on_answer)
        self.devices[name] = device
        self.set_device_state(name, "NOT_INUSE")
        return device

    def add_pstn(self, number: str, behaviour: str = "answer", answer_after: float = 2.0,
                 digits: str = "", digit_after: float = 2.0, hangup_after: float = 10.0) -> PSTNNumber:
        """A citizen's phone for callbacks (``Local/<number>@hotline-pstn``)."""
        entry = PSTNNumber(number, behaviour, answer_after, digits, digit_after, hangup_after)
        self.pstn[number] = entry
        return entry

    def dial_in(self, caller_num: str, exten: str = "12345", caller_name: str | None = None,
                script: CallerScript | None = None, context: str = "hotline-in", tech: str = "PJSIP") -> Channel:
        """A citizen calls ``exten``: an inbound trunk channel runs ``context``.

        ``tech``: the trunk's channel driver, named as Asterisk names it -- ``PJSIP/trunk-0000001a``
        or ``IAX2/citizens-trunk-878`` (the user name, then the call number).
        """
        if tech not in ("PJSIP", "IAX2"):
            raise ScriptError("tech is PJSIP or IAX2", tech=tech)
        for value in (caller_num, exten, caller_name or ""):
            if any(c in value for c in "\r\n"):
                raise ScriptError("caller data must not contain CR or LF")
        if not caller_num or not exten:
            raise ScriptError("caller_num and exten are required")
        if self.dialplan.find(context, exten) is None:
            raise ScriptError("no such extension in the dialplan", context=context, exten=exten)
        script = script or CallerScript()
        seq = self._next_chan()
        name = f"PJSIP/trunk-{seq:08x}" if tech == "PJSIP" else f"IAX2/citizens-trunk-{2 + seq % 32766}"
        ch = self.new_channel(name, context, exten, state=4, tech=tech, caller=(caller_num, caller_name or UNKNOWN))
        ch.participant = script
        ch.dnid = exten
        ch.connected_num, ch.connected_name = caller_num, caller_name or UNKNOWN
        self.start_dialplan(ch)
        return ch

    # -- time ------------------------------------------------------------------
    def later(self, seconds: float, fn, *args):
        return self.reactor.callLater(max(0.0, seconds) / self.speed, fn, *args)

    def whole_seconds(self, since: float) -> int:
        """``time(NULL) - start`` as app_queue counts hold and talk time: the difference of the two
        instants' whole seconds (a talk from 11.9 to 18.1 is 7 s, from 11.1 to 17.9 is 6 s)."""
        return int(self.reactor.seconds() * self.speed) - int(since * self.speed)

    def sleep(self, ch: Channel, seconds: float | None, dtmf: bool = False):
        """Wait on ``ch``: fires None after ``seconds`` (never if None), a digit
        if ``dtmf`` and one arrives, or whatever ``wake`` passes; fails with
        ChannelGone/Redirected."""
        if ch.hungup:
            return defer.fail(ChannelGone(ch.name))
        self._cancel_waiter(ch)
        d = defer.Deferred()
        call = None
        if seconds is not None:
            call = self.later(seconds, self.wake, ch, None)
        ch.waiter = _Waiter(d, call, dtmf)
        return d

    def wake(self, ch: Channel, value=None) -> None:
        w = ch.waiter
        if w is None:
            return
        ch.waiter = None
        if w.call is not None and w.call.active():
            w.call.cancel()
        w.deferred.callback(value)

    def interrupt(self, ch: Channel, exc: Exception) -> None:
        w = ch.waiter
        if w is None:
            ch.pending_interrupt = exc
            return
        ch.waiter = None
        if w.call is not None and w.call.active():
            w.call.cancel()
        w.deferred.errback(exc)

    def _cancel_waiter(self, ch: Channel) -> None:
        w = ch.waiter
        if w is not None and w.call is not None and w.call.active():
            w.call.cancel()
        ch.waiter = None

    # -- events ------------------------------------------------------------------
    def emit(self, name: str, privilege: str | None, pairs) -> None:
        """Send an event to every logged-in session that wants its class."""
        head = [("Event", name)]
        if privilege is not None:
            head.append(("Privilege", f"{privilege},all"))
        message = head + list(pairs)
        data = None
        for session in list(self.sessions):
            if session.wants(privilege):
                if data is None:        # encoded once, however many sessions listen
                    data = encode(message)
                session.deliver_event(privilege, message, data)

    def chan_event(self, name: str, privilege: str, ch: Channel, extra=(), dest: Channel | None = None) -> None:
        pairs = ch.snapshot(self.channelvars)
        if dest is not None:
            pairs += dest.snapshot(self.channelvars, "Dest")
        pairs += list(extra)
        self.emit(name, privilege, pairs)

    def dest_event(self, name: str, dest: Channel, extra=()) -> None:
        self.emit(name, "call", dest.snapshot(self.channelvars, "Dest") + list(extra))

    def set_device_state(self, device: str, state: str) -> None:
        if self.device_states.get(device) != state:
            self.device_states[device] = state
            self.emit("DeviceStateChange", "call", [("Device", device), ("State", state)])

    # -- channels ------------------------------------------------------------------
    def _next_chan(self) -> int:
        seq = self._chan_seq
        self._chan_seq += 1
        return seq

    def new_uniqueid(self) -> str:
        uid = f"{int(self.reactor.seconds())}.{self._uid_seq}"
        self._uid_seq += 1
        return uid

    def new_channel(self, name: str, context: str, exten: str, *, state: int = 0, tech: str = "Local",
                    caller=(UNKNOWN, UNKNOWN), linkedid: str | None = None, emit: bool = True) -> Channel:
        uid = self.new_uniqueid()
        ch = Channel(name=name, uniqueid=uid, linkedid=linkedid or uid, context=context, exten=exten,
                     state=state, tech=tech, created=self.reactor.seconds())
        ch.caller_num, ch.caller_name = caller
        self._channels[name] = ch
        self._device_use[ch.device] = self._device_use.get(ch.device, 0) + 1
        self.created_channels.append(name)
        if emit:
            self.chan_event("Newchannel", "call", ch)
        return ch

    def set_var(self, ch: Channel | None, name: str, value: str, emit: bool = True) -> None:
        """Set a channel variable (or a global when ``ch`` is None), with VarSet."""
        value = "" if value is None else str(value)
        if ch is None:
            self.globals[name] = value
            if emit:
                self.emit("VarSet", "dialplan", [("Channel", "none"), ("Uniqueid", "none"),
                                                 ("Variable", name), ("Value", value)])
            return
        bare = name.lstrip("_")
        if name.startswith("__"):
            ch.inherit[bare] = "__"
        elif name.startswith("_"):
            ch.inherit[bare] = "_"
        if bare.upper() == "CDR(USERFIELD)":
            ch.cdr_userfield = value
            return
        ch.variables[bare] = value
        if emit:
            self.chan_event("VarSet", "dialplan", ch, [("Variable", name), ("Value", value)])

    def inherit_into(self, parent: Channel, child: Channel) -> None:
        for name, mode in parent.inherit.items():
            value = parent.variables.get(name, "")
            if mode == "__":
                self.set_var(child, "__" + name, value)
            else:
                self.set_var(child, name, value)

    def get_var(self, ch: Channel | None, name: str, arg: str | None = None) -> str:
        """Variables and the functions the dialplans use (CALLERID, CDR, …)."""
        if ch is None:
            return self.globals.get(name, "")
        upper = name.upper()
        if arg is not None:
            a = arg.lower()
            if upper == "CALLERID":
                num = ch.caller_num if ch.caller_num != UNKNOWN else ""
                cname = ch.caller_name if ch.caller_name != UNKNOWN else ""
                if a in ("num", "number"):
                    return num
                if a == "name":
                    return cname
                if a == "all":
                    return f'"{cname}" <{num}>' if cname else f"<{num}>"
                return ""
            if upper == "CDR":
                return ch.cdr_userfield if a == "userfield" else ""
            if upper == "CONNECTEDLINE":
                return ch.connected_num if a.startswith("num") else ch.connected_name
            if upper == "CHANNEL":
                return {"name": ch.name, "uniqueid": ch.uniqueid, "linkedid": ch.linkedid,
                        "state": ch.state_desc}.get(a, "")
            return ""
        special = {
            "UNIQUEID": ch.uniqueid, "CHANNEL": ch.name, "EXTEN": ch.exten, "CONTEXT": ch.context,
            "PRIORITY": str(ch.priority), "LINKEDID": ch.linkedid,
        }
        if upper in special:
            return special[upper]
        if name in ch.variables:
            return ch.variables[name]
        return self.globals.get(name, "")

    def expand(self, ch: Channel | None, text: str) -> str:
        return substitute(text, lambda name, arg: self.get_var(ch, name, arg))

    def newstate(self, ch: Channel, state: int) -> None:
        if ch.state == state or ch.hungup:
            return
        ch.state = state
        if state == 6 and ch.answered_at is None:
            ch.answered_at = self.reactor.seconds()
        self.chan_event("Newstate", "call", ch)
        if state in (5, 6):
            busy = "INUSE" if state == 6 else "RINGING"
            self.set_device_state(ch.device, busy)

    def set_callerid(self, ch: Channel, num: str, name: str) -> None:
        ch.caller_num, ch.caller_name = num or UNKNOWN, name or UNKNOWN
        self.chan_event("NewCallerid", "call", ch, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])

    def set_connected(self, ch: Channel, num: str, name: str) -> None:
        ch.connected_num, ch.connected_name = num or UNKNOWN, name or UNKNOWN
        self.chan_event("NewConnectedLine", "call", ch)

    # -- progress of outgoing legs ----------------------------------------------
    def outward(self, ch: Channel) -> Channel:
        """The channel a dialer sees: ``;1`` for a Local pair, else itself."""
        if ch.tech == "Local" and ch.name.endswith(";2") and ch.peer is not None:
            return ch.peer
        return ch

    def report_progress(self, ch: Channel, kind: str) -> None:
        """An endpoint rang, answered, was busy … (tell whoever dialled it)."""
        if ch.hungup and kind not in ("hangup",):
            return
        out = self.outward(ch)
        if kind == "ringing":
            if ch.state not in (5, 6):
                self.newstate(ch, 5)
            if out is not ch and out.state not in (5, 6):
                out.state = 5
        elif kind == "answer":
            self.newstate(ch, 6)
            if out is not ch:
                self.newstate(out, 6)
        listener = out.progress_listener
        if listener is not None:
            listener(kind)

    def ring(self, callee: Channel, timeout: float | None):
        """Fires with 'answer', 'busy', 'congestion', 'hangup' or 'noanswer'."""
        d = defer.Deferred()
        state = {"done": False}

        def finish(kind):
            if state["done"]:
                return
            if kind == "ringing":
                if callee.on_ringing is not None:
                    callee.on_ringing()
                return
            state["done"] = True
            callee.progress_listener = None
            if timer is not None and timer.active():
                timer.cancel()
            d.callback(kind)

        timer = self.later(timeout, finish, "noanswer") if timeout else None
        callee.progress_listener = finish
        return d

    # -- hangup ----------------------------------------------------------------
    def hangup(self, ch: Channel, cause: int = 16, *, soft: bool = True, request: bool = False) -> None:
        """End ``ch``: hangup-request events, bridge leave, Hangup, Cdr, and its Local peer."""
        if ch.hungup:
            return
        if soft:
            self.chan_event("SoftHangupRequest", "call", ch, [("Cause", str(cause))])
        if request:
            self.chan_event("HangupRequest", "call", ch, [("Cause", str(cause))])
        ch.hungup = True
        ch.cause = cause
        self.interrupt(ch, ChannelGone(ch.name))
        if ch.agi is not None:
            ch.agi.close()
        if ch.bridge is not None:
            self.leave_bridge(ch)
        if ch.progress_listener is not None:
            listener, ch.progress_listener = ch.progress_listener, None
            listener("hangup")
        out = self.outward(ch)
        if out is not ch and out.progress_listener is not None:
            listener, out.progress_listener = out.progress_listener, None
            listener("hangup")
        self.chan_event("Hangup", "call", ch, [("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))])
        self._cdr(ch)
        self._channels.pop(ch.name, None)
        device = ch.device
        left = self._device_use.get(device, 1) - 1
        if left <= 0:
            self._device_use.pop(device, None)
            self.set_device_state(device, "NOT_INUSE")
        else:
            self._device_use[device] = left
        if ch.mixmonitor is not None:
            self._finish_recording(ch)
        for hook in list(ch.on_hangup):
            hook(ch)
        self.calls_log.append({
            "channel": ch.name, "uniqueid": ch.uniqueid, "linkedid": ch.linkedid,
            "caller": ch.caller_num, "context": ch.context, "exten": ch.exten,
            "answered": ch.answered_at is not None, "cause": cause,
            "duration": round(self.reactor.seconds() - ch.created, 3),
            "variables": dict(ch.variables),
        })
        if ch.peer is not None and not ch.peer.hungup:
            # the partner of a Local half: normal clearing (16) and no answer (19) carry over, any other
            # cause (busy 17, congestion 34, none) leaves it with 0 [captures 13, 16; h02, h09, h10]
            self.later(0, self.hangup, ch.peer,
                       getattr(ch.peer, "preset_cause", None) or (cause if cause in (16, 19) else 0))
        if ch.tech != "Local" or ch.name.endswith(";2"):
            self.processed_calls += 1

    def _cdr(self, ch: Channel) -> None:
        from datetime import datetime, timezone

        def fmt(t):
            return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if t else ""

        now = self.reactor.seconds()
        answered = ch.answered_at
        peer = ch.dial_peer.name if ch.dial_peer is not None else ""
        cid = f'"{ch.caller_name}" <{ch.caller_num}>' if ch.caller_name != UNKNOWN else ch.caller_num
        self.emit("Cdr", "cdr", [
            ("AccountCode", ch.accountcode), ("Source", ch.caller_num if ch.caller_num != UNKNOWN else ""),
            ("Destination", ch.exten), ("DestinationContext", ch.context), ("CallerID", cid),
            ("Channel", ch.name), ("DestinationChannel", peer), ("LastApplication", ch.last_app),
            ("LastData", ch.last_data), ("StartTime", fmt(ch.created)), ("AnswerTime", fmt(answered)),
            ("EndTime", fmt(now)), ("Duration", str(int(now - ch.created))),
            ("BillableSeconds", str(int(now - answered)) if answered else "0"),
            ("Disposition", "ANSWERED" if answered else {17: "BUSY", 34: "CONGESTION"}.get(ch.cause, "NO ANSWER")),
            ("AMAFlags", "DOCUMENTATION"), ("UniqueID", ch.uniqueid), ("UserField", ch.cdr_userfield),
        ])

    # -- bridges ----------------------------------------------------------------
    def bridge(self, a: Channel, b: Channel) -> Bridge:
        br = Bridge()
        self.emit("BridgeCreate", "call", br.fields())
        for ch in (b, a):
            br.channels.append(ch)
            ch.bridge = br
            self.emit("BridgeEnter", "call", br.fields() + ch.snapshot(self.channelvars))
        self.set_var(a, "BRIDGEPEER", b.name)
        self.set_var(b, "BRIDGEPEER", a.name)
        return br

    def leave_bridge(self, ch: Channel) -> None:
        br = ch.bridge
        if br is None:
            return
        ch.bridge = None
        if ch in br.channels:
            br.channels.remove(ch)
        self.emit("BridgeLeave", "call", br.fields() + ch.snapshot(self.channelvars))
        others = list(br.channels)
        for other in others:
            other.bridge = None
            br.channels.remove(other)
            self.emit("BridgeLeave", "call", br.fields() + other.snapshot(self.channelvars))
        self.emit("BridgeDestroy", "call", br.fields())
        for other in others:
            self.wake(other, "bridge-ended")
            if other.waiter is None and not other.hungup and not other.running:
                # a dialled leg with no dialplan of its own ends with its bridge
                self.later(0, self.hangup, other, 16)

    # -- DTMF ----------------------------------------------------------------------
    def send_dtmf(self, sender: Channel | None, target: Channel, digits: str, duration: float | None = None,
                  gap: float | None = None):
        """Play ``digits`` into ``target`` (Received); fires when all were played."""
        duration = self.dtmf_duration if duration is None else duration
        gap = self.dtmf_gap if gap is None else gap
        d = defer.Deferred()
        digits = list(digits)

        def begin():
            if not digits or target.hungup:
                d.callback(None)
                return
            digit = digits[0]
            self.chan_event("DTMFBegin", "dtmf", target, [("Digit", digit), ("Direction", "Received")])
            self.later(duration, end, digit)

        def end(digit):
            digits.pop(0)
            if target.hungup:
                d.callback(None)
                return
            self.chan_event("DTMFEnd", "dtmf", target, [("Digit", digit), ("DurationMs", str(int(duration * 1000))),
                                                        ("Direction", "Received")])
            self.deliver_digit(target, digit)
            if digits:
                self.later(max(0.0, gap - duration), begin)
            else:
                d.callback(None)

        begin()
        return d

    def deliver_digit(self, ch: Channel, digit: str) -> None:
        w = ch.waiter
        if w is not None and w.dtmf:
            self.wake(ch, digit)
        elif ch.dtmf_sink is not None:
            ch.dtmf_sink(digit)
        elif ch.bridge is not None:
            # a bridge passes DTMF on to the other side (Direction Sent there) [capture 19]
            for other in ch.bridge.channels:
                if other is ch or other.hungup:
                    continue
                self.chan_event("DTMFBegin", "dtmf", other, [("Digit", digit), ("Direction", "Sent")])
                self.chan_event("DTMFEnd", "dtmf", other, [("Digit", digit), ("DurationMs", str(int(self.dtmf_duration * 1000))),
                                                           ("Direction", "Sent")])
                if isinstance(other.participant, AudioSocketClient):
                    other.participant.send_dtmf(digit)
                elif other.tech == "Local" and other.peer is not None and not other.peer.hungup:
                    # what a Local half is sent, its partner receives [real-Asterisk capture h08]
                    self.chan_event("DTMFEnd", "dtmf", other.peer, [
                        ("Digit", digit), ("DurationMs", str(int(self.dtmf_duration * 1000))), ("Direction", "Received")])
                    self.deliver_digit(other.peer, digit)

    def prompt_keys(self, ch: Channel) -> None:
        """A prompt reads digits: a scripted caller answers with its next keys."""
        script = ch.participant
        if isinstance(script, ListeningPhone) and script.digits:
            digits, script.digits, phone = script.digits, "", script.phone

            def press():
                if not ch.hungup and not phone.hungup:
                    self.send_dtmf(phone, ch, digits)
                    self.later(script.hangup_after, lambda: None if phone.hungup else self.hangup(phone, 16))

            self.later(script.delay, press)
            return
        if isinstance(script, CallerScript) and script.keys:
            keys = script.keys.pop(0)
            if keys:
                self.later(script.key_delay, lambda: None if ch.hungup else self.send_dtmf(None, ch, keys))

    # -- dialplan execution ------------------------------------------------------------
    def start_dialplan(self, ch: Channel) -> None:
        ch.running = True
        self.reactor.callLater(0, self._run_logged, ch)

    def _run_logged(self, ch):
        d = self.run_dialplan(ch)
        d.addErrback(lambda f: log.error("dialplan crashed on %s: %s", ch.name, f.getTraceback()))

    @defer.inlineCallbacks
    def run_dialplan(self, ch: Channel):
        """Execute ``ch``'s dialplan from where it stands until it hangs up."""
        self._on_start(ch)
        while not ch.hungup:
            pending, ch.pending_interrupt = ch.pending_interrupt, None
            if isinstance(pending, Redirected):
                ch.context, ch.exten, ch.priority = pending.context, pending.exten, pending.priority
            ext = self.dialplan.find(ch.context, ch.exten)
            step = ext.step(ch.priority) if ext is not None else None
            if step is None:
                self.hangup(ch, 16)
                break
            data = self.expand(ch, step.data)
            result = yield self.exec_app(ch, step.app, data, extension=ext)
            if result is STOP:
                break
            if isinstance(result, tuple):
                ch.context, ch.exten, ch.priority = result
                continue
            if not ch.hungup:
                ch.priority += 1
        ch.running = False

    @defer.inlineCallbacks
    def exec_app(self, ch: Channel, app: str, data: str, extension=None, newexten: bool = True):
        """Run one application; returns STOP, a (context, exten, priority) jump or None."""
        if newexten:
            self.chan_event("Newexten", "dialplan", ch, [("Extension", ch.exten), ("Application", app),
                                                          ("AppData", data)])
        ch.application, ch.appdata = app, data
        ch.last_app, ch.last_data = app, data
        impl = APPLICATIONS.get(app.lower())
        if impl is None:
            log.warning("application %s is not simulated; hanging up %s", app, ch.name)
            self.hangup(ch, 16, request=True)
            return STOP
        try:
            result = yield defer.maybeDeferred(impl, self, ch, data, extension)
        except Redirected as r:
            return (r.context, r.exten, r.priority)
        except ChannelGone:
            return STOP
        if ch.hungup:
            return STOP
        return result

    def redirect(self, ch: Channel, context: str, exten: str, priority: int) -> None:
        """Move ``ch`` (what the Redirect action does)."""
        if ch.bridge is not None:
            # a dialled leg without dialplan of its own ends with the bridge (leave_bridge)
            self.leave_bridge(ch)
        exc = Redirected(context, exten, priority)
        agi = ch.agi
        if agi is not None:
            # Closing the AGI runs the dialplan on synchronously, so decide first which
            # wait to break: a running AGI command (EXEC MusicOnHold …) or the queue wait.
            if ch.waiter is not None:
                agi.closed = exc
                self.interrupt(ch, exc)
            else:
                agi.close(exc)
        elif ch.running:
            self.interrupt(ch, exc)
        else:
            ch.context, ch.exten, ch.priority = context, exten, priority
            self.start_dialplan(ch)

    # -- scripted inbound callers ------------------------------------------------------
    def _on_start(self, ch: Channel) -> None:
        script = ch.participant
        if not isinstance(script, CallerScript) or ch.script_started:
            return
        ch.script_started = True
        if script.hangup_after is not None:
            self.later(script.hangup_after, self._caller_hangs_up, ch)
        if script.patience is not None:
            self.later(script.patience, self._caller_impatient, ch)
        for after, digits in script.dtmf:
            self.later(float(after), lambda dg=digits: None if ch.hungup else self.send_dtmf(None, ch, dg))

    def _caller_hangs_up(self, ch: Channel) -> None:
        if not ch.hungup:
            self.hangup(ch, 16)

    def _caller_impatient(self, ch: Channel) -> None:
        if ch.hungup:
            return
        if ch.bridge is not None and any(c.tech == "PJSIP" and c is not ch for c in ch.bridge.channels):
            return
        self.hangup(ch, 16)

    # -- recordings ------------------------------------------------------------------
    def recording_path(self, filename: str) -> Path:
        path = Path(filename)
        if not path.is_absolute():
            path = self.spool_dir / "monitor" / filename
        return path

    def _finish_recording(self, ch: Channel) -> None:
        rec, ch.mixmonitor = ch.mixmonitor, None
        if rec is None:
            return
        self.write_speech(ch, rec["path"])

    def speech_source(self, ch: Channel) -> Path | None:
        """The WAV a channel's caller speaks (its own script, or its Local partner's)."""
        for c in (ch, ch.peer):
            if c is not None and isinstance(c.participant, CallerScript) and c.participant.speech_wav:
                return Path(c.participant.speech_wav)
        if ch.bridge is not None:
            for c in ch.bridge.channels:
                if c is not ch and isinstance(c.participant, CallerScript) and c.participant.speech_wav:
                    return Path(c.participant.speech_wav)
        return None

    def write_speech(self, ch: Channel, path: Path, seconds: float = 0.5, limit: float | None = None) -> Path:
        """Write the caller's speech (or ``seconds`` of silence) as an 8 kHz WAV,
        cut to ``limit`` seconds if given."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        source = self.speech_source(ch)
        tmp = path.with_name(path.name + ".part")
        if source is not None:
            frames = read_slin(source)
        else:
            frames = b"\x00\x00" * int(8000 * seconds)
        if limit is not None:
            frames = frames[: 2 * int(8000 * limit)]
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(frames)
        os.replace(tmp, path)
        return path

