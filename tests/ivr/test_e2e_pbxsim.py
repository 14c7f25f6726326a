"""End to end over TCP: the PBX simulator runs the hotline dialplan
(``AGI(agi:async,ivr)``), the real AMI client connects on loopback, and the
runner drives the shipped hotline flow while scripted callers press keys.

Work orders are real: created and read through ticketing's WorkOrderService
on the migrated test database.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import pytest_twisted
from twisted.internet import defer, threads

from callcenter.ami.client import AMIClient
from callcenter.db import make_engine
from callcenter.pbxsim.participants import CallerScript
from callcenter.pbxsim.simulator import PBXSimulator
from ivr.library import FlowLibrary
from ivr.runner import IvrRunner
from ivr.services import WorkOrderDesk
from ivr.tts import TextToSpeech

SPEED = 20.0  # the scripted world runs 20x faster than the reactor's clock


@pytest.fixture(autouse=True)
def _sounds(pbx_sounds):
    """Every hotline sound rendered where the simulator's Asterisk looks (tmp_path/asterisk-sounds/hotline):
    the simulator, like Asterisk, ends the AGI session on a sound that does not exist."""
    return pbx_sounds


class World:
    """Simulator + AMI client + IVR runner, wired like the service does."""

    @classmethod
    @defer.inlineCallbacks
    def create(cls, tmp_path, *, is_open, desk=None, speed=SPEED, **runner_kw):
        from twisted.internet import reactor
        from twisted.internet.endpoints import TCP4ClientEndpoint

        self = cls()
        self.reactor = reactor
        self.sim = PBXSimulator(reactor, speed=speed, spool_dir=tmp_path / "spool",
                                sounds_dir=tmp_path / "asterisk-sounds")
        self.port = yield self.sim.listen(0)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port.getHost().port)
        self.client = AMIClient(endpoint, "hotline", "hotline-secret", clock=reactor, resync=False,
                                ping_interval=None)
        self.client.start()
        yield self.client.when_connected()
        self.finished = []
        self._waiting = []
        self.runner = IvrRunner(
            self.client, FlowLibrary(), clock=reactor, sounds_dir=tmp_path / "asterisk-sounds" / "hotline",
            recordings_dir=tmp_path / "recordings", is_open=is_open,
            lookup=desk.lookup if desk else None, on_message=desk.on_message if desk else None,
            on_finished=self._finished, tts=TextToSpeech(),
            run_blocking=lambda fn, *a: threads.deferToThread(fn, *a), **runner_kw)
        self.runner.start()
        return self

    def _finished(self, call):
        self.finished.append(call)
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(call)

    def next_finished(self, timeout: float = 30.0) -> defer.Deferred:
        d = defer.Deferred()
        self._waiting.append(d)
        return d.addTimeout(timeout, self.reactor)

    @defer.inlineCallbacks
    def close(self):
        self.runner.stop()
        for ch in list(self.sim.channels.values()):
            if not ch.hungup:
                self.sim.hangup(ch, 16)
        yield self.client.stop()
        yield self.port.stopListening()


def _desk(db_url, clock):
    from ticketing.calendar_data import build_calendar
    from ticketing.service import WorkOrderService
    from ticketing.taxonomy import load_taxonomy

    service = WorkOrderService(make_engine(db_url), load_taxonomy(), build_calendar({}))
    desk = WorkOrderDesk(service, clock, run_blocking=lambda fn, *a: threads.deferToThread(fn, *a),
                         message_category="community-service", message_district="haishu")
    return service, desk


@pytest_twisted.inlineCallbacks
def test_caller_presses_keys_and_reaches_urgent_queue(tmp_path):
    """Keys 1 (Chinese) and 1 (urgent fault): the IVR sets IVR_ACTION=queue, IVR_QUEUE=hotline-urgent,
    skill and priority on the live channel and leaves the AGI; the path shows both keys."""
    world = yield World.create(tmp_path, is_open=lambda now: True)
    try:
        done = world.next_finished()
        ch = world.sim.dial_in("13800001234", "12345", script=CallerScript(keys=["1", "1"], key_delay=0.2))
        call = yield done
        assert call.outcome == "transfer" and call.queue == "hotline-urgent"
        assert ch.variables["IVR_ACTION"] == "queue"
        assert ch.variables["IVR_QUEUE"] == "hotline-urgent"
        assert ch.variables["IVR_SKILL"] == "urgent" and ch.variables["IVR_PRIORITY"] == "10"
        assert [(p["node"], p["keys"]) for p in call.path if p["keys"]] == [("language", "1"), ("main_menu", "1")]
        assert ch.variables["IVR_PATH"] == "welcome>language:1>screen>hours>main_menu:1>urgent_queue"
        assert world.runner.sessions == {}
    finally:
        yield world.close()


@pytest_twisted.inlineCallbacks
def test_wrong_branch_would_fail_new_request_goes_to_general_queue(tmp_path):
    """Key 3 (new request) must reach the general queue, not the urgent one."""
    world = yield World.create(tmp_path, is_open=lambda now: True)
    try:
        done = world.next_finished()
        ch = world.sim.dial_in("13800001235", "12345", script=CallerScript(keys=["2", "3"], key_delay=0.2))
        call = yield done
        assert ch.variables["IVR_QUEUE"] == "hotline-general" and call.lang == "en"
    finally:
        yield world.close()


@pytest_twisted.inlineCallbacks
def test_status_lookup_reads_a_real_work_order(tmp_path, db_url):
    """A work order created and dispatched through the ticketing service is found by number:
    the IVR reads its status and deadline back as rendered speech."""
    from ticketing.service import Actor

    world = None
    service, desk = _desk(db_url, None)
    now = datetime.now(timezone.utc)
    order = service.create({"type": "complaint", "category": "street-vending", "district": "haishu",
                            "summary": "占道经营 13812345678", "caller_phone": "13812345678"},
                           Actor("a1", "agent"), now)
    service.perform(order["number"], "dispatch", {}, Actor("d1", "dispatcher"), now)
    try:
        from twisted.internet import reactor

        desk.clock = reactor
        world = yield World.create(tmp_path, is_open=lambda now: True, desk=desk)
        done = world.next_finished()
        keys = ["1", "2", order["number"] + "#", ""]
        ch = world.sim.dial_in("13900000009", "12345", script=CallerScript(keys=keys, key_delay=0.2))
        call = yield done
        steps = {p["node"]: p for p in call.path}
        assert steps["order_number"]["keys"] == order["number"]
        assert steps["lookup"]["result"] == "found:dispatched"
        assert call.vars["order_number"] == order["number"] and call.outcome == "hangup"
        assert ch.variables["IVR_ACTION"] == "hangup"
        tts = list((tmp_path / "asterisk-sounds" / "hotline" / "tts" / "zh").glob("*.wav"))
        assert len(tts) == 1  # the read-back was rendered to audio for this call
    finally:
        if world is not None:
            yield world.close()


@pytest_twisted.inlineCallbacks
def test_a_caller_hears_their_own_open_order_without_keying_its_number(tmp_path, db_url):
    """A citizen who reported something from 13812345678 presses 1 and 2: the IVR finds their dispatched
    order by the calling number and reads it back (rendered to audio), then they hang up."""
    from ticketing.service import Actor

    world = None
    service, desk = _desk(db_url, None)
    now = datetime.now(timezone.utc)
    order = service.create({"type": "complaint", "category": "street-vending", "district": "haishu",
                            "summary": "占道经营", "caller_phone": "13812345678"}, Actor("a1", "agent"), now)
    service.perform(order["number"], "dispatch", {}, Actor("d1", "dispatcher"), now)
    try:
        from twisted.internet import reactor

        desk.clock = reactor
        world = yield World.create(tmp_path, is_open=lambda now: True, desk=desk,
                                   lookup_by_caller=desk.lookup_by_caller)
        done = world.next_finished()
        world.sim.dial_in("13812345678", "12345", script=CallerScript(keys=["1", "2", ""], key_delay=0.2))
        call = yield done
        steps = {p["node"]: p for p in call.path}
        assert steps["my_orders"]["result"] == "found:dispatched" and "order_number" not in steps
        assert call.outcome in ("hangup", "caller_hangup")
        assert list((tmp_path / "asterisk-sounds" / "hotline" / "tts" / "zh").glob("*.wav"))  # the read-back was spoken
    finally:
        if world is not None:
            yield world.close()


@pytest_twisted.inlineCallbacks
def test_unknown_order_number_is_said_not_found(tmp_path, db_url):
    """A well-formed number that does not exist takes the not-found branch."""
    world = None
    service, desk = _desk(db_url, None)
    try:
        from twisted.internet import reactor

        desk.clock = reactor
        world = yield World.create(tmp_path, is_open=lambda now: True, desk=desk)
        done = world.next_finished()
        world.sim.dial_in("13900000010", "12345",
                          script=CallerScript(keys=["1", "2", "2099010199999#", ""], key_delay=0.2))
        call = yield done
        assert {p["node"]: p for p in call.path}["lookup"]["result"] == "not_found"
        assert any(p["node"] == "lookup_not_found" for p in call.path)
    finally:
        if world is not None:
            yield world.close()


@pytest_twisted.inlineCallbacks
def test_after_hours_message_becomes_draft_work_order(tmp_path, db_url):
    """After hours, key 1 records a message; the recording (a real WAV from the PBX) becomes a
    registered, undispatched work order carrying the caller's number and the call id."""
    from ticketing.service import Actor

    world = None
    service, desk = _desk(db_url, None)
    try:
        from twisted.internet import reactor

        desk.clock = reactor
        world = yield World.create(tmp_path, is_open=lambda now: False, desk=desk)
        done = world.next_finished()
        ch = world.sim.dial_in("13700001111", "12345", script=CallerScript(keys=["1", "1"], key_delay=0.2))
        call = yield done
        assert call.outcome == "hangup" and ch.variables["IVR_ACTION"] == "hangup"
        (number,) = desk.drafts
        order = service.get(number, Actor("s1", "supervisor"))
        assert order["status"] == "registered" and order["caller_phone"] == "13700001111"
        assert order["call_ids"] == [call.uniqueid]
        recording = order["description"].split("recording: ")[1]
        assert recording.startswith(str(tmp_path / "recordings")) and recording.endswith(".wav")
        from pathlib import Path

        assert Path(recording).stat().st_size > 44  # the PBX really wrote the caller's audio there
        assert {p["node"]: p for p in call.path}["leave_message"]["result"].startswith("recorded:")
    finally:
        if world is not None:
            yield world.close()


