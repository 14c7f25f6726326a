"""`callcenter serve`'s Hotline, in process, against the PBX simulator over TCP: its AMI client feeds the
process's CallTracker and /api/v1/calls shows the calls the PBX is carrying."""
from __future__ import annotations

import pytest_twisted

from callcenter.pbxsim.participants import CallerScript
from tests.livecalls.floor import MASKED, NUMBER, eventually
from tests.web.conftest import PASSWORD, Client
from tests.web.conftest import test_config as web_config


@pytest_twisted.ensureDeferred
async def test_serve_tracks_calls_and_serves_them(sqlite_url, tmp_path):
    """A caller dialling the hotline number shows up in serve's /api/v1/calls (masked, hotline call id set)
    and leaves it when they hang up; the tracker is the one the AMI client feeds."""
    from datetime import datetime, timezone

    from twisted.internet import reactor

    from callcenter.app import Hotline
    from callcenter.pbxsim.simulator import PBXSimulator

    sim = PBXSimulator(reactor, speed=5.0, spool_dir=tmp_path / "spool")
    sim_port = await sim.listen(0)
    config = web_config(sqlite_url).with_overrides({
        "ami.port": sim_port.getHost().port, "web.port": 0, "asr.model": "no-such-model",
        "asr.audiosocket_port": 0})
    hotline = Hotline(reactor, config)
    started = False
    try:
        await hotline.start()
        started = True
        assert hotline.ami.tracker is hotline.tracker
        await hotline.ami.when_connected()
        hotline.web_root.deps.auth.add_user("sup1", PASSWORD, "supervisor", datetime.now(timezone.utc))
        sup = Client(f"http://127.0.0.1:{hotline.web_port.getHost().port}")
        await sup.login("sup1")
        caller = sim.dial_in(NUMBER, script=CallerScript(hangup_after=60))
        listed = await eventually(lambda: sup.get("/api/v1/calls"), lambda r: r.json.get("items"),
                                  what="the call listed")
        [row] = listed.json["items"]
        assert row["linkedid"] == caller.uniqueid and row["caller"] == MASKED and NUMBER not in listed.text
        assert row["hotline_callid"] == caller.uniqueid and row["phase"] in ("ivr", "answered", "talking")
        await hotline.ami.hangup(caller.name)
        await eventually(lambda: sup.get("/api/v1/calls"), lambda r: r.json["items"] == [], what="the hang-up")
    finally:
        if started:
            await hotline.stop()
        await sim_port.stopListening()
