"""The store side of in-queue callback retries: the guarded claim, the recorded failure, and that
the /callbacks page (callcenter.callbacks.web) still lists and closes what the ACD leaves pending."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from callcenter.callbacks.web import queue_callback_done, queue_callbacks_waiting
from callcenter.db import make_engine
from callcenter.routing.store import RoutingStore
from callcenter.web.errors import ApiError

NOW = datetime(2025, 11, 24, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(db_url):
    s = RoutingStore(make_engine(db_url))
    yield s
    s.engine.dispose()


def booked(store, call_id="c1", number="13800000001", priority=3):
    assert store.add_callback(call_id=call_id, number=number, queue="hotline-general", reason="requested",
                              now=NOW, priority=priority, skill="general")


def test_one_claim_per_attempt(store):
    """Two ACDs that loaded the same row (attempts 0) claim it: only the first gets it, with the
    attempt counted and a lease; a claim with a stale attempt count or before the lease ends fails."""
    booked(store)
    lease = NOW + timedelta(minutes=2)
    first = store.claim_callback("c1", 0, NOW, lease)
    assert (first.attempts, first.next_attempt_at, first.priority, first.skill) == (1, lease, 3, "general")
    assert store.claim_callback("c1", 0, NOW, lease) is None  # the other ACD
    assert store.claim_callback("c1", 1, NOW, lease) is None  # reloaded after the claim: lease not over
    assert store.claim_callback("unknown", 0, NOW, lease) is None


def test_failed_attempt_then_unreachable(store):
    """A failed attempt leaves the row pending, due at the retry time (stored in UTC whatever the
    offset given), with the reason; without a retry time it becomes unreachable, freeing the number."""
    booked(store)
    store.claim_callback("c1", 0, NOW, NOW)
    shanghai = timezone(timedelta(hours=8))
    retry = (NOW + timedelta(minutes=30)).astimezone(shanghai)
    assert store.callback_attempt_failed(1, 1, "busy", NOW, retry)
    [entry] = store.dialable_callbacks()
    assert (entry.state, entry.attempts, entry.last_reason, entry.next_attempt_at) == ("pending", 1, "busy", retry)
    assert store.claim_callback("c1", 1, NOW + timedelta(minutes=29), NOW) is None  # not due yet
    assert store.claim_callback("c1", 1, retry, retry + timedelta(minutes=2)).attempts == 2
    assert store.callback_attempt_failed(1, 2, "no answer", retry, None)
    assert store.dialable_callbacks() == []
    [entry] = store.callbacks("unreachable")
    assert (entry.attempts, entry.last_reason) == (2, "no answer")
    booked(store, call_id="c2")  # the one-pending-per-number index no longer blocks the number


def test_the_callbacks_page_lists_and_closes_a_retried_row(store):
    """After a failed attempt the row is on the /callbacks page's list; an agent who called by hand
    marks it done there, and then the ACD can neither claim it nor record an attempt over it."""
    booked(store)
    store.add_callback(call_id="c9", number="13800000009", queue="hotline-general", reason="requested", now=NOW)
    store.claim_callback("c1", 0, NOW, NOW)
    store.callback_attempt_failed(1, 1, "busy", NOW, NOW + timedelta(minutes=30))
    assert [r["number"] for r in queue_callbacks_waiting(store.engine)] == ["13800000001"]
    queue_callback_done(store.engine, 1, NOW + timedelta(minutes=5))
    assert store.claim_callback("c1", 1, NOW + timedelta(hours=1), NOW + timedelta(hours=1)) is None
    assert not store.callback_attempt_failed(1, 1, "busy", NOW, None)
    assert [e.state for e in store.callbacks(None) if e.call_id == "c1"] == ["done"]
    with pytest.raises(ApiError):
        queue_callback_done(store.engine, 1, NOW)


def test_an_unreachable_row_stays_on_the_callbacks_page_until_someone_calls(store):
    """When the ACD's attempts are used up the row is unreachable: the /callbacks list keeps showing it
    (with its state) and an agent can still mark it done; a done row leaves the list."""
    booked(store)
    store.claim_callback("c1", 0, NOW, NOW)
    assert store.callback_attempt_failed(1, 1, "busy", NOW, None)
    (row,) = queue_callbacks_waiting(store.engine)
    assert (row["number"], row["state"]) == ("13800000001", "unreachable")
    queue_callback_done(store.engine, row["id"], NOW + timedelta(minutes=5))
    assert queue_callbacks_waiting(store.engine) == []
