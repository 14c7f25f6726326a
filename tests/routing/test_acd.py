"""The queue controller against AMI bytes: ringing, answering, misses, hold, abandon, callbacks, supervision."""
from __future__ import annotations

import pytest

from callcenter.db import make_engine
from callcenter.routing.acd import CallHandle, CallState, QueueController
from callcenter.routing.agent import AgentState
from callcenter.routing.errors import RoutingError
from callcenter.routing.policy import Router
from callcenter.routing.skills import Agent, QueueRules
from callcenter.routing.store import RoutingStore
from tests.routing.wire import FakeAsterisk

CALLER = "PJSIP/trunk-00000001"
CALLID = "1795420800.1"


def make(db_url=None, *, general=None, agents=(("1001", 80), ("1002", 60)), max_missed=2):
    pbx = FakeAsterisk()
    router = Router([general or QueueRules("hotline-general", "general"), QueueRules("hotline-urgent", "urgent")])
    store = RoutingStore(make_engine(db_url)) if db_url else None
    acd = QueueController(pbx.client, pbx.clock, router, store=store, ring_timeout=15, wrap_up_seconds=10,
                          max_missed=max_missed)
    for ext, level in agents:
        acd.add_agent(Agent(ext, {"general": level}, device=f"PJSIP/{ext}"))
    acd.startService()
    return pbx, acd, store


def ready(acd, *agents):
    for a in agents:
        acd.agent_login(a)
        acd.agent_ready(a)


def expect_ring(pbx, device, channel=CALLER):
    """The controller sets AGENT_DEVICE and RING_TIMEOUT, then redirects to hotline-connect."""
    setvar = pbx.take_one("Setvar")
    assert (setvar["Channel"], setvar["Variable"], setvar["Value"]) == (channel, "AGENT_DEVICE", device)
    pbx.respond(setvar, Message="Variable Set")
    timeout = pbx.take_one("Setvar")
    assert (timeout["Variable"], timeout["Value"]) == ("RING_TIMEOUT", "15")
    pbx.respond(timeout, Message="Variable Set")
    redirect = pbx.take_one("Redirect")
    assert (redirect["Channel"], redirect["Context"], redirect["Exten"], redirect["Priority"]) == (
        channel, "hotline-connect", "s", "1")
    pbx.respond(redirect, Message="Redirect successful")


def dial(pbx, status, agent_channel="PJSIP/1001-00000002", channel=CALLER, callid=CALLID, bridge=True):
    """DialBegin/DialEnd for the agent's leg; an answer is followed by the bridge unless ``bridge=False``."""
    pbx.event("DialBegin", channel, CALLID, callid, dest=(agent_channel, "1795420800.2"),
              extra=[("DialString", agent_channel.split("-")[0])])
    pbx.event("DialEnd", channel, CALLID, callid, dest=(agent_channel, "1795420800.2"),
              extra=[("DialStatus", status)])
    if status == "ANSWER" and bridge:
        pbx.bridge(agent_channel, channel, callid)


def test_caller_reaches_ready_agent_and_cycle_is_logged(db_url):
    """A caller with a ready agent is redirected to ring them; answer, hangup and timed wrap-up
    move the AgentSession, and every change lands in agent_state_log; the call in queue_calls."""
    pbx, acd, store = make(db_url)
    ready(acd, "1001")
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    expect_ring(pbx, "PJSIP/1001")
    assert acd.sessions["1001"].state is AgentState.RINGING
    dial(pbx, "ANSWER")
    assert acd.sessions["1001"].state is AgentState.ON_CALL
    pbx.clock.advance(95)
    pbx.hangup("PJSIP/1001-00000002", "1795420800.2")
    assert acd.sessions["1001"].state is AgentState.WRAP_UP
    pbx.clock.advance(9.5)
    assert acd.sessions["1001"].state is AgentState.WRAP_UP
    pbx.clock.advance(0.5)
    assert acd.sessions["1001"].state is AgentState.READY
    assert acd.router.average_handle_time("general") == pytest.approx(105)
    log = [(r["from_state"], r["to_state"]) for r in store.state_log("1001")]
    assert log == [("logged_out", "paused"), ("paused", "ready"), ("ready", "ringing"), ("ringing", "on_call"),
                   ("on_call", "wrap_up"), ("wrap_up", "ready")]
    [row] = store.queue_calls()
    assert row["outcome"] == "answered" and row["agent_id"] == "1001" and row["wait_seconds"] == 0
    acd.stopService()
    store.engine.dispose()


