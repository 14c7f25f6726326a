"""Callbacks in flight when the leader dies (kill -9) or the AMI link is cut for 7 s: each citizen is
dialled exactly once.

Two satisfaction callbacks (回访) and two queue callbacks (排队回拨) are placed by the controller; at the
moment of the failure one citizen's phone rings for the survey, one is in the survey menu, one rings
for a queue callback (an agent reserved for them) and one is talking to their agent.  The PBX
simulator (over TCP) keeps every call.  The controller that drives the calls next finds them by
their ``HOTLINE_CALLBACK`` mark: the survey calls go on (answers recorded), the queue callback that
rings reaches its reserved agent when answered, the talking one stays with its agent.  Then, past
every lease, nobody was called a second time (Originates counted at the simulator: one Local
``;1`` channel per citizen), every job is finished and none is left claimed.
"""
from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timedelta, timezone

import pytest
import pytest_twisted

from tests.failover.test_takeover import AGENTS, TAKEOVER_LIMIT, Serve, _config, _prepare_database
from tests.failover.waiting import sleep as _sleep, until as _until

SURVEY_RINGING, SURVEY_IN_MENU = "13700000001", "13700000002"
QUEUE_RINGING, QUEUE_TALKING = "13600000001", "13600000002"
CITIZENS = (SURVEY_RINGING, SURVEY_IN_MENU, QUEUE_RINGING, QUEUE_TALKING)
LEASE = 15  # [callbacks] lease: short, so the test outlives every lease
# a queue callback's claim lease: callback_timeout 20 + ring_timeout 15 + ring grace 10 + 60 s (+5)
QUEUE_LEASE = 110.0




def _citizens(sim):
    """The citizens' phones: the survey ones press their rating 2 s into the menu."""
    sim.add_pstn(SURVEY_RINGING, "answer", answer_after=9.0, digits="1", digit_after=2.0, hangup_after=3.0)
    sim.add_pstn(SURVEY_IN_MENU, "answer", answer_after=0.5, digits="2", digit_after=2.0, hangup_after=3.0)
    sim.add_pstn(QUEUE_RINGING, "answer", answer_after=9.0, hangup_after=8.0)    # then talks 8 s
    sim.add_pstn(QUEUE_TALKING, "answer", answer_after=0.5, hangup_after=16.0)   # talks through the failure


def _seed(engine, now):
    """Two replied orders (their survey is due now) and two callers who kept their place in the queue."""
    from sqlalchemy import insert

    from callcenter.routing.store import queue_callbacks
    from tests.callbacks.helpers import CALENDAR, TAXONOMY, replied_order
    from ticketing.service import WorkOrderService

    service = WorkOrderService(engine, TAXONOMY, CALENDAR)
    orders = {n: replied_order(service, now - timedelta(minutes=30), caller_phone=n)
              for n in (SURVEY_RINGING, SURVEY_IN_MENU)}
    with engine.begin() as conn:
        for i, number in enumerate((QUEUE_RINGING, QUEUE_TALKING)):
            conn.execute(insert(queue_callbacks).values(
                call_id=f"kept-place-{i}", number=number, queue="hotline-general", reason="requested",
                state="pending", attempts=0, created_at=now - timedelta(minutes=3 - i),
                updated_at=now - timedelta(minutes=3 - i), priority=0))
    return orders


def _calls_to(sim, number):
    """Originates to ``number`` (a Local pair counts once, by its ;1 half)."""
    return [c for c in sim.created_channels if c.startswith(f"Local/{number}@hotline-pstn-") and c.endswith(";1")]


def _leg(sim, number):
    return next((ch for ch in sim.channels.values() if ch.name.startswith(f"Local/{number}@hotline-pstn-")
                 and ch.name.endswith(";1") and not ch.hungup), None)


def _stages(sim):
    """Where each citizen is: ringing, in the survey (AGI), talking (bridged), or gone/None."""
    out = {}
    for number in CITIZENS:
        ch = _leg(sim, number)
        if ch is None:
            out[number] = None
        elif ch.bridge is not None:
            out[number] = "talking"
        elif ch.state != 6:
            out[number] = "ringing"
        elif ch.application.lower() == "agi":
            out[number] = "survey"
        else:
            out[number] = ch.application
    return out


WANTED = {SURVEY_RINGING: "ringing", SURVEY_IN_MENU: "survey", QUEUE_RINGING: "ringing", QUEUE_TALKING: "talking"}