@pytest_twisted.inlineCallbacks
def test_caller_hanging_up_mid_menu_frees_the_session(tmp_path):
    """A caller who hangs up during the main menu ends the session as caller_hangup."""
    world = yield World.create(tmp_path, is_open=lambda now: True)
    try:
        done = world.next_finished()
        world.sim.dial_in("13800001236", "12345",
                          script=CallerScript(keys=["1", ""], key_delay=0.2, hangup_after=30.0))
        call = yield done
        assert call.outcome == "caller_hangup" and world.runner.sessions == {}
        assert call.path[-1]["node"] == "main_menu"
    finally:
        yield world.close()


@pytest_twisted.inlineCallbacks
def test_satisfaction_callback_survey_reports_the_key(tmp_path):
    """An async Originate to the citizen into hotline-survey runs the survey flow with WORKORDER and
    CALLBACK_ID from the channel; the citizen's key 3 is reported as the survey outcome."""
    outcomes = []
    world = yield World.create(tmp_path, is_open=lambda now: True, speed=2.5,
                               on_outcome=lambda call, name, value: outcomes.append((call.vars, name, value)))
    try:
        world.sim.add_pstn("13800000001", "answer", answer_after=0.5, digits="3", digit_after=5.0,
                           hangup_after=60.0)  # 5 s into the rating menu
        done = world.next_finished()
        answered = yield world.client.originate("Local/13800000001@hotline-pstn", context="hotline-survey",
                                                exten="s", timeout=10,
                                                variables={"WORKORDER": "2026112300001", "CALLBACK_ID": "cb-7"})
        assert answered.reason == 4
        call = yield done
        assert call.flow == "survey"
        (vars_, name, value), = [o for o in outcomes if o[1] == "survey"]
        assert (name, value) == ("survey", "dissatisfied")
        assert vars_["WORKORDER"] == "2026112300001" and vars_["CALLBACK_ID"] == "cb-7"
        assert {p["node"] for p in call.path} >= {"intro", "summary", "rate", "dissatisfied", "goodbye"}
    finally:
        yield world.close()


