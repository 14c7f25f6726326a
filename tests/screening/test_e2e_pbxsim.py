"""A restricted caller on the PBX simulator, with the IVR wired as serve and the demo wire it
(build_runner with the database): the notice, a message that becomes a work order, no queue."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest_twisted
from sqlalchemy import select
from twisted.internet import task

from callcenter.db import make_engine
from callcenter.pbxsim.participants import CallerScript
from callcenter.screening.service import RestrictionList
from tests.ivr.test_e2e_pbxsim import World, _desk, _sounds  # noqa: F401 (_sounds: autouse fixture)
from ticketing.persistence.tables import work_orders

NUISANCE, CITIZEN = "13900009999", "13800001234"


@pytest_twisted.inlineCallbacks
def test_restricted_caller_leaves_a_message_and_never_reaches_a_queue_while_others_do(tmp_path, db_url):
    """With 139****9999 restricted (written +86 …), its call plays the notice and records a message
    that becomes a registered work order, and the channel leaves the IVR with IVR_ACTION=hangup; a
    citizen calling at the same time goes through the menu to the general queue."""
    from twisted.internet import reactor

    from callcenter.config import load_config
    from ivr.services import build_runner
    from ticketing.service import Actor

    engine = make_engine(db_url)
    RestrictionList(engine).add("+86 139 0000 9999", "反复辱骂坐席 / abusive", 7, "sup1",
                                datetime.now(timezone.utc))
    service, _ = _desk(db_url, reactor)
    world = yield World.create(tmp_path, is_open=lambda now: True)
    world.runner.stop()  # replaced by the runner build_runner makes
    cfg = load_config(None, environ={}).with_overrides({"ivr.sounds_dir": str(tmp_path / "asterisk-sounds" / "hotline"),
                                                         "ivr.recordings_dir": str(tmp_path / "recordings")})
    runner = build_runner(cfg, world.client, reactor, service=service, db_engine=engine, on_finished=world._finished)
    runner.start()
    try:
        for _ in range(500):  # the list loads in a thread when the runner starts
            if runner.caller_screen.numbers:
                break
            yield task.deferLater(reactor, 0.02, lambda: None)
        assert set(runner.caller_screen.numbers) == {NUISANCE}
        nuisance = world.sim.dial_in(NUISANCE, "12345", script=CallerScript(keys=["1"], key_delay=0.2))
        citizen = world.sim.dial_in(CITIZEN, "12345", script=CallerScript(keys=["1", "3"], key_delay=0.2))
        for _ in range(600):  # both calls leave the IVR within a few simulated seconds
            if len(world.finished) == 2:
                break
            yield task.deferLater(reactor, 0.05, lambda: None)
        done = world.finished
        calls = {c.caller: c for c in done}
        restricted, allowed = calls[NUISANCE], calls[CITIZEN]
        assert nuisance.variables["IVR_ACTION"] == "hangup" and restricted.outcome == "hangup"
        path = {p["node"]: p for p in restricted.path}
        assert path["screen"]["result"] == "restricted" and "restricted_notice" in path
        assert path["leave_message"]["result"].startswith("recorded:")
        assert not any(p["kind"] == "transfer" for p in restricted.path)
        with engine.connect() as conn:
            (number,) = conn.execute(select(work_orders.c.number).where(work_orders.c.caller_phone == NUISANCE)
                                     ).scalars()
        order = service.get(number, Actor("s1", "supervisor"))
        assert order["status"] == "registered" and order["call_ids"] == [restricted.uniqueid]
        assert citizen.variables["IVR_QUEUE"] == "hotline-general" and allowed.outcome == "transfer"
        assert {p["node"]: p["result"] for p in allowed.path}["screen"] == "allowed"
    finally:
        runner.stop()
        yield world.close()
        engine.dispose()
