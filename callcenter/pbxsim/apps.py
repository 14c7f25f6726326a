"""Dialplan applications the simulator executes, each registered here by name
(:mod:`callcenter.pbxsim.registry`).

Each application is ``app(sim, channel, data, extension)`` and returns None
(next priority), ``STOP`` (the channel is gone) or a ``(context, exten,
priority)`` jump, possibly through a Deferred.  They use only the
simulator's primitives, so events stay consistent.
"""
from __future__ import annotations

import logging

from twisted.internet import defer

from callcenter.pbxsim.agi import run_async_agi
from callcenter.pbxsim.audiosocket import play_to_listeners, run_audiosocket_app, stream_channel_audio
from callcenter.pbxsim.dialplan import split_args, truthy
from callcenter.pbxsim.legs import create_leg
from callcenter.pbxsim.model import STOP, ChannelGone
from callcenter.pbxsim.participants import ListeningPhone
from callcenter.pbxsim.registry import APPLICATIONS, application  # APPLICATIONS: as filled below
from callcenter.pbxsim.steps import answer, collect_digits

log = logging.getLogger(__name__)


def _float(text, default=0.0) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return default


def jump(sim, ch, target: str, extension) -> tuple:
    """Resolve ``label``, ``prio``, ``exten,prio`` or ``context,exten,prio``."""
    parts = [p.strip() for p in target.split(",")]
    context, exten = ch.context, ch.exten
    if len(parts) == 3:
        context, exten, prio = parts
    elif len(parts) == 2:
        exten, prio = parts
    else:
        prio = parts[0]
    if prio.isdigit():
        return (context, exten, int(prio))
    ext = sim.dialplan.find(context, exten) if (context, exten) != (ch.context, ch.exten) else extension
    found = ext.label(prio) if ext is not None else None
    if found is None:
        raise ValueError(f"no label {prio!r} in {context},{exten}")
    return (context, exten, found)


@application("NoOp")
def app_noop(sim, ch, data, ext):
    return None


@application("Answer")
def app_answer(sim, ch, data, ext):
    was = ch.state
    answer(sim, ch)
    originated = ch.peer is not None and ch.peer.application == "AppDial2"
    if ch.tech == "Local" and (was == 4 or (was == 5 and not originated)):
        # Asterisk waits up to 500 ms for the first media frame and a Local channel has none:
        # the captures show the next step 0.5 s after Answer(), except on an originated
        # channel that was already ringing (capture 15).
        return sim.sleep(ch, 0.5)


@application("Ringing")
def app_ringing(sim, ch, data, ext):
    sim.report_progress(ch, "ringing")


@application("Progress")
def app_progress(sim, ch, data, ext):
    return None


@application("Set")
def app_set(sim, ch, data, ext):
    name, _, value = data.partition("=")
    sim.set_var(ch, name.strip(), value)


@application("Wait")
def app_wait(sim, ch, data, ext):
    return sim.sleep(ch, _float(data))


@application("Hangup")
def app_hangup(sim, ch, data, ext):
    cause = int(data) if data.strip().isdigit() else 16
    sim.hangup(ch, cause, request=True)
    return STOP


@application("Busy")
@defer.inlineCallbacks
def app_busy(sim, ch, data, ext):
    ch.preset_cause = 17   # Busy() sets the cause first: a hang-up meanwhile keeps it [h10]
    sim.report_progress(ch, "busy")
    sim.newstate(ch, 7)
    yield sim.sleep(ch, _float(data, 10.0) or None)
    sim.hangup(ch, 17, request=True)
    return STOP


@application("Congestion")
@defer.inlineCallbacks
def app_congestion(sim, ch, data, ext):
    ch.preset_cause = 34
    sim.report_progress(ch, "congestion")
    yield sim.sleep(ch, _float(data, 10.0) or None)
    sim.hangup(ch, 34, request=True)
    return STOP


