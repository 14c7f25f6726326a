"""Helpers for the ACD tests over the PBX simulator."""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint

from callcenter.ami.client import AMIClient
from callcenter.ami.events import parse_agi_env
from callcenter.db import make_engine
from callcenter.pbxsim.simulator import PBXSimulator
from callcenter.routing.acd import CallHandle, QueueController
from callcenter.routing.policy import Router
from callcenter.routing.skills import QueueRules
from callcenter.routing.store import RoutingStore
from callcenter.routing.timewarp import ScaledClock

#: both sides run this much faster than real time (simulator ``speed``, a ScaledClock for the controller)
SPEED = 5.0


class AcdFloor:
    """The PBX simulator on a loopback port and a QueueController driving it over a real AMI client."""

    def __init__(self, sim, port, ami, acd, store) -> None:
        self.sim, self.port, self.ami, self.acd, self.store = sim, port, ami, acd, store

    @defer.inlineCallbacks
    def close(self):
        yield self.acd.stopService()
        yield self.ami.stop()
        yield self.port.stopListening()


@functools.lru_cache(maxsize=None)
def rendered_sounds() -> Path:
    """Asterisk's sounds directory with every hotline sound in ``hotline/``, rendered once per test
    process by the production renderer: the simulator, like Asterisk, ends the AGI session of a
    caller sent a sound that does not exist."""
    from ivr.sounds import build_sounds

    root = Path(tempfile.mkdtemp(prefix="acd-sounds-"))
    build_sounds(root / "hotline")
    return root


@defer.inlineCallbacks
def acd_floor(reactor, *, db_url=None, rules=None, agents=(), pbx_sounds=None, **controller):
    """Start the simulator, and build (not start) the AMI client and the controller with ``agents``,
    the queue ``rules`` (default: hotline-general for the general skill), a RoutingStore on ``db_url``
    (none without) and ``controller`` settings such as ``ring_timeout``."""
    sim = PBXSimulator(reactor, speed=SPEED, sounds_dir=pbx_sounds or rendered_sounds())
    port = yield sim.listen(0)
    clock = ScaledClock(reactor, SPEED)
    ami = AMIClient(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), "hotline", "hotline-secret",
                    clock=clock, resync=False)
    store = RoutingStore(make_engine(db_url)) if db_url else None
    controller.setdefault("sounds_dir", "hotline")
    acd = QueueController(ami, clock, Router(rules or [QueueRules("hotline-general", "general")]), store=store,
                          **controller)
    for agent in agents:
        acd.add_agent(agent)
    return AcdFloor(sim, port, ami, acd, store)


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
