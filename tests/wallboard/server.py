"""The full web service with a real ACD (QueueController over scripted AMI bytes) for wallboard tests."""
from __future__ import annotations

from dataclasses import dataclass

from twisted.internet import defer, task

from tests.web.conftest import WebServer, _release, _ticketing_parts, test_config

CALLER = "PJSIP/trunk-00000001"


@dataclass
class Floor:
    server: WebServer
    pbx: object
    acd: object

    @property
    def feed(self):
        return self.server.deps.extras["wallboard_feed"]


def start_floor(db_url: str) -> Floor:
    from twisted.internet import reactor

    from callcenter.bootstrap import build_web, make_site
    from callcenter.db import make_engine
    from ticketing.service import WorkOrderService
    from tests.routing.test_acd import make

    pbx, acd, _ = make()
    config = test_config(db_url)
    engine = make_engine(db_url)
    taxonomy, calendar = _ticketing_parts(config)
    service = WorkOrderService(engine, taxonomy, calendar)
    root = build_web(config, reactor, engine=engine, workorders=service, acd=acd)
    port = reactor.listenTCP(0, make_site(root, config), interface="127.0.0.1")
    server = WebServer(f"http://127.0.0.1:{port.getHost().port}", root, engine, config)
    server._port = port
    return Floor(server, pbx, acd)


async def stop_floor(floor: Floor) -> None:
    await floor.server._port.stopListening()
    _release(floor.server)


async def eventually(predicate, timeout: float = 5.0):
    """Wait on the real reactor (a live HTTP server is involved) until ``predicate()`` holds."""
    from twisted.internet import reactor

    for _ in range(int(timeout / 0.02)):
        value = predicate()
        if value:
            return value
        await task.deferLater(reactor, 0.02, lambda: None)
    raise AssertionError("condition not met in time")


__all__ = ["CALLER", "Floor", "defer", "eventually", "start_floor", "stop_floor"]
