"""The ACD's records on SQLite and PostgreSQL: state log, queue calls, callback list."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from callcenter.db import make_engine
from callcenter.routing.agent import AgentSession
from callcenter.routing.store import RoutingStore

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def test_agent_state_changes_are_logged_in_order(db_url):
    """Each AgentSession change becomes one agent_state_log row with reason and call id."""
    store = RoutingStore(make_engine(db_url))
    s = AgentSession("1001", max_missed=1)
    changes = [s.login(T0), s.ready(T0), s.offer(T0 + timedelta(seconds=1), "call-9"),
               s.no_answer(T0 + timedelta(seconds=16))]
    assert store.record_state_changes(changes) == 4
    rows = store.state_log("1001")
    assert [(r["from_state"], r["to_state"]) for r in rows] == [
        ("logged_out", "paused"), ("paused", "ready"), ("ready", "ringing"), ("ringing", "paused")]
    assert rows[-1]["reason"] == "missed" and rows[-1]["call_id"] == "call-9"
    store.engine.dispose()


def test_one_pending_callback_per_number(db_url):
    """A second pending callback to a number is refused by the database; after it is done, a new one is allowed."""
    store = RoutingStore(make_engine(db_url))
    assert store.add_callback(call_id="c1", number="13800000001", queue="general", reason="abandoned", now=T0)
    assert not store.add_callback(call_id="c2", number="13800000001", queue="general", reason="requested", now=T0)
    [entry] = store.callbacks()
    assert entry.call_id == "c1"
    store.set_callback_state(entry.id, "done", T0, attempted=True)
    assert store.callbacks() == []
    assert store.add_callback(call_id="c3", number="13800000001", queue="general", reason="abandoned", now=T0)
    assert [e.attempts for e in store.callbacks(None)] == [1, 0]
    store.engine.dispose()


def test_queue_calls_keep_wait_and_outcome(db_url):
    """A leave record stores the outcome and the computed wait in seconds."""
    store = RoutingStore(make_engine(db_url))
    store.record_queue_call(call_id="c1", queue="general", skill="general", priority=0, number="13800000001",
                            enqueued_at=T0, left_at=T0 + timedelta(seconds=12), outcome="answered", agent_id="1001")
    [row] = store.queue_calls("general")
    assert row["wait_seconds"] == 12 and row["agent_id"] == "1001"
    store.engine.dispose()