def test_waiting_caller_hears_position_and_music_then_gets_the_freed_agent():
    """With everyone busy the caller hears announcements and hold music over AGI; when an agent
    becomes ready the caller leaves AsyncAGI for hotline-connect."""
    pbx, acd, _ = make()
    acd.agent_login("1001")  # staffed but paused
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    first = pbx.take_one("AGI")
    assert first["Command"] == 'STREAM FILE hotline/queue/zh/queue_all_busy ""'
    pbx.respond(first, Message="Added AGI command to queue")
    pbx.agi_exec(first, "0", " endpos=3404")
    moh = pbx.take_one("AGI")
    assert moh["Command"] == "EXEC MusicOnHold default,30"
    pbx.respond(moh, Message="Added AGI command to queue")
    acd.agent_ready("1001")
    expect_ring(pbx, "PJSIP/1001")
    pbx.agi_end(CALLER, CALLID, CALLID)  # the redirect ended the AGI; the music command fails quietly
    assert pbx.take() == []
    assert acd.calls[CALLID].state is CallState.RINGING


def test_announcement_gives_position_and_estimated_wait():
    """A third waiting caller hears "2 callers ahead" and a wait of position × AHT / staffed agents
    (3 × 180 s / 1 = 9 minutes), one AGI command at a time, then hold music."""
    pbx, acd, _ = make(agents=(("1001", 80),))
    ready(acd, "1001")
    acd.enqueue(CallHandle("c0", "PJSIP/trunk-00000000"), "hotline-general")  # takes the agent
    pbx.ok_all()
    for i in (1, 2):
        acd.enqueue(CallHandle(f"c{i}", f"PJSIP/trunk-0000000{i}"), "hotline-general")
        pbx.ok_all()  # accepted, still playing
    acd.enqueue(CallHandle("c3", "PJSIP/trunk-00000003"), "hotline-general")
    heard = []
    for _ in range(8):
        action = pbx.take_one("AGI")
        assert action["Channel"] == "PJSIP/trunk-00000003"
        heard.append(action["Command"])
        pbx.respond(action)
        if action["Command"].startswith("EXEC MusicOnHold"):
            break
        pbx.agi_exec(action)
    assert heard == ['STREAM FILE hotline/queue/zh/queue_all_busy ""', 'STREAM FILE hotline/queue/zh/queue_position ""',
                     'SAY NUMBER 2 ""', 'STREAM FILE hotline/queue/zh/queue_position_unit ""',
                     'STREAM FILE hotline/queue/zh/queue_wait ""', 'SAY NUMBER 9 ""',
                     'STREAM FILE hotline/queue/zh/queue_wait_minutes ""', "EXEC MusicOnHold default,30"]


def test_no_answer_moves_to_next_agent_and_misses_pause(db_url):
    """A ring-out counts a miss, the caller comes back through the requeue AGI keeping their place
    and rings the next agent; an agent who misses max_missed rings in a row is paused 'missed'."""
    pbx, acd, store = make(db_url, max_missed=2)
    ready(acd, "1001", "1002")
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    expect_ring(pbx, "PJSIP/1001")
    dial(pbx, "NOANSWER")
    assert acd.sessions["1001"].missed == 1 and acd.sessions["1001"].state is AgentState.READY
    pbx.agi_start(CALLER, CALLID, CALLID, "requeue")
    expect_ring(pbx, "PJSIP/1002")
    dial(pbx, "BUSY", agent_channel="PJSIP/1002-00000003")
    pbx.agi_start(CALLER, CALLID, CALLID, "requeue")
    # 1002 missed too; 1001 is the only one ready: tried again rather than leaving the caller waiting
    expect_ring(pbx, "PJSIP/1001")
    dial(pbx, "NOANSWER")
    assert acd.sessions["1001"].state is AgentState.PAUSED and acd.sessions["1001"].reason == "missed"
    pbx.agi_start(CALLER, CALLID, CALLID, "requeue")
    expect_ring(pbx, "PJSIP/1002")
    dial(pbx, "ANSWER", agent_channel="PJSIP/1002-00000004")
    assert acd.sessions["1002"].state is AgentState.ON_CALL
    reasons = [(r["to_state"], r["reason"]) for r in store.state_log("1001")]
    assert ("paused", "missed") in reasons
    acd.stopService()
    store.engine.dispose()


