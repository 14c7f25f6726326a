"""Outgoing legs: the channel a dial string makes, and how an agent phone acts on it.

``Dial()``, ``Queue()`` and the ``Originate`` action place calls through
:func:`create_leg` (``PJSIP/…`` phones, ``Local/exten@context`` pairs,
``AudioSocket/host:port/uuid``); an ``Originate`` of a Local channel makes its
pair with :func:`local_pair` directly.
"""
from __future__ import annotations

from callcenter.pbxsim.audiosocket import audiosocket_leg
from callcenter.pbxsim.model import UNKNOWN


def create_leg(sim, caller, target: str):
    """The outgoing channel for a dial string, or None if it cannot exist."""
    tech, _, rest = target.partition("/")
    if tech == "PJSIP":
        device = sim.devices.get(target.split("@")[0])
        if device is None:
            return None
        ch = sim.new_channel(f"{target}-{sim._next_chan():08x}", caller.context, caller.exten, tech="PJSIP",
                             caller=(caller.caller_num, caller.caller_name), linkedid=caller.linkedid)
        sim.inherit_into(caller, ch)
        ch.connected_num, ch.connected_name = caller.caller_num, caller.caller_name
        ch.participant = device
        start_device(sim, ch, device)
        return ch
    if tech == "Local":
        exten, _, context = rest.split("/")[0].partition("@")
        if not sim.dialplan.exists(context, exten):
            # Asterisk makes the pair, finds no such extension when calling, and destroys both (cause 0):
            # the Dial is CHANUNAVAIL, with no DialBegin [real-Asterisk capture h07]
            if context in sim.dialplan.contexts:
                one, two = local_pair(sim, exten, context, caller=(caller.caller_num, caller.caller_name),
                                      linkedid=caller.linkedid, parent=caller)
                sim.hangup(two, 0, soft=False)
                sim.hangup(one, 0, soft=False)
            return None
        one, two = local_pair(sim, exten, context, caller=(caller.caller_num, caller.caller_name),
                              linkedid=caller.linkedid, parent=caller)
        sim.start_dialplan(two)
        return one
    if tech == "AudioSocket":
        return audiosocket_leg(sim, caller, rest)
    return None


def start_device(sim, ch, device) -> None:
    """Act out an agent phone: ring, then answer / never / busy; hang up after talk_seconds."""
    if device.busy:
        sim.later(0.05, sim.report_progress, ch, "busy")
        return
    sim.later(0.05, sim.report_progress, ch, "ringing")
    if device.answer_after is None:
        return

    def answered():
        if ch.hungup:
            return
        sim.report_progress(ch, "answer")
        if device.talk_seconds is not None:
            sim.later(device.talk_seconds, lambda: None if ch.hungup else sim.hangup(ch, 16))

    sim.later(float(device.answer_after), answered)


def local_pair(sim, exten: str, context: str, *, caller=(UNKNOWN, UNKNOWN), linkedid=None, parent=None,
               variables=(), originate=False):
    """A ``Local/exten@context`` pair: ``;1`` faces the dialler, ``;2`` runs the dialplan."""
    seq = sim._next_chan()
    base = f"Local/{exten}@{context}-{seq:08x}"
    one = sim.new_channel(base + ";1", context, exten, state=0, linkedid=linkedid)
    two = sim.new_channel(base + ";2", context, exten, state=4, linkedid=linkedid or one.linkedid)
    one.peer, two.peer = two, one
    if parent is not None:
        one.exten = parent.exten
    one.application = one.last_app = "AppDial2" if originate else "AppQueue"
    one.appdata = one.last_data = "(Outgoing Line)"
    sim.chan_event("Newexten", "dialplan", one, [("Extension", one.exten), ("Application", one.application),
                                                  ("AppData", one.appdata)])
    for var, value in reversed(variables):
        sim.set_var(one, var, value)
    if parent is not None:
        sim.inherit_into(parent, one)
    num, name = caller
    if num != UNKNOWN or name != UNKNOWN:
        sim.set_callerid(one, num, name)
        sim.set_connected(one, num, name)
    for var, value in variables:   # not ``name``: that is the caller ID name used below
        sim.set_var(two, var, value)
    if parent is not None:
        sim.inherit_into(parent, two)
    if num != UNKNOWN or name != UNKNOWN:
        two.connected_num, two.connected_name = num, name
        sim.set_callerid(two, num, name)
        sim.set_connected(two, num, name)
    sim.emit("LocalBridge", "call", one.snapshot(sim.channelvars, "LocalOne")
             + two.snapshot(sim.channelvars, "LocalTwo")
             + [("Context", context), ("Exten", exten), ("LocalOptimization", "Yes")])
    return one, two
