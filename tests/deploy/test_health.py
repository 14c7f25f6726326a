"""/healthz of the process that drives calls: degraded (503) while its AMI link is down."""
from __future__ import annotations

import pytest
import pytest_twisted

from callcenter.calls import CallTracker
from tests.ami.peer import Link, make
from tests.web.conftest import start_server, stop_server


@pytest.fixture
def core(sqlite_url):
    server = start_server(sqlite_url, features=("callcenter.web.health",))
    yield server
    stop_server(server)


@pytest_twisted.ensureDeferred
async def test_healthz_is_degraded_while_the_pbx_never_greets_and_ok_once_logged_in(core):
    """A PBX that accepts the connection but stays silent: /healthz answers 503 "degraded" with the AMI
    link down and ami.timeout as the reason; after a later login and resync it answers 200 "ok"."""
    reactor, ami = make(tracker=CallTracker())
    core.root.deps.extras["ami"] = ami
    link = Link(reactor, ami)
    reactor.advance(10.0)  # the greeting time-out
    resp = await core.client().get("/healthz")
    assert resp.status == 503 and resp.json["status"] == "degraded"
    assert resp.json["ami"] == {"connected": False, "connections": 1, "error_id": "ami.timeout"}
    assert resp.json["db"]["reachable"] is True
    link.drop()
    reactor.advance(5.0)
    link = Link(reactor, ami)
    link.login()
    link.resync()
    resp = await core.client().get("/healthz")
    assert resp.status == 200 and resp.json["status"] == "ok" and resp.json["ami"]["connected"] is True