def test_abandoned_caller_is_recorded_and_listed_for_callback(db_url):
    """A caller who hangs up while waiting is recorded as abandoned and appears once on the callback list;
    an agent ringing for a caller who hangs up goes back to ready without a miss."""
    pbx, acd, store = make(db_url)
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    pbx.ok_all()
    pbx.clock.advance(42)
    pbx.hangup(CALLER, CALLID, CALLID)
    assert acd.router.waiting_count() == 0 and CALLID not in acd.calls
    # same number again, abandons during the ring
    ready(acd, "1001")
    acd.enqueue(CallHandle("1795420800.9", "PJSIP/trunk-00000009", "13800000001"), "hotline-general")
    expect_ring(pbx, "PJSIP/1001", channel="PJSIP/trunk-00000009")
    dial(pbx, "CANCEL", channel="PJSIP/trunk-00000009", callid="1795420800.9")
    pbx.hangup("PJSIP/trunk-00000009", "1795420800.9", "1795420800.9")
    assert acd.sessions["1001"].state is AgentState.READY and acd.sessions["1001"].missed == 0
    rows = store.queue_calls()
    assert [(r["outcome"], r["wait_seconds"]) for r in rows] == [("abandoned", 42), ("abandoned", 0)]
    [entry] = store.callbacks()
    assert (entry.number, entry.reason, entry.call_id) == ("13800000001", "abandoned", CALLID)
    # The same citizen calls again and gets through: no callback is owed any more.
    acd.enqueue(CallHandle("1795420800.20", "PJSIP/trunk-00000020", "13800000001"), "hotline-general")
    expect_ring(pbx, "PJSIP/1001", channel="PJSIP/trunk-00000020")
    dial(pbx, "ANSWER", channel="PJSIP/trunk-00000020", callid="1795420800.20")
    assert store.callbacks() == []
    acd.stopService()
    store.engine.dispose()


def test_callback_in_queue_keeps_place_and_is_placed_when_turn_comes(db_url):
    """After the maximum wait the caller is offered a callback, presses 1 and hangs up keeping their place;
    when an agent frees up the controller reserves them and Originates the caller's number into
    hotline-connect; the citizen answers and rings the agent; a second booking for the number is refused."""
    general = QueueRules("hotline-general", "general", max_wait=60)
    pbx, acd, store = make(db_url, general=general)
    acd.agent_login("1001")
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    busy = pbx.take_one("AGI")
    pbx.respond(busy)
    pbx.agi_exec(busy)
    moh = pbx.take_one("AGI")
    pbx.respond(moh)
    pbx.clock.advance(61)  # the tick marks the offer; it is made when the music chunk ends
    pbx.agi_exec(moh)
    offer = pbx.take_one("AGI")
    assert offer["Command"] == "GET DATA hotline/queue/zh/queue_callback_offer 5000 1"
    pbx.respond(offer)
    pbx.agi_exec(offer, "1")
    booked = pbx.take_one("AGI")
    assert booked["Command"] == 'STREAM FILE hotline/queue/zh/queue_callback_booked ""'
    pbx.respond(booked)
    pbx.agi_exec(booked)
    bye = pbx.take_one("AGI")
    assert bye["Command"] == "HANGUP"
    pbx.respond(bye)
    pbx.hangup(CALLER, CALLID, CALLID)
    assert acd.router.waiting(CALLID).callback
    assert [e.reason for e in store.callbacks()] == ["requested"]
    # A later caller from the same number cannot book a second callback.
    later = acd.request_callback(CallHandle("1795420800.7", "PJSIP/trunk-00000007", "13800000001"),
                                 "hotline-general")
    assert later.result is False
    # Their turn: the agent is reserved and the number is called.
    acd.agent_ready("1001")
    originate = pbx.take_one("Originate")
    assert originate["Channel"] == "Local/13800000001@hotline-pstn"
    assert (originate["Context"], originate["Exten"]) == ("hotline-connect", "s")
    (row,) = store.callbacks()  # the call carries its row and attempt, so any controller knows it
    assert set(originate.getall("Variable")) == {
        f"HOTLINE_CALLID={CALLID}", "AGENT_DEVICE=PJSIP/1001", "RING_TIMEOUT=15", f"HOTLINE_CALLBACK=queue|{row.id}|1"}
    assert acd.sessions["1001"].state is AgentState.RINGING
    pbx.respond(originate, Message="Originate successfully queued")
    pbx.originate_response(originate, answered=True)
    local = "Local/13800000001@hotline-pstn-00000005;1"
    dial(pbx, "ANSWER", channel=local)
    assert acd.sessions["1001"].state is AgentState.ON_CALL
    assert store.callbacks() == []
    assert [e.state for e in store.callbacks(None)] == ["done"]
    acd.stopService()
    store.engine.dispose()


