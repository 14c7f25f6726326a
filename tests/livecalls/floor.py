"""A live floor for live-call tests: the PBX simulator on real TCP (lab dialplan, Asterisk ``Queue()``),
our AMI client feeding a CallTracker, and the whole web service with the tracker attached."""
from __future__ import annotations

from dataclasses import dataclass

from twisted.internet import defer, task
from twisted.internet.endpoints import TCP4ClientEndpoint

from tests.web.conftest import WebServer, _release, _ticketing_parts, test_config

#: callers wait in ``hotline-general`` with nobody to answer until a test adds a member
QUEUES = {"hotline-general": {"strategy": "ringall", "timeout": 15, "retry": 1, "wrapuptime": 0, "members": []}}
NUMBER = "13812345678"
MASKED = "138****5678"
AGENT_IFACE = "Local/1001@hotline-agents/n"
SPEED = 5.0


@dataclass
class Floor:
    sim: object
    sim_port: object
    ami: object
    tracker: object
    server: WebServer
    web_port: object

    def live(self):
        return self.server.deps.extras["live_calls"]


async def start_floor(db_url: str) -> Floor:
    from twisted.internet import reactor

    from callcenter.ami.client import AMIClient
    from callcenter.bootstrap import build_web, make_site
    from callcenter.calls import CallTracker
    from callcenter.db import make_engine
    from callcenter.livecalls import attach
    from callcenter.pbxsim.simulator import PBXSimulator
    from ticketing.service import WorkOrderService

    sim = PBXSimulator(reactor, speed=SPEED, dialplan="lab", queues=QUEUES)
    sim_port = await sim.listen(0)
    tracker = CallTracker()
    ami = AMIClient(TCP4ClientEndpoint(reactor, "127.0.0.1", sim_port.getHost().port), "hotline", "hotline-secret",
                    clock=reactor, tracker=tracker, ping_interval=None)
    config = test_config(db_url)
    engine = make_engine(db_url)
    taxonomy, calendar = _ticketing_parts(config)
    root = build_web(config, reactor, engine=engine, workorders=WorkOrderService(engine, taxonomy, calendar))
    attach(root, tracker, clock=reactor)
    web_port = reactor.listenTCP(0, make_site(root, config), interface="127.0.0.1")
    server = WebServer(f"http://127.0.0.1:{web_port.getHost().port}", root, engine, config)
    ami.start()
    await ami.when_connected()
    return Floor(sim, sim_port, ami, tracker, server, web_port)


async def stop_floor(floor: Floor) -> None:
    await floor.ami.stop()
    await floor.sim_port.stopListening()
    await floor.web_port.stopListening()
    _release(floor.server)


async def eventually(fetch, predicate, timeout: float = 15.0, what: str = ""):
    """Poll ``await fetch()`` on the real reactor (real TCP is involved) until ``predicate(value)``."""
    from twisted.internet import reactor

    deadline = reactor.seconds() + timeout
    while True:
        value = await fetch()
        if predicate(value):
            return value
        if reactor.seconds() > deadline:
            raise AssertionError(f"timed out waiting for {what}: last {value!r}")
        await task.deferLater(reactor, 0.05, lambda: None)


__all__ = ["AGENT_IFACE", "MASKED", "NUMBER", "Floor", "defer", "eventually", "start_floor", "stop_floor"]