@application("Playback")
@defer.inlineCallbacks
def app_playback(sim, ch, data, ext):
    files = split_args(data)[0].split("&")
    answer(sim, ch)
    for f in files:
        seconds = sim.sound_seconds(ch, f)
        if seconds is None:
            # app_playback: a warning, PLAYBACKSTATUS=FAILED, and the dialplan goes on
            sim.set_var(ch, "PLAYBACKSTATUS", "FAILED")
            return None
        play_to_listeners(sim, ch, seconds)
        yield sim.sleep(ch, seconds)
    sim.set_var(ch, "PLAYBACKSTATUS", "SUCCESS")


@application("SendDTMF")
@defer.inlineCallbacks
def app_senddtmf(sim, ch, data, ext):
    args = split_args(data)
    digits = args[0]
    target = ch.peer if ch.peer is not None else None
    if target is None and ch.bridge is not None:
        others = [c for c in ch.bridge.channels if c is not ch]
        target = others[0] if others else None
    if digits and target is not None and not target.hungup:
        yield sim.send_dtmf(ch, target, digits)


@application("Echo")
@defer.inlineCallbacks
def app_echo(sim, ch, data, ext):
    answer(sim, ch)
    while True:
        digit = yield sim.sleep(ch, None, dtmf=True)
        if digit is None:
            continue
        sim.chan_event("DTMFBegin", "dtmf", ch, [("Digit", digit), ("Direction", "Sent")])
        sim.chan_event("DTMFEnd", "dtmf", ch, [("Digit", digit), ("DurationMs", "100"), ("Direction", "Sent")])
        if ch.peer is not None and not ch.peer.hungup:
            sim.send_dtmf(ch, ch.peer, digit)
        if digit == "#":
            return None


@application("Read")
@defer.inlineCallbacks
def app_read(sim, ch, data, ext):
    args = split_args(data) + [""] * 6
    var, prompt, maxd, _opts, _attempts, timeout = args[:6]
    answer(sim, ch)
    digits, timed_out = yield collect_digits(sim, ch, prompt.split("&"), int(maxd or 255) or 255,
                                             _float(timeout, 5.0) or 5.0)
    sim.set_var(ch, var, digits)
    sim.set_var(ch, "READSTATUS", "TIMEOUT" if timed_out and not digits else "OK")


@application("UserEvent")
def app_userevent(sim, ch, data, ext):
    args = split_args(data)
    pairs = [("UserEvent", args[0])]
    for item in args[1:]:
        key, sep, value = item.partition(":")
        if sep:
            pairs.append((key.strip(), value.strip()))
    sim.chan_event("UserEvent", "user", ch, pairs)


@application("GotoIf")
def app_gotoif(sim, ch, data, ext):
    cond, _, targets = data.partition("?")
    yes, _, no = targets.partition(":")
    target = yes if truthy(cond) else no
    if not target:
        return None
    return jump(sim, ch, target, ext)


@application("Goto")
def app_goto(sim, ch, data, ext):
    return jump(sim, ch, data, ext)


@application("ExecIf")
def app_execif(sim, ch, data, ext):
    cond, _, rest = data.partition("?")
    if not truthy(cond):
        return None
    app, _, args = rest.partition("(")
    return sim.exec_app(ch, app.strip(), args[:-1] if args.endswith(")") else args, ext, newexten=False)


@application("MixMonitor")
def app_mixmonitor(sim, ch, data, ext):
    args = split_args(data)
    start_mixmonitor(sim, ch, args[0], args[1] if len(args) > 1 else "")


def start_mixmonitor(sim, ch, filename: str, options: str = "") -> None:
    path = sim.recording_path(filename or f"{ch.uniqueid}.wav")
    sim.set_var(ch, "MIXMONITOR_FILENAME", str(path))
    ch.mixmonitor = {"path": path, "options": options, "muted": set()}
    sim.chan_event("MixMonitorStart", "call", ch)


def stop_mixmonitor(sim, ch) -> bool:
    if ch.mixmonitor is None:
        return False
    sim._finish_recording(ch)
    sim.chan_event("MixMonitorStop", "call", ch)
    return True


@application("StopMixMonitor")
def app_stopmixmonitor(sim, ch, data, ext):
    stop_mixmonitor(sim, ch)