def test_a_callbacks_trunk_leg_is_not_taken_for_the_agents(db_url):
    """On Asterisk the ;2 half of ``Local/<number>@hotline-pstn`` Dials the citizen's trunk (capture h08)
    and its DialBegin/DialEnd carry HOTLINE_CALLID too: that leg is not the agent's — the agent stays
    ringing when the citizen answers, and the call connects when the agent's own phone answers."""
    pbx, acd, store = make(db_url)
    booked = acd.request_callback(CallHandle(CALLID, "PJSIP/trunk-00000001", "13800000001"), "hotline-general")
    assert booked.result is True
    ready(acd, "1001")
    originate = pbx.take_one("Originate")
    pbx.respond(originate, Message="Originate successfully queued")
    two = "Local/13800000001@hotline-pstn-00000005;2"
    dial(pbx, "ANSWER", agent_channel="PJSIP/citizens-trunk-00000009", channel=two, bridge=False)
    assert acd.sessions["1001"].state is AgentState.RINGING
    pbx.originate_response(originate, answered=True)
    dial(pbx, "ANSWER", channel="Local/13800000001@hotline-pstn-00000005;1")
    assert acd.sessions["1001"].state is AgentState.ON_CALL
    acd.stopService()
    store.engine.dispose()


def test_unreachable_callback_frees_the_agent_and_stays_listed(db_url):
    """A callback nobody answers frees the reserved agent (not a miss) and stays pending with an attempt."""
    pbx, acd, store = make(db_url)
    booked = acd.request_callback(CallHandle(CALLID, "PJSIP/trunk-00000001", "13800000002"), "hotline-general")
    assert booked.result is True
    ready(acd, "1001")
    originate = pbx.take_one("Originate")
    pbx.respond(originate, Message="Originate successfully queued")
    pbx.originate_response(originate, answered=False, reason=3)
    assert acd.sessions["1001"].state is AgentState.READY and acd.sessions["1001"].missed == 0
    [entry] = store.callbacks()
    assert entry.attempts == 1
    acd.stopService()
    store.engine.dispose()


def test_supervisor_whisper_and_refusals():
    """Whisper originates the supervisor's phone into ChanSpy on the agent's channel with qw;
    bad modes, devices with CR/LF and agents not on a call are refused with nothing sent."""
    pbx, acd, _ = make()
    ready(acd, "1001")
    errors = []
    acd.supervise("PJSIP/9001", "1001", "whisper").addErrback(lambda f: errors.append(f.value.error_id))
    assert errors == ["routing.not_on_call"]
    acd.enqueue(CallHandle(CALLID, CALLER), "hotline-general")
    expect_ring(pbx, "PJSIP/1001")
    dial(pbx, "ANSWER")
    d = acd.supervise("PJSIP/9001", "1001", "whisper")
    spy = pbx.take_one("Originate")
    assert (spy["Channel"], spy["Application"], spy["Data"]) == ("PJSIP/9001", "ChanSpy", "PJSIP/1001-00000002,qw")
    pbx.respond(spy, Message="Originate successfully queued")
    pbx.originate_response(spy, answered=True)
    assert d.result.answered
    errors = []
    acd.supervise("PJSIP/9001", "1001", "shout").addErrback(lambda f: errors.append(f.value.error_id))
    assert errors == ["routing.bad_spy_mode"]
    with pytest.raises(RoutingError):
        acd.supervise("PJSIP/9001\r\nAction: Hangup", "1001", "listen")
    with pytest.raises(RoutingError):
        acd.enqueue(CallHandle("x1", "PJSIP/a\r\nAction: Hangup"), "hotline-general")
    assert pbx.take() == []