def _jobs(engine):
    from sqlalchemy import select

    from callcenter.callbacks.tables import callback_jobs
    from callcenter.routing.store import queue_callbacks

    with engine.connect() as conn:
        surveys = {r.phone: dict(r._mapping) for r in conn.execute(select(callback_jobs))}
        queue = {r.number: dict(r._mapping) for r in conn.execute(select(queue_callbacks).where(
            queue_callbacks.c.reason == "requested"))}
    return surveys, queue


def _other_queue_rows(engine):
    """Callback-list rows besides the two kept places (an "abandoned" one would mean a served citizen
    was taken for one who hung up, and someone would call them again)."""
    from sqlalchemy import select

    from callcenter.routing.store import queue_callbacks

    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(queue_callbacks).where(
            queue_callbacks.c.reason != "requested"))]


def _finished(engine):
    surveys, queue = _jobs(engine)
    return all(surveys.get(n, {}).get("state") == "done" for n in (SURVEY_RINGING, SURVEY_IN_MENU)) and all(
        queue.get(n, {}).get("state") == "done" for n in (QUEUE_RINGING, QUEUE_TALKING))


def _assert_each_dialled_once_and_nothing_left(sim, engine, stages_at_failure):
    surveys, queue = _jobs(engine)
    for number in CITIZENS:
        assert len(_calls_to(sim, number)) == 1, (number, _calls_to(sim, number), stages_at_failure)
    # the survey answers given to the controller that took the calls over are on the jobs
    assert surveys[SURVEY_RINGING]["result"] == "satisfied" and surveys[SURVEY_RINGING]["attempts"] == 1
    assert surveys[SURVEY_IN_MENU]["result"] == "basic" and surveys[SURVEY_IN_MENU]["attempts"] == 1
    assert not [j for j in surveys.values() if j["state"] == "dialing"], "a survey job is left claimed"
    assert not [r for r in queue.values() if r["state"] == "pending" or r["dialled_at"] is not None], queue
    assert all(r["attempts"] == 1 for r in queue.values()), queue
    assert _other_queue_rows(engine) == []
    # each queue-callback citizen was answered by an agent exactly once
    legs = {}
    for entry in sim.calls_log:
        if entry["channel"].startswith("PJSIP/20") and entry["answered"]:
            legs[entry["linkedid"]] = legs.get(entry["linkedid"], 0) + 1
    for number in (QUEUE_RINGING, QUEUE_TALKING):
        linkedids = {e["linkedid"] for e in sim.calls_log if e["channel"].startswith(f"Local/{number}@")}
        assert sum(legs.get(lid, 0) for lid in linkedids) == 1, (number, legs, linkedids)