@application("MusicOnHold")
@defer.inlineCallbacks
def app_musiconhold(sim, ch, data, ext):
    args = split_args(data) + [""]
    answer(sim, ch)
    sim.chan_event("MusicOnHoldStart", "call", ch, [("Class", args[0] or "default")])
    try:
        yield sim.sleep(ch, _float(args[1]) or None)
    finally:
        if not ch.hungup:
            sim.chan_event("MusicOnHoldStop", "call", ch)


@application("SimPSTN")
@defer.inlineCallbacks
def app_simpstn(sim, ch, data, ext):
    """A citizen's phone as scripted with ``add_pstn`` (unscripted: rings out)."""
    entry = sim.pstn.get(data.strip())
    behaviour = entry.behaviour if entry else "noanswer"
    if behaviour == "busy":
        result = yield app_busy(sim, ch, "10", ext)
        return result
    if behaviour == "congestion":
        result = yield app_congestion(sim, ch, "10", ext)
        return result
    sim.report_progress(ch, "ringing")
    if behaviour == "noanswer":
        yield sim.sleep(ch, 3600)
        return None
    yield sim.sleep(ch, entry.answer_after)
    answer(sim, ch)
    if entry.digits and ch.peer is not None:
        # the citizen listens and presses the key once the menu asks (PBXSimulator.prompt_keys)
        ch.peer.participant = ListeningPhone(ch, entry.digits, entry.digit_after, entry.hangup_after)
        yield sim.sleep(ch, None)
        return None
    yield sim.sleep(ch, entry.hangup_after)
    return None


# -- Dial ---------------------------------------------------------------------

#: set by Dial, in Asterisk's order: blank when it starts, seconds and milliseconds when a bridge ends
_DIAL_TIMES = ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS")


@application("Dial")
@defer.inlineCallbacks
def app_dial(sim, ch, data, ext):
    args = split_args(data) + ["", ""]
    targets = [t for t in args[0].split("&") if t]
    timeout = _float(args[1]) or None
    options = args[2]
    start = sim.reactor.seconds()
    status = "CHANUNAVAIL"
    callee = None
    # Asterisk blanks the previous Dial's times first (capture 06), so a dialplan
    # testing ${ANSWEREDTIME} after this Dial never sees an earlier call's answer.
    for name in _DIAL_TIMES:
        sim.set_var(ch, name, "")
    if targets:
        callee = create_leg(sim, ch, targets[0])
    if callee is not None:
        sim.emit("DialBegin", "call", ch.snapshot(sim.channelvars) + callee.snapshot(sim.channelvars, "Dest")
                 + [("DialString", targets[0].split("/", 1)[1])])

        def ringing():
            sim.chan_event("DialState", "call", ch, [("DialStatus", "RINGING")], dest=callee)

        callee.on_ringing = ringing
        outcome = yield ring_or_leave(sim, ch, callee, timeout)
        status = {"answer": "ANSWER", "busy": "BUSY", "congestion": "CONGESTION",
                  "noanswer": "NOANSWER", "hangup": "NOANSWER", "cancel": "CANCEL"}[outcome]
        sim.chan_event("DialEnd", "call", ch, [("DialStatus", status)], dest=callee)
        if status == "ANSWER" and getattr(callee.participant, "drop_on_answer", False):
            sim.hangup(callee, 16)  # the answered leg is gone before the bridge
        if status != "ANSWER":
            # a ring timeout: app_dial hangs the unanswered leg up without a cause (0) [real-Asterisk
            # capture h02]; busy/congestion keep theirs
            cause = {"BUSY": 17, "CONGESTION": 34}.get(status, 0 if outcome == "noanswer" else
                                                        19 if status == "NOANSWER" else 16)
            if status == "CANCEL" and ch.hungup and ch.cause is not None:
                cause = ch.cause   # the caller's own hang-up cause reaches the leg it was dialling [h09]
            elif callee.tech == "Local" and status in ("BUSY", "CONGESTION"):
                cause = 0   # the Local leg itself has no cause; its partner keeps Busy()'s 17 [h10]
            sim.hangup(callee, cause)
        if status == "CANCEL":
            left, ch.left_with = ch.left_with, None
            left.raiseException()       # ChannelGone or Redirected
    if ch.hungup:
        raise ChannelGone(ch.name)
    sim.set_var(ch, "DIALSTATUS", status)
    if status == "ANSWER":
        answer(sim, ch)
        ch.dial_peer = callee
        sim.set_var(ch, "DIALEDPEERNAME", callee.name)
        sim.set_var(ch, "DIALEDPEERNUMBER", targets[0].split("/", 1)[1])
        if callee.hungup:
            # Asterisk cannot bridge a peer that is gone: DIALSTATUS stays ANSWER, ANSWEREDTIME
            # (set when a bridge ends) stays empty, and "g" goes on in the dialplan.
            if "g" not in options:
                sim.hangup(ch, 16)
                return STOP
            return None
        sim.bridge(ch, callee)
        talk_limit = None
        if ch.participant is not None and getattr(ch.participant, "talk_seconds", None) is not None:
            talk_limit = ch.participant.talk_seconds
        try:
            yield sim.sleep(ch, talk_limit)
        except ChannelGone:
            if not callee.hungup:
                sim.hangup(callee, 16)
            raise
        if talk_limit is not None and ch.bridge is not None:
            sim.hangup(ch, 16)
            raise ChannelGone(ch.name)
        now = sim.reactor.seconds()
        answered, dialed = now - (callee.answered_at or now), now - start
        for name, value in zip(_DIAL_TIMES, (int(answered), int(answered * 1000), int(dialed), int(dialed * 1000))):
            sim.set_var(ch, name, str(value))
        if "g" not in options:
            sim.hangup(ch, 16)
            return STOP
    return None