def test_controller_from_default_config_and_ivr_handover():
    """The shipped [routing] defaults build valid queues; the IVR's on_transfer hook hands an
    IvrCall (uniqueid = HOTLINE_CALLID, caller number, language) to the ACD."""
    from datetime import datetime, timezone

    from callcenter.config import load_config
    from callcenter.routing.acd import controller_from_config
    from ivr.runner import IvrCall

    cfg = load_config(None, environ={}).with_overrides({"routing.agents": [
        {"id": "1001", "device": "PJSIP/1001", "skills": {"general": 80, "urgent": 70}, "groups": ["front"]}]})
    pbx = FakeAsterisk()
    acd = controller_from_config(cfg, pbx.client, pbx.clock)
    assert acd.router.queue("hotline-urgent").overflow_to == "hotline-general"
    acd.startService()
    ready(acd, "1001")
    call = IvrCall(channel=CALLER, uniqueid=CALLID, linkedid=CALLID, caller="13800000001", caller_name="张三",
                   flow="hotline", started_at=datetime(2026, 11, 23, tzinfo=timezone.utc), lang="en")
    qc = acd.on_transfer(call, "hotline-urgent", "urgent", 10)
    assert (qc.call_id, qc.caller.number, qc.language, qc.caller.priority) == (CALLID, "13800000001", "en", 10)
    expect_ring(pbx, "PJSIP/1001")
    with pytest.raises(RoutingError) as err:
        controller_from_config(load_config(None, environ={}).with_overrides(
            {"routing.queues.hotline-general.overflow_to": "nowhere"}), pbx.client, pbx.clock)
    assert err.value.error_id == "routing.unknown_queue"
    acd.stopService()


def test_silent_ring_frees_the_agent_but_a_callback_dial_may_ring_longer():
    """If no DialEnd ever comes, the agent is freed after ring timeout + grace (not a miss);
    while a citizen's phone is still ringing for a callback the reserved agent is kept."""
    pbx, acd, _ = make()
    ready(acd, "1001")
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    expect_ring(pbx, "PJSIP/1001")
    pbx.clock.advance(24.9)
    assert acd.sessions["1001"].state is AgentState.RINGING
    pbx.clock.advance(0.2)
    assert acd.sessions["1001"].state is AgentState.READY and acd.sessions["1001"].missed == 0
    acd.request_callback(CallHandle("cb1", "PJSIP/trunk-00000005", "13800000002"), "hotline-general")
    originate = pbx.take_one("Originate")
    pbx.respond(originate, Message="Originate successfully queued")
    pbx.clock.advance(26)
    assert acd.sessions["1001"].state is AgentState.RINGING
    pbx.originate_response(originate, answered=False, reason=3)
    assert acd.sessions["1001"].state is AgentState.READY


def test_repeat_and_elderly_callers_get_priority_points_and_restart_keeps_repeats(db_url):
    """A second call from a number within 24 h gets the repeat points, a registered elderly number
    its points on top of the IVR's priority; a restarted controller learns recent callers from queue_calls."""
    pbx, acd, store = make(db_url)
    acd.elderly_numbers = frozenset({"13900000088"})
    first = acd.enqueue(CallHandle("c1", "PJSIP/trunk-00000001", "13800000001"), "hotline-general")
    assert first.caller.priority == 0
    pbx.hangup("PJSIP/trunk-00000001", "c1", "c1")
    pbx.clock.advance(3600)
    again = acd.enqueue(CallHandle("c2", "PJSIP/trunk-00000002", "13800000001"), "hotline-general")
    assert again.caller.priority == 2
    elder = acd.enqueue(CallHandle("c3", "PJSIP/trunk-00000003", "13900000088"), "hotline-urgent", priority=10)
    assert elder.caller.priority == 13
    acd.stopService()
    restarted = QueueController(pbx.client, pbx.clock, Router([QueueRules("hotline-general", "general")]),
                                store=store)
    assert restarted.prime_recent_calls().result == 1
    later = restarted.enqueue(CallHandle("c4", "PJSIP/trunk-00000004", "13800000001"), "hotline-general")
    assert later.caller.priority == 2
    pbx.clock.advance(25 * 3600)
    fresh = restarted.enqueue(CallHandle("c5", "PJSIP/trunk-00000005", "13800000002"), "hotline-general")
    assert fresh.caller.priority == 0
    store.engine.dispose()


