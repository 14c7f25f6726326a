"""A 7 s AMI cut while the PBX keeps its calls: nobody is stranded, lost or doubled.

The production composition root (:class:`callcenter.app.Hotline`, as `serve` builds it) talks to
the PBX simulator over TCP.  Callers are in the IVR menus and in the queue when the simulator drops
every AMI connection and refuses new ones for 7 s (its calls go on: prompts play, keys are
pressed, one more citizen calls in).  After the link is back every caller is driven again: IVR
callers from their current menu, the one who called during the cut from the start, queued
callers in their place with hold music; each caller's IVR visit is reported once.
"""
from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer, task

from callcenter.pbxsim import CallerScript
from tests.web.conftest import test_config as web_config

CUT_SECONDS = 7.0
AGENTS = ("PJSIP/1001", "PJSIP/1002")


def _sleep(reactor, seconds):
    return task.deferLater(reactor, seconds, lambda: None)


async def _until(reactor, predicate, limit, step=0.1, why=lambda: ""):
    waited = 0.0
    while not predicate():
        assert waited < limit, f"condition not reached in time {why()}"
        await _sleep(reactor, step)
        waited += step
    return waited


class Cuttable:
    """The simulator's AMI port, which can be cut (connections dropped, new ones refused) and restored."""

    def __init__(self, sim):
        self.sim = sim
        self.port = None
        self.number = 0

    async def listen(self):
        self.port = await self.sim.listen(self.number)
        self.number = self.port.getHost().port

    async def cut(self):
        await self.port.stopListening()
        for session in list(self.sim.sessions):
            session.transport.abortConnection()


@pytest_twisted.ensureDeferred
async def test_a_7_second_ami_cut_strands_nobody(sqlite_url, rendered_prompts, tmp_path):
    """Callers in the IVR and in the queue when the AMI link is cut for 7 s, and one who calls during
    the cut, are all driven again within seconds of the reconnect; each caller's IVR visit is reported
    once and ends in the ACD (queued or talking), and /healthz said degraded meanwhile."""
    from twisted.internet import reactor

    from callcenter.app import Hotline
    from callcenter.pbxsim.simulator import PBXSimulator

    import inspect

    sounds = tmp_path / "asterisk-sounds"  # Asterisk's sounds directory, the prompts volume as sounds/hotline
    sounds.mkdir()
    (sounds / "hotline").symlink_to(rendered_prompts)
    extra = {"sounds_dir": sounds} if "sounds_dir" in inspect.signature(PBXSimulator).parameters else {}
    sim = PBXSimulator(reactor, speed=1.0, spool_dir=tmp_path / "spool", **extra)
    for device in AGENTS:
        sim.add_device(device, answer_after=1.0)
    ami_port = Cuttable(sim)
    await ami_port.listen()
    finished = []
    config = web_config(sqlite_url).with_overrides({
        "ami.port": ami_port.number, "web.port": 0, "asr.model": "off", "asr.audiosocket_port": 0,
        "ivr.sounds_dir": str(rendered_prompts), "ivr.pbx_sounds_dir": "hotline",
        "ivr.recordings_dir": str(tmp_path / "rec"),
        "routing.agents": [{"id": f"a{i}", "device": d, "skills": {"general": 80, "urgent": 80}}
                           for i, d in enumerate(AGENTS)]})
    hotline = Hotline(reactor, config, on_finished=finished.append, speech=False)
    try:
        await hotline.start()
        hotline.runner.is_open = lambda now: True  # the hotline is open whenever the test runs
        await hotline.ami.when_connected()
        # both agents busy for a while: early callers wait in the queue through the cut
        callers = []
        for i in range(2):
            callers.append(sim.dial_in(f"1380000{i:04d}", script=CallerScript(keys=["1", "0"], key_delay=0.5,
                                                                                talk_seconds=60)))
        for i in range(2, 5):
            callers.append(sim.dial_in(f"1380000{i:04d}", script=CallerScript(keys=["1", "0"], key_delay=0.5)))
        for i, device in enumerate(AGENTS):
            hotline.acd.agent_login(f"a{i}")
            hotline.acd.agent_ready(f"a{i}")
        acd = hotline.acd
        await _until(reactor, lambda: acd.waiting() >= 2 and len([q for q in acd.calls.values()
                                                                   if q.state.value == "connected"]) == 2, 90.0)
        # three more callers still in the welcome and language prompts when the link drops
        for i in range(5, 8):
            callers.append(sim.dial_in(f"1380000{i:04d}", script=CallerScript(keys=["1", "0"], key_delay=3.0)))
        await _sleep(reactor, 1.0)
        await ami_port.cut()
        await _sleep(reactor, 1.0)
        assert not hotline.ami.ready
        callers.append(sim.dial_in("13800000099", script=CallerScript(keys=["1", "0"], key_delay=0.5)))
        await _sleep(reactor, CUT_SECONDS - 1.0)
        await ami_port.listen()
        reconnect = await _until(reactor, lambda: hotline.adoption.rounds >= 2, 10.0)
        assert reconnect <= 3.0, f"the link was back {reconnect:.1f} s after the PBX answered again"

        def settled():
            live = [ch for ch in callers if not ch.hungup]
            return all(ch.name not in hotline.runner.sessions and ch.name not in hotline.runner.orphans
                       for ch in live)

        def stuck():
            runner = hotline.runner
            return {name: (session.state.node if session.state else None, name in runner.orphans)
                    for name, session in {**runner.sessions, **runner.orphans}.items()}

        await _until(reactor, settled, 60.0, step=0.25, why=stuck)
        uniqueids = [call.uniqueid for call in finished]
        assert sorted(uniqueids) == sorted(set(uniqueids)), "an IVR visit was reported twice"
        by_id = {call.uniqueid: call for call in finished}
        for ch in callers:
            assert not ch.hungup, f"{ch.name} was dropped"
            call = by_id.get(ch.uniqueid)
            assert call is not None, f"{ch.name}'s IVR visit never ended (stranded)"
            assert call.outcome == "transfer", (ch.name, call.outcome, [(c.channel, c.outcome, [p["node"] for p in c.path]) for c in finished])
            assert ch.name in hotline.acd._by_channel or any(
                qc.channel == ch.name for qc in hotline.acd.calls.values()), f"{ch.name} is not in the ACD"
        assert hotline.adoption.last["ivr"] >= 1 and hotline.adoption.last["holds"] >= 1, hotline.adoption.last
    finally:
        for ch in list(sim.channels.values()):
            if not ch.hungup:
                sim.hangup(ch, 16)
        if hotline.parts:
            await hotline.stop()
        if ami_port.port is not None:
            await ami_port.port.stopListening()
