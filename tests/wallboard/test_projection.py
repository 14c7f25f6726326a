"""The Wallboard projection: counters, service levels (GB/T 33358 and 80/20), ASA/AHT, day rollover, config."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from callcenter.wallboard.projection import Thresholds, Wallboard, WallboardConfigError

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def call(board: Wallboard, call_id: str, arrive: float, answer: float | None = None, end: float | None = None,
         abandon: float | None = None, queue: str = "hotline-general", agent: str = "1001") -> None:
    board.on_acd_event("call", {"call_id": call_id, "state": "queued", "queue": queue}, at(arrive), "13812341234")
    if answer is not None:
        board.on_acd_event("call", {"call_id": call_id, "state": "connected", "agent_id": agent}, at(answer))
    if end is not None:
        board.on_acd_event("call", {"call_id": call_id, "state": "ended", "agent_id": agent}, at(end))
    if abandon is not None:
        board.on_acd_event("call", {"call_id": call_id, "state": "abandoned", "queue": queue}, at(abandon))


def test_service_levels_asa_aht_and_abandonment():
    """Answer within 15 s / 20 s and abandonment give GB/T 33358 and 80/20 levels with colours; ASA/AHT averages."""
    board = Wallboard()
    call(board, "a", 0, answer=10, end=70)        # waited 10 s, talked 60 s
    call(board, "b", 0, answer=18, end=48)        # 18 s: inside 80/20, outside 15 s
    call(board, "c", 0, answer=40, end=100)       # 40 s: outside both
    call(board, "d", 0, abandon=30)
    board.on_acd_event("agent", {"agent_id": "1001", "state": "wrap_up"}, at(100))
    board.on_acd_event("agent", {"agent_id": "1001", "state": "ready"}, at(110))  # 10 s wrap-up after c
    totals = board.snapshot(at(120))["totals"]
    assert (totals["offered"], totals["answered"], totals["abandoned"]) == (4, 3, 1)
    assert totals["connection_rate"] == 0.75 and totals["connection_status"] == "red"
    assert totals["service_level_15s"] == 0.25 and totals["service_level_80_20"] == 0.5
    assert totals["asa_seconds"] == pytest.approx((10 + 18 + 40) / 3, abs=0.1)
    assert totals["aht_seconds"] == pytest.approx((60 + 30 + 60 + 10) / 3, abs=0.1)
    assert totals["abandonment_rate"] == 0.25 and totals["abandonment_status"] == "red"
    [entry] = board.abandoned_calls
    assert entry["call_id"] == "d" and entry["waited_seconds"] == 30 and entry["number"] == "13812341234"


def test_connection_rate_colours_follow_thresholds():
    """19 of 20 answered is exactly 95 %: green; 18 of 20 amber (≥ 85 %); configurable thresholds move it."""
    board = Wallboard()
    for i in range(19):
        call(board, f"ok{i}", 0, answer=5)
    call(board, "lost", 0, abandon=50)
    assert board.snapshot(at(60))["totals"]["connection_status"] == "green"
    call(board, "lost2", 0, abandon=50)
    assert board.snapshot(at(60))["totals"]["connection_status"] == "amber"
    strict = Wallboard(Thresholds.from_section({"connection_green": 0.99, "connection_amber": 0.97}))
    for i in range(19):
        call(strict, f"ok{i}", 0, answer=5)
    call(strict, "lost", 0, abandon=50)
    assert strict.snapshot(at(60))["totals"]["connection_status"] == "red"


def test_requeue_keeps_first_arrival_and_day_rolls_over_at_local_midnight():
    """A second 'queued' for one call does not count it twice; counters reset at Shanghai midnight."""
    board = Wallboard()
    call(board, "a", 0)
    board.on_acd_event("call", {"call_id": "a", "state": "queued", "queue": "hotline-general"}, at(20))
    board.on_acd_event("call", {"call_id": "a", "state": "connected", "agent_id": "1001"}, at(25))
    snap = board.snapshot(at(30))
    assert snap["totals"]["offered"] == 1 and snap["totals"]["asa_seconds"] == 25
    midnight = datetime(2026, 11, 23, 16, 0, 1, tzinfo=timezone.utc)  # 00:00:01 on the 24th in Shanghai
    snap = board.snapshot(midnight)
    assert snap["day"] == "2026-11-24" and snap["totals"]["offered"] == 0
    call(board, "lost-in-outage", 0)  # queued, never heard of again
    board.snapshot(midnight + timedelta(days=1))
    assert "lost-in-outage" not in board.waiting


def test_live_figures_and_paused_reasons_come_from_the_acd_snapshot():
    """Waiting/longest wait per queue and agents by state come from set_live; paused agents grouped by reason."""
    board = Wallboard()
    board.set_live({"queues": {"hotline-general": {"waiting": 3, "longest_wait": 200.0}},
                    "agents": {"ready": 1, "paused": 2}, "callbacks_waiting": 2},
                   [{"agent_id": "1", "state": "paused", "reason": "lunch"},
                    {"agent_id": "2", "state": "paused", "reason": "lunch"}])
    board.set_callbacks_pending(3)
    snap = board.snapshot(at(0))
    assert snap["totals"]["waiting"] == 3 and snap["totals"]["longest_wait_status"] == "red"
    assert snap["agents"] == {"by_state": {"ready": 1, "paused": 2}, "paused_by_reason": {"lunch": 2}}
    assert snap["callbacks_pending"] == 5


@pytest.mark.parametrize("section", [{"connection_green": "high"}, {"no_such": 1}, {"timezone": "Mars/Base"},
                                     {"connection_amber": 0.99, "connection_green": 0.95}, {"sl_green": -1}])
def test_bad_thresholds_are_refused_with_a_stable_error(section):
    """Each bad [wallboard] value raises WallboardConfigError naming the key."""
    with pytest.raises(WallboardConfigError) as info:
        Thresholds.from_section(section)
    assert info.value.error_id == "wallboard.bad_config" and info.value.details["key"]