def test_snapshot_and_current_call_for_wallboard_and_desk():
    """The snapshot counts waiting callers and the longest wait per queue and agents by state;
    current_call gives the desk the agent's call."""
    pbx, acd, _ = make()
    ready(acd, "1001")
    acd.agent_login("1002")
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    expect_ring(pbx, "PJSIP/1001")
    acd.enqueue(CallHandle("c2", "PJSIP/trunk-00000002"), "hotline-general")
    pbx.clock.advance(12)
    snap = acd.snapshot()
    assert snap["queues"]["hotline-general"] == {"waiting": 1, "longest_wait": 12.0}
    assert snap["queues"]["hotline-urgent"] == {"waiting": 0, "longest_wait": 0.0}
    assert snap["agents"]["ringing"] == 1 and snap["agents"]["paused"] == 1
    assert acd.current_call("1001").call_id == CALLID and acd.current_call("1002") is None


def test_reconnect_settles_calls_that_ended_while_disconnected():
    """After FullyBooted the controller lists live channels; a talking call whose channels are gone
    puts its agent into wrap-up, a waiting caller who vanished counts as abandoned."""
    pbx, acd, _ = make()
    ready(acd, "1001")
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    expect_ring(pbx, "PJSIP/1001")
    dial(pbx, "ANSWER")
    acd.enqueue(CallHandle("c2", "PJSIP/trunk-00000002"), "hotline-general")
    acd.enqueue(CallHandle("c3", "PJSIP/trunk-00000003"), "hotline-general")
    pbx.ok_all()
    pbx.send_frame([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", "100"),
                    ("LastReload", "100"), ("Status", "Fully Booted")])
    listing = pbx.take_one("CoreShowChannels")
    aid = listing.get("ActionID")
    pbx.send_frame([("Response", "Success"), ("ActionID", aid), ("EventList", "start"),
                    ("Message", "Channels will follow")])
    pbx.send_frame([("Event", "CoreShowChannel"), ("ActionID", aid)]
                   + pbx.snapshot("PJSIP/trunk-00000003", "c3", "c3")[:13]
                   + [("Application", "AGI"), ("ApplicationData", "agi:async"), ("Duration", "00:00:05"),
                      ("BridgeId", "")])
    pbx.send_frame([("Event", "CoreShowChannelsComplete"), ("ActionID", aid), ("EventList", "Complete"),
                    ("ListItems", "1")])
    assert acd.sessions["1001"].state is AgentState.WRAP_UP
    assert acd.router.waiting("c2") is None and acd.stats["abandoned"] == 1
    assert acd.router.waiting("c3") is not None


def test_prometheus_collector_reports_live_queue_figures():
    """The ACD collector exposes waiting callers, longest wait, agents by state and event counts."""
    from prometheus_client import CollectorRegistry, generate_latest

    from callcenter.routing.metrics import register_metrics

    pbx, acd, _ = make()
    registry = CollectorRegistry()
    register_metrics(acd, registry)
    acd.agent_login("1001")
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    pbx.clock.advance(7)
    text = generate_latest(registry).decode()
    assert 'hotline_queue_waiting{queue="hotline-general"} 1.0' in text
    assert 'hotline_queue_longest_wait_seconds{queue="hotline-general"} 7.0' in text
    assert 'hotline_agents{state="paused"} 1.0' in text
    assert 'hotline_acd_events_total{kind="answered"} 0.0' in text


def test_transfer_to_a_department_line_and_back_on_failure():
    """Transfer redirects the caller to hotline-transfer,<line>,1 and the agent goes to wrap-up when
    their leg ends; if the department does not answer the caller comes back into the queue."""
    pbx, acd, _ = make()
    ready(acd, "1001")
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    expect_ring(pbx, "PJSIP/1001")
    dial(pbx, "ANSWER")
    errors = []
    acd.transfer("1001", "2001;Action").addErrback(lambda f: errors.append(f.value.error_id))
    assert errors == ["routing.bad_line"] and pbx.take() == []
    acd.transfer("1001", "2001")
    redirect = pbx.take_one("Redirect")
    assert (redirect["Channel"], redirect["Context"], redirect["Exten"]) == (CALLER, "hotline-transfer", "2001")
    pbx.respond(redirect, Message="Redirect successful")
    pbx.hangup("PJSIP/1001-00000002", "1795420800.2")
    assert acd.sessions["1001"].state is AgentState.WRAP_UP
    pbx.agi_start(CALLER, CALLID, CALLID, "requeue")
    assert acd.router.waiting(CALLID) is not None
    assert pbx.take_one("AGI")["Command"].startswith("STREAM FILE")


