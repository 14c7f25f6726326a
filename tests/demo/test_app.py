"""One composition root: `serve` and `demo` build the hotline's services in callcenter/app.py only."""
from __future__ import annotations

import re

import pytest_twisted

from tests.conftest import ROOT
from tests.web.conftest import test_config as web_config


def _built(hotline) -> dict[str, str]:
    """Each built service's name → its class (``NoneType`` for one switched off by configuration)."""
    return {name: type(part.service).__name__ for name, part in hotline.parts.items()}


@pytest_twisted.ensureDeferred
async def test_serve_and_demo_build_the_same_services(sqlite_url, tmp_path):
    """`serve`'s Hotline (real reactor, AMI from the configuration) and the demo's world (scaled clock,
    PBX simulator) are the same composition root and build the same named services of the same classes."""
    from twisted.internet import reactor

    from callcenter.app import FOUNDATION, SERVICES, Hotline
    from callcenter.demo.world import DemoOptions, DemoWorld
    from callcenter.pbxsim.simulator import PBXSimulator
    from callcenter.routing.timewarp import ScaledClock

    sim = PBXSimulator(reactor, speed=5.0, spool_dir=tmp_path / "spool")
    sim_port = await sim.listen(0)
    config = web_config(sqlite_url).with_overrides({
        "ami.port": sim_port.getHost().port, "web.port": 0, "asr.model": "no-such-model",
        "asr.audiosocket_port": 0,
        # the demo runs its SMS through Kannel; serve's SMS is on too, pointed at a gateway that is not there
        "sms.enabled": True, "sms.sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms", "sms.callback_url": "http://127.0.0.1:9"})
    serve = Hotline(reactor, config)
    world = DemoWorld(reactor, web_config(sqlite_url), DemoOptions(port=0, agents=2, rate=1.0,
                                                                   directory=tmp_path / "demo"), out=lambda *a, **k: None)
    try:
        await serve.start()
        served = _built(serve)
        await serve.stop()          # one hotline per process at a time (one metrics registry)
        await world.start()
        demoed = _built(world.hotline)
        assert isinstance(world.hotline, Hotline) and isinstance(world.hotline.clock, ScaledClock)
        assert serve.clock is reactor and world.hotline.ami.clock is world.hotline.clock
        assert list(served) == [name for name, _ in FOUNDATION + SERVICES]
        assert demoed == served
    finally:
        if world.hotline.parts:
            await world.stop()
        if serve.parts:
            await serve.stop()
        await sim_port.stopListening()


def test_services_are_wired_only_in_the_composition_root():
    """No module besides callcenter/app.py builds the ACD, the IVR runner, the callback worker,
    the SLA worker or the AMI client from configuration (a second wiring would drift)."""
    builders = re.compile(r"\b(controller_from_config|build_runner|build_satisfaction_callbacks|SlaWorker\.from_config|"
                          r"AMIClient\.from_config|start_speech)\(")
    offenders = []
    for path in sorted((ROOT / "callcenter").rglob("*.py")) + sorted((ROOT / "ivr").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "callcenter/app.py":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.split("#", 1)[0]
            if builders.search(code) and not re.match(r"\s*def ", code):
                offenders.append(f"{rel}: {line.strip()}")
    assert offenders == []


@pytest_twisted.ensureDeferred
async def test_a_hotline_whose_later_step_fails_leaves_no_acd_collector_and_the_next_one_starts(sqlite_url, tmp_path):
    """A step built after the ACD fails (a bad ``retention.interval_hours``): start() stops what it had and
    the process's metrics registry keeps no ACD collector, so a second Hotline in the same process starts
    and its ACD is the one /metrics shows."""
    from twisted.internet import reactor

    from callcenter.app import Hotline
    from callcenter.config import ConfigError
    from callcenter.metrics import REGISTRY
    from callcenter.pbxsim.simulator import PBXSimulator
    from callcenter.routing.metrics import AcdCollector

    def acd_collectors():
        return [c for c in list(REGISTRY._collector_to_names) if isinstance(c, AcdCollector)]

    sim = PBXSimulator(reactor, speed=5.0, spool_dir=tmp_path / "spool")
    sim_port = await sim.listen(0)
    config = web_config(sqlite_url).with_overrides({"ami.port": sim_port.getHost().port, "web.port": 0})
    broken = Hotline(reactor, config.with_overrides({"retention.interval_hours": -1}), speech=False)
    second = Hotline(reactor, config, speech=False)
    try:
        assert acd_collectors() == []
        try:
            await broken.start()
        except ConfigError as exc:
            assert "retention.interval_hours" in str(exc)
        else:
            raise AssertionError("a negative retention interval must stop the start")
        assert broken.parts == {} and acd_collectors() == []
        await second.start()
        assert [c.acd for c in acd_collectors()] == [second.acd]
        assert REGISTRY.get_sample_value("hotline_queue_callbacks_waiting") == 0
    finally:
        if broken.parts:
            await broken.stop()
        if second.parts:
            await second.stop()
        await sim_port.stopListening()
    assert acd_collectors() == []