@pytest.mark.postgres
@pytest_twisted.ensureDeferred
async def test_kill_9_with_callbacks_ringing_in_the_survey_and_talking_dials_each_citizen_once(
        pg_url, rendered_prompts, tmp_path):
    """SIGKILL of the leader while a survey call rings, a survey is in its menu, a queue callback rings
    (its agent reserved) and one talks to its agent: the standby adopts them within 10 s; the surveys'
    answers are recorded, the ringing queue callback reaches an agent; past every lease each citizen
    was dialled exactly once and no job is left claimed."""
    from twisted.internet import reactor

    from callcenter.pbxsim.simulator import PBXSimulator

    engine = _prepare_database(pg_url)
    now = datetime.now(timezone.utc)
    _seed(engine, now)
    sounds = tmp_path / "asterisk-sounds"
    sounds.mkdir()
    (sounds / "hotline").symlink_to(rendered_prompts)
    sim = PBXSimulator(reactor, speed=1.0, spool_dir=tmp_path / "spool", sounds_dir=sounds)
    for device in AGENTS:
        sim.add_device(device, answer_after=1.0)
    _citizens(sim)
    port = await sim.listen(0)
    config = _config(tmp_path, pg_url, port.getHost().port, rendered_prompts)
    with open(config, "a", encoding="utf-8") as f:
        f.write(f'\n[callbacks]\ncalling_start = "00:00"\ncalling_end = "23:59"\nnext_day = false\n'
                f'interval = 1\nlease = {LEASE}\nring_timeout = 20\n')
    text = open(config, encoding="utf-8").read().replace("[routing]\n", "[routing]\ncallback_timeout = 20\n")
    open(config, "w", encoding="utf-8").write(text)
    leader = standby = None
    try:
        leader = Serve("leader", config, tmp_path)
        await _until(reactor, lambda: leader.said("serving on") and leader.adoptions(), 90, why=leader.tail)
        standby = Serve("standby", config, tmp_path)
        await _until(reactor, lambda: standby.said("standby health on"), 90, why=standby.tail)
        await _until(reactor, lambda: _stages(sim) == WANTED, 40, step=0.05,
                     why=lambda: (_stages(sim), leader.tail()))
        claimed_by = time.monotonic()  # every attempt was claimed (and its lease started) before this
        at_kill = _stages(sim)
        killed_at = time.time()
        os.kill(leader.proc.pid, signal.SIGKILL)
        leader.proc.wait(10)
        await _until(reactor, lambda: standby.adoptions(), TAKEOVER_LIMIT + 5, why=standby.tail)
        adopted = standby.adoptions()[0]
        took = datetime.fromisoformat(adopted["ts"].replace("Z", "+00:00")).timestamp() - killed_at
        assert took <= TAKEOVER_LIMIT, f"takeover took {took:.1f} s"
        assert adopted.get("callbacks", 0) >= 2, adopted  # the ringing survey and the one in its menu at least
        await _until(reactor, lambda: _finished(engine) and all(_leg(sim, n) is None for n in CITIZENS), 120,
                     step=0.5, why=lambda: (_stages(sim), _jobs(engine), standby.tail()))
        print({"at_kill": at_kill, "takeover_seconds": round(took, 2), "adopted": adopted})
        # every lease has run out since (the surveys' and the queue callbacks'): still nobody called twice
        await _sleep(reactor, max(LEASE + 5, QUEUE_LEASE - (time.monotonic() - claimed_by)))
        _assert_each_dialled_once_and_nothing_left(sim, engine, at_kill)
        assert standby.proc.poll() is None
    finally:
        for proc in (leader, standby):
            if proc is not None:
                proc.kill()
        for ch in list(sim.channels.values()):
            if not ch.hungup:
                sim.hangup(ch, 16)
        await port.stopListening()
        engine.dispose()


@pytest_twisted.ensureDeferred
async def test_7_second_ami_cut_with_callbacks_in_flight_dials_each_citizen_once(
        sqlite_url, rendered_prompts, tmp_path):
    """The same four callbacks when the AMI link is cut for 7 s (the PBX keeps its calls): after the
    reconnect the same process finds them by their mark; answers recorded, the ringing queue callback
    reaches its agent, and past every lease each citizen was dialled exactly once, nothing left claimed."""
    from twisted.internet import reactor

    from callcenter.app import Hotline
    from callcenter.db import make_engine
    from callcenter.pbxsim.simulator import PBXSimulator
    from tests.failover.test_ami_cut import CUT_SECONDS, Cuttable
    from tests.web.conftest import test_config as web_config
    from ticketing.calendar_data import set_override

    engine = make_engine(sqlite_url)
    now = datetime.now(timezone.utc)
    from zoneinfo import ZoneInfo

    today = now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    for day in (today, today + timedelta(days=1)):
        set_override(engine, day, True, "callbacks in flight test")
    _seed(engine, now)
    sounds = tmp_path / "asterisk-sounds"
    sounds.mkdir()
    (sounds / "hotline").symlink_to(rendered_prompts)
    sim = PBXSimulator(reactor, speed=1.0, spool_dir=tmp_path / "spool", sounds_dir=sounds)
    agents = AGENTS[:3]
    for device in agents:
        sim.add_device(device, answer_after=1.0)
    _citizens(sim)
    ami_port = Cuttable(sim)
    await ami_port.listen()
    config = web_config(sqlite_url).with_overrides({
        "ami.port": ami_port.number, "web.port": 0, "asr.model": "off", "asr.audiosocket_port": 0,
        "ivr.sounds_dir": str(rendered_prompts), "ivr.pbx_sounds_dir": "hotline",
        "ivr.recordings_dir": str(tmp_path / "rec"),
        "calendar.work_start": "00:00", "calendar.work_end": "23:59", "calendar.lunch_start": "",
        "calendar.lunch_end": "",
        "callbacks.calling_start": "00:00", "callbacks.calling_end": "23:59", "callbacks.next_day": False,
        "callbacks.interval": 1, "callbacks.lease": LEASE, "callbacks.ring_timeout": 20,
        "routing.callback_timeout": 20,
        "routing.agents": [{"id": f"agent{i}", "device": d, "skills": {"general": 80, "urgent": 80}}
                           for i, d in enumerate(agents, 1)]})
    hotline = Hotline(reactor, config, speech=False)
    try:
        await hotline.start()
        hotline.runner.is_open = lambda now: True
        await hotline.ami.when_connected()
        for i in range(1, len(agents) + 1):
            hotline.acd.agent_login(f"agent{i}")
            hotline.acd.agent_ready(f"agent{i}")
        await _until(reactor, lambda: _stages(sim) == WANTED, 40, step=0.05, why=lambda: _stages(sim))
        claimed_by = time.monotonic()
        at_cut = _stages(sim)
        rounds = hotline.adoption.rounds
        await ami_port.cut()
        await _sleep(reactor, CUT_SECONDS)
        await ami_port.listen()
        await _until(reactor, lambda: hotline.adoption.rounds > rounds, 10.0)
        assert hotline.adoption.last.get("callbacks", 0) >= 1, hotline.adoption.last
        await _until(reactor, lambda: _finished(engine) and all(_leg(sim, n) is None for n in CITIZENS), 120,
                     step=0.5, why=lambda: (_stages(sim), _jobs(engine), hotline.adoption.last))
        print({"at_cut": at_cut, "adopted": hotline.adoption.last, "settled": hotline.adoption.callbacks.settled})
        await _sleep(reactor, max(LEASE + 5, QUEUE_LEASE - (time.monotonic() - claimed_by)))
        _assert_each_dialled_once_and_nothing_left(sim, engine, at_cut)
    finally:
        for ch in list(sim.channels.values()):
            if not ch.hungup:
                sim.hangup(ch, 16)
        if hotline.parts:
            await hotline.stop()
        if ami_port.port is not None:
            await ami_port.port.stopListening()
        engine.dispose()