@pytest_twisted.inlineCallbacks
def test_service_wiring_stores_each_visit(tmp_path, db_url):
    """build_runner (as serve/demo wire it) runs the hotline on the simulator and stores the visit's
    path in the database for reports."""
    from twisted.internet import reactor, task

    from callcenter.config import load_config
    from ivr.services import build_runner
    from ivr.store import IvrVisitStore

    world = yield World.create(tmp_path, is_open=lambda now: True)
    world.runner.stop()  # replaced by the runner build_runner makes
    cfg = load_config(None, environ={}).with_overrides({
        "ivr.sounds_dir": str(tmp_path / "asterisk-sounds" / "hotline"), "ivr.recordings_dir": str(tmp_path / "r")})
    engine = make_engine(db_url)
    done = world.next_finished()
    runner = build_runner(cfg, world.client, reactor, db_engine=engine, on_finished=world._finished)
    runner.start()
    try:
        world.sim.dial_in("13800001299", "12345", script=CallerScript(keys=["1", "3"], key_delay=0.2))
        call = yield done
        store = IvrVisitStore(engine)
        window = (call.started_at - timedelta(minutes=1), call.started_at + timedelta(minutes=1))
        for _ in range(50):
            rows = yield threads.deferToThread(store.visits, *window)
            if rows:
                break
            yield task.deferLater(reactor, 0.1, lambda: None)
        (row,) = rows
        assert row["call_id"] == call.uniqueid and row["outcome"] == "transfer"
        assert row["queue"] == "hotline-general" and row["caller"] == "138****1299"
        assert [p["node"] for p in row["path"]][-1] == "general_queue"
    finally:
        runner.stop()
        yield world.close()