def test_hang_up_from_the_desk():
    """The desk's hang-up sends a Hangup action for the caller's channel; refused when not on a call."""
    pbx, acd, _ = make()
    ready(acd, "1001")
    errors = []
    acd.hang_up("1001").addErrback(lambda f: errors.append(f.value.error_id))
    assert errors == ["routing.not_on_call"]
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    expect_ring(pbx, "PJSIP/1001")
    dial(pbx, "ANSWER")
    acd.hang_up("1001")
    assert pbx.take_one("Hangup")["Channel"] == CALLER


def test_overflow_after_max_wait_rings_an_agent_of_the_other_queue(db_url):
    """An urgent caller nobody on the urgent desk can take overflows after max_wait to the general
    queue, whose free agent is rung at once; queue_calls keeps the overflow and the answer."""
    pbx = FakeAsterisk()
    router = Router([QueueRules("hotline-general", "general"),
                     QueueRules("hotline-urgent", "urgent", max_wait=30, overflow_to="hotline-general")])
    store = RoutingStore(make_engine(db_url))
    acd = QueueController(pbx.client, pbx.clock, router, store=store, ring_timeout=15)
    acd.add_agent(Agent("1001", {"general": 50}, device="PJSIP/1001"))
    acd.startService()
    ready(acd, "1001")
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-urgent", "urgent", 10)
    pbx.ok_all()
    pbx.clock.advance(29)
    assert acd.sessions["1001"].state is AgentState.READY
    pbx.clock.advance(2)
    assert acd.stats["overflows"] == 1 and acd.sessions["1001"].state is AgentState.RINGING
    setvar = [m for m in pbx.take() if m.name == "Setvar"][0]
    assert setvar["Value"] == "PJSIP/1001"
    pbx.respond(setvar)
    rows = store.queue_calls()
    assert [(r["queue"], r["skill"], r["outcome"]) for r in rows] == [("hotline-urgent", "urgent", "overflow")]
    acd.stopService()
    store.engine.dispose()


# -- DialEnd ANSWER is "answered, bridging"; BridgeEnter of both legs is "connected" ------------

AGENT_LEG = "PJSIP/1001-00000002"


def test_answer_counts_only_when_both_legs_are_in_one_bridge(db_url):
    """DialEnd ANSWER leaves the agent ringing and the call answered-not-connected (no answered count,
    no queue_calls row); the agent's leg alone in the bridge is not enough; the caller's BridgeEnter
    into the same bridge (2 channels inside) connects the call."""
    pbx, acd, store = make(db_url)
    heard = []
    acd.add_listener(lambda kind, data: heard.append(data["state"]) if kind == "call" else None)
    ready(acd, "1001")
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    expect_ring(pbx, "PJSIP/1001")
    dial(pbx, "ANSWER", bridge=False)
    assert acd.calls[CALLID].state is CallState.ANSWERED
    assert acd.sessions["1001"].state is AgentState.RINGING and acd.stats["answered"] == 0
    pbx.bridge_enter(AGENT_LEG, "1795420800.2", "b-1", 1)
    assert acd.sessions["1001"].state is AgentState.RINGING
    pbx.bridge_enter(CALLER, CALLID, "b-other", 2, CALLID)  # some other bridge: still not together
    assert acd.calls[CALLID].state is CallState.ANSWERED
    pbx.bridge_enter(CALLER, CALLID, "b-1", 2, CALLID)
    assert acd.calls[CALLID].state is CallState.CONNECTED
    assert acd.sessions["1001"].state is AgentState.ON_CALL and acd.stats["answered"] == 1
    assert heard[-2:] == ["answered", "connected"]
    [row] = store.queue_calls()
    assert (row["outcome"], row["agent_id"]) == ("answered", "1001")
    acd.stopService()
    store.engine.dispose()