@defer.inlineCallbacks
def ring_or_leave(sim, ch, callee, timeout):
    """Ring ``callee`` while watching the dialling channel: 'cancel' if it leaves
    (hangs up or is redirected) first — the phone stops ringing at once."""
    ring = sim.ring(callee, timeout)
    watch = sim.sleep(ch, None)
    try:
        first = yield defer.DeferredList([ring, watch], fireOnOneCallback=True, fireOnOneErrback=True,
                                         consumeErrors=True)
    except defer.FirstError as e:
        # hanging the callee up (by the caller of this function) also settles ``ring``
        ch.left_with = e.subFailure
        return "cancel"
    sim._cancel_waiter(ch)
    return first[0]


# -- AGI, Queue and AudioSocket run in their own rooms; ChanSpy ------------------

@application("AGI")
def app_agi(sim, ch, data, ext):
    return run_async_agi(sim, ch, data)


@application("Queue")
def app_queue(sim, ch, data, ext):
    return sim.queues.run(ch, data)


@application("AudioSocket")
def app_audiosocket(sim, ch, data, ext):
    return run_audiosocket_app(sim, ch, data)


@application("ChanSpy")
@defer.inlineCallbacks
def app_chanspy(sim, ch, data, ext):
    """Listen to (or whisper/barge into) a channel: the spy ends with the target."""
    args = split_args(data) + [""]
    prefix, options = args[0], args[1]
    target = None
    for c in sim.channels.values():
        if c.name.startswith(prefix) and c is not ch:
            target = c
            break
    if target is None:
        return None
    answer(sim, ch)
    sim.emit("ChanSpyStart", "call", ch.snapshot(sim.channelvars, "Spyer")
             + target.snapshot(sim.channelvars, "Spyee"))
    done = defer.Deferred()

    def gone(_c):
        if not done.called:
            done.callback(None)

    target.on_hangup.append(gone)
    if ch.tech == "AudioSocket":
        stream_channel_audio(sim, ch, target)
    watch = sim.sleep(ch, None)
    try:
        yield defer.DeferredList([done, watch], fireOnOneCallback=True, fireOnOneErrback=True, consumeErrors=True)
    except defer.FirstError as e:
        e.subFailure.raiseException()
    finally:
        if gone in target.on_hangup:
            target.on_hangup.remove(gone)
    if not ch.hungup:
        sim.emit("ChanSpyStop", "call", ch.snapshot(sim.channelvars, "Spyer")
                 + target.snapshot(sim.channelvars, "Spyee"))
        # with a single spied channel, q/E/w/B all end when it is gone
        sim.hangup(ch, 16)
    return STOP
