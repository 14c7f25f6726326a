"""Helpers for the ACD tests over the PBX simulator."""
from __future__ import annotations

from callcenter.ami.events import parse_agi_env
from callcenter.routing.acd import CallHandle


def hand_over_ivr_callers(ami, acd, queue_for=None, number=None, steps=None):
    """Play the IVR's part: each caller whose AsyncAGI session starts at the ``ivr`` step is
    enqueued, in ``queue_for(env)`` → ``(queue, skill)`` (default the general queue), with
    ``number`` or the caller ID Asterisk gave the AGI; ``steps`` (a list) collects every AGI
    step name seen."""

    def ivr(message):
        env = parse_agi_env(message.get("Env"))
        step = env.get("agi_arg_1")
        if steps is not None:
            steps.append(step)
        if step == "ivr":
            queue, skill = queue_for(env) if queue_for is not None else ("hotline-general", None)
            caller = number if number is not None else env.get("agi_callerid", "")
            acd.enqueue(CallHandle(message.get("Uniqueid"), message.get("Channel"), caller), queue, skill)

    return ami.subscribe(ivr, names=("AsyncAGIStart",))