class AcdWorld:
    """Simulator, AMI client, the real ACD and the runner, on one accelerated clock."""

    @classmethod
    @defer.inlineCallbacks
    def create(cls, tmp_path, *, is_open=lambda now: True):
        from twisted.internet import reactor
        from twisted.internet.endpoints import TCP4ClientEndpoint

        from callcenter.routing.acd import QueueController
        from callcenter.routing.policy import Router
        from callcenter.routing.skills import Agent, QueueRules
        from callcenter.routing.timewarp import ScaledClock
        from ivr.services import acd_hooks

        self = cls()
        self.reactor = reactor
        self.sim = PBXSimulator(reactor, speed=SPEED, spool_dir=tmp_path / "spool",
                                sounds_dir=tmp_path / "asterisk-sounds")
        self.port = yield self.sim.listen(0)
        self.sim.add_device("PJSIP/1001", answer_after=1.0, talk_seconds=2.0)
        clock = ScaledClock(reactor, SPEED)
        self.ami = AMIClient(TCP4ClientEndpoint(reactor, "127.0.0.1", self.port.getHost().port), "hotline",
                             "hotline-secret", clock=clock, resync=False)
        self.acd = QueueController(self.ami, clock, Router([QueueRules("hotline-general", "general"),
                                                           QueueRules("hotline-urgent", "urgent")]),
                                   ring_timeout=4, wrap_up_seconds=2, sounds_dir="hotline")
        self.acd.add_agent(Agent("1001", {"general": 80}, device="PJSIP/1001"))
        self.connected, self.finished, self.outcomes = [], [], []
        self.acd.add_listener(lambda kind, data: self.connected.append(data["agent_id"])
                              if kind == "call" and data.get("state") == "connected" else None)
        on_transfer, on_callback = acd_hooks(self.acd)
        self.runner = IvrRunner(self.ami, FlowLibrary(), clock=clock,
                                sounds_dir=tmp_path / "asterisk-sounds" / "hotline",
                                recordings_dir=tmp_path / "rec", is_open=is_open, on_transfer=on_transfer,
                                on_callback=on_callback, on_finished=self.finished.append,
                                on_outcome=lambda call, name, value: self.outcomes.append((call.flow, name, value)))
        self.ami.start()
        yield self.ami.when_connected()
        self.acd.startService()
        self.runner.start()
        self.acd.agent_login("1001")
        return self

    @defer.inlineCallbacks
    def wait_finished(self, count: int, timeout: float = 20.0):
        deadline = self.reactor.seconds() + timeout
        while len(self.finished) < count and self.reactor.seconds() < deadline:
            yield task_sleep(self.reactor, 0.05)

    @defer.inlineCallbacks
    def close(self):
        self.runner.stop()
        yield self.acd.stopService()
        for c in list(self.sim.channels.values()):
            if not c.hungup:
                self.sim.hangup(c, 16)
        yield self.ami.stop()
        yield self.port.stopListening()