def test_the_simulator_shows_a_callbacks_mark_as_asterisk_does(tmp_path):
    """What the adoption relies on, as the Asterisk 22.10.1 captures show it: an Originate's Variable is
    set on both halves of the Local pair (capture 15: VarSet on ;1 and on ;2), Getvar reads it from
    either, an unset variable reads as an empty Value (capture 20), a channel that is gone is refused
    with "No such channel", and the ;1 half is not Up (ChannelState 6) before the citizen answers."""
    from tests.pbxsim.harness import Peer, advance, make

    sim, clock = make(tmp_path)
    sim.add_pstn("13800000001", "answer", answer_after=2.0, hangup_after=2.0)
    peer = Peer(sim, clock)
    peer.login(events="off")
    aid = peer.send("Originate", Channel="Local/13800000001@hotline-pstn", Context="hotline-survey", Exten="s",
                    Priority="1", Timeout="15000", Async="true", Variable="HOTLINE_CALLBACK=survey|7|2")
    assert peer.response(aid)["Response"] == "Success"
    advance(clock, 0.5)
    one, two = sorted(c.name for c in sim.channels.values())
    assert one.endswith(";1") and two.endswith(";2")
    for name in (one, two):
        aid = peer.send("Getvar", Channel=name, Variable="HOTLINE_CALLBACK")
        assert peer.response(aid)["Value"] == "survey|7|2"
    aid = peer.send("Getvar", Channel=one, Variable="NOT_SET_ANYWHERE")
    reply = peer.response(aid)
    assert reply["Response"] == "Success" and reply["Value"] == ""
    peer.send("CoreShowChannels")
    states = {dict(m)["Channel"]: dict(m)["ChannelState"] for m in peer.read_all()
              if m[0] == ("Event", "CoreShowChannel")}
    assert states[one] != "6"  # ringing: not answered yet
    advance(clock, 2.0)
    peer.send("CoreShowChannels")
    states = {dict(m)["Channel"]: dict(m)["ChannelState"] for m in peer.read_all()
              if m[0] == ("Event", "CoreShowChannel")}
    assert states[one] == "6"
    advance(clock, 6.0)
    assert one not in sim.channels
    aid = peer.send("Getvar", Channel=one, Variable="HOTLINE_CALLBACK")
    reply = peer.response(aid)
    assert reply["Response"] == "Error" and reply["Message"] == "No such channel"