def test_agent_leg_dropped_before_the_bridge_requeues_the_caller(db_url):
    """The agent answers but their leg hangs up before the bridge: not a talk (no on_call in the state
    log, no answered row), a miss for that agent and a bridge_failed count; the caller comes back through
    the requeue AGI, keeps their place, and is connected to the next agent once bridged."""
    pbx, acd, store = make(db_url)
    ready(acd, "1001", "1002")
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    expect_ring(pbx, "PJSIP/1001")
    dial(pbx, "ANSWER", bridge=False)
    pbx.hangup(AGENT_LEG, "1795420800.2")
    assert acd.sessions["1001"].state is AgentState.READY and acd.sessions["1001"].missed == 1
    assert acd.stats == dict(acd.stats, answered=0, bridge_failed=1)
    assert acd.calls[CALLID].state is CallState.RETURNING
    pbx.agi_start(CALLER, CALLID, CALLID, "requeue")
    expect_ring(pbx, "PJSIP/1002")  # 1001 declined it by dropping: the other agent first
    dial(pbx, "ANSWER", agent_channel="PJSIP/1002-00000003")
    assert acd.sessions["1002"].state is AgentState.ON_CALL and acd.stats["answered"] == 1
    [row] = store.queue_calls()
    assert (row["outcome"], row["agent_id"]) == ("answered", "1002")
    assert "on_call" not in [r["to_state"] for r in store.state_log("1001")]
    acd.stopService()
    store.engine.dispose()


def test_caller_gone_between_answer_and_bridge_is_abandoned_not_talking(db_url):
    """The caller hangs up after the agent answered but before the bridge: abandoned (on the callback
    list), the agent goes back to ready without a miss and never was on a call."""
    pbx, acd, store = make(db_url)
    ready(acd, "1001")
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    expect_ring(pbx, "PJSIP/1001")
    dial(pbx, "ANSWER", bridge=False)
    pbx.hangup(CALLER, CALLID, CALLID)
    pbx.hangup(AGENT_LEG, "1795420800.2")
    assert acd.sessions["1001"].state is AgentState.READY and acd.sessions["1001"].missed == 0
    assert (acd.stats["answered"], acd.stats["abandoned"], acd.stats["bridge_failed"]) == (0, 1, 0)
    [row] = store.queue_calls()
    assert row["outcome"] == "abandoned"
    assert [e.number for e in store.callbacks()] == ["13800000001"]
    assert "on_call" not in [r["to_state"] for r in store.state_log("1001")]
    acd.stopService()
    store.engine.dispose()


def test_missing_bridge_event_is_settled_by_asking_asterisk():
    """Answered but neither BridgeEnter nor Hangup arrives: after bridge_timeout the controller lists
    the channels (CoreShowChannels) and, seeing both legs in one bridge, counts the call connected."""
    pbx, acd, _ = make()
    ready(acd, "1001")
    acd.enqueue(CallHandle(CALLID, CALLER, "13800000001"), "hotline-general")
    expect_ring(pbx, "PJSIP/1001")
    dial(pbx, "ANSWER", bridge=False)
    pbx.clock.advance(acd.bridge_timeout - 0.5)
    assert pbx.take() == []
    pbx.clock.advance(0.5)
    listing = pbx.take_one("CoreShowChannels")
    aid = listing.get("ActionID")
    pbx.send_frame([("Response", "Success"), ("ActionID", aid), ("EventList", "start"),
                    ("Message", "Channels will follow")])
    for channel, uid in ((CALLER, CALLID), (AGENT_LEG, "1795420800.2")):
        pbx.send_frame([("Event", "CoreShowChannel"), ("ActionID", aid)] + pbx.snapshot(channel, uid, CALLID)[:13]
                       + [("Application", "Dial"), ("ApplicationData", "PJSIP/1001,15,g"), ("Duration", "00:00:12"),
                          ("BridgeId", "b-7")])
    pbx.send_frame([("Event", "CoreShowChannelsComplete"), ("ActionID", aid), ("EventList", "Complete"),
                    ("ListItems", "2")])
    assert acd.calls[CALLID].state is CallState.CONNECTED
    assert acd.sessions["1001"].state is AgentState.ON_CALL and acd.stats["answered"] == 1
    pbx.clock.advance(acd.bridge_timeout)
    assert pbx.take() == []  # settled: Asterisk is not asked again
