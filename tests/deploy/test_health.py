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
async def test_healthz_is_degraded_while_the_pbx_never_greets_and_ok_once_logged_in(core, pbx_sounds):
    """A PBX that accepts the connection but stays silent: /healthz answers 503 "degraded" with the AMI
    link down and ami.timeout as the reason; after a later login and resync it answers 200 "ok"."""
    reactor, ami = make(tracker=CallTracker())
    core.root.deps.extras["ami"] = ami
    core.root.deps.config = core.root.deps.config.with_overrides({"ivr.sounds_dir": str(pbx_sounds / "hotline")})
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


@pytest_twisted.ensureDeferred
async def test_healthz_is_degraded_and_names_the_sounds_asterisk_could_not_play(core, pbx_sounds):
    """With the AMI link up, a sound the controller may play missing from ivr.sounds_dir makes the
    process degraded (on Asterisk that prompt would end the caller's AGI session): 503, named."""
    reactor, ami = make(tracker=CallTracker())
    core.root.deps.extras["ami"] = ami
    core.root.deps.config = core.root.deps.config.with_overrides({"ivr.sounds_dir": str(pbx_sounds / "hotline")})
    link = Link(reactor, ami)
    link.login()
    link.resync()
    (pbx_sounds / "hotline" / "queue" / "zh" / "queue_wait.wav").unlink()
    resp = await core.client().get("/healthz")
    assert resp.status == 503 and resp.json["status"] == "degraded"
    assert resp.json["sounds"] == {"missing": 1, "names": ["queue/zh/queue_wait"]}
    assert resp.json["ami"]["connected"] is True


@pytest_twisted.ensureDeferred
async def test_healthz_checks_the_sounds_of_the_flows_in_service_without_rereading_the_flow_files(
        core, pbx_sounds, tmp_path):
    """/healthz judges the sounds of the flows the running IVR loaded (``ivr_library``): a probe reads
    no flow file (with ``ivr.flows_dir`` pointing at an empty folder it still answers 200, where a
    fresh read would fail), and logs no "flows loaded" line each time a load balancer asks."""
    from ivr.library import FlowLibrary

    reactor, ami = make(tracker=CallTracker())
    core.root.deps.extras["ami"] = ami
    core.root.deps.extras["ivr_library"] = FlowLibrary()  # the shipped flows, loaded once at start
    empty = tmp_path / "no-flows"
    empty.mkdir()
    core.root.deps.config = core.root.deps.config.with_overrides(
        {"ivr.sounds_dir": str(pbx_sounds / "hotline"), "ivr.flows_dir": str(empty)})
    link = Link(reactor, ami)
    link.login()
    link.resync()
    resp = await core.client().get("/healthz")
    assert resp.status == 200 and resp.json["sounds"] == {"missing": 0, "names": []}