@pytest_twisted.inlineCallbacks
def test_ivr_to_acd_to_agent_then_one_key_rating(tmp_path):
    """The whole caller journey: keys 1, 3 in the IVR hand the caller (still in AsyncAGI) to the ACD,
    which rings agent 1001; the agent answers, talks and hangs up; the caller is still there, so the
    dialplan runs the rating flow, where key 1 is reported as satisfied."""
    world = yield AcdWorld.create(tmp_path)
    try:
        world.acd.agent_ready("1001")
        ch = world.sim.dial_in("13800007777", "12345", script=CallerScript(keys=["1", "3", "1"], key_delay=0.2))
        yield world.wait_finished(2)
        assert world.connected == ["1001"]
        assert world.outcomes == [("rating", "rating", "satisfied")]
        ivr, rating = world.finished
        assert ivr.flow == "hotline" and ivr.outcome == "transfer" and ivr.queue == "hotline-general"
        assert rating.flow == "rating" and rating.channel == ch.name == ivr.channel
    finally:
        yield world.close()


@pytest_twisted.inlineCallbacks
def test_after_hours_callback_request_keeps_number_and_place_in_the_acd(tmp_path):
    """After hours, key 2 books a callback with the ACD for the caller's own number; the IVR confirms
    and ends the call, and the ACD holds that number's place."""
    world = yield AcdWorld.create(tmp_path, is_open=lambda now: False)
    try:
        world.sim.dial_in("13800008888", "12345", script=CallerScript(keys=["1", "2"], key_delay=0.2))
        yield world.wait_finished(1)
        (call,) = world.finished
        assert {p["node"]: p for p in call.path}["callback"]["result"] == "callback_booked"
        assert call.outcome == "hangup" and call.path[-1]["node"] == "callback_booked"
        assert world.acd.router.callback_pending_for("13800008888") == call.uniqueid
    finally:
        yield world.close()


def task_sleep(reactor, seconds):
    from twisted.internet import task

    return task.deferLater(reactor, seconds, lambda: None)


pytestmark = pytest.mark.slow
