"""The outboxes' one claim (``callcenter.delivery.claim_batch``), through both outboxes that use it:
webhook notifications and SMS.  On PostgreSQL two "processes" (two engines, two connection pools)
race through the production ``claim_due`` functions; on both databases the dead and suppressed
rules hold."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from callcenter.callbacks import outbox as webhooks
from callcenter.db import make_engine
from callcenter.sms import outbox as sms
from callcenter.sms import policy
from callcenter.sms.tables import sms_messages
from tests.failover.test_two_of_each_worker import assert_each_once, race

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)   # 11:00 in Shanghai: no quiet hours
QUIET = policy.QuietHours()


def _sms(conn, phone: str, kind: str = "accepted") -> int:
    return sms.enqueue(conn, kind=kind, phone=phone, lang="zh", body="您的工单已受理", now=NOW, quiet=QUIET)


@pytest.mark.postgres
def test_two_workers_on_postgresql_claim_every_row_of_both_outboxes_exactly_once(pg_url):
    """60 webhook notifications and 60 SMS: two processes claiming in batches of 7 at the same time
    each get a disjoint share, and together every row, each once with one attempt counted."""
    engines = [make_engine(pg_url, pool_size=2), make_engine(pg_url, pool_size=2)]
    try:
        with engines[0].begin() as conn:
            events = {webhooks.enqueue(conn, "unreachable", {"number": f"N{i}"}, NOW) for i in range(60)}
            messages = {_sms(conn, f"1380000{i:04d}") for i in range(60)}
        claimed = race(engines, lambda e, w: [r["event_id"] for r in webhooks.claim_due(
            e, NOW, w, limit=7, lease=120, max_attempts=3)[0]])
        assert all(claimed)   # both processes got a share
        assert_each_once(claimed, events)
        claimed = race(engines, lambda e, w: [r["id"] for r in sms.claim_due(
            e, NOW, w, limit=7, lease=120, max_attempts=3)[0]])
        assert all(claimed)
        assert_each_once(claimed, messages)
        with engines[0].connect() as conn:
            assert set(conn.execute(select(sms_messages.c.state, sms_messages.c.attempts))) == {("sending", 1)}
        assert webhooks.counts(engines[0]) == {"sending": 60}
    finally:
        for engine in engines:
            engine.dispose()


def test_a_row_lost_on_its_last_attempt_is_dead_and_opted_out_notifications_are_suppressed(db_url):
    """A notification to an opted-out number is suppressed at the claim (a code to it still goes); a
    row whose worker died during its last allowed attempt is dead once its lease has passed, never
    sent a third time; the webhook outbox follows the same rule."""
    engine = make_engine(db_url)
    try:
        assert sms.opt_out(engine, "13800000002", "TD", NOW)
        with engine.begin() as conn:
            plain, opted, code = _sms(conn, "13800000001"), _sms(conn, "13800000002"), \
                _sms(conn, "13800000002", kind="code")
            event = webhooks.enqueue(conn, "unreachable", {"number": "N1"}, NOW)
        rows, counts = sms.claim_due(engine, NOW, "w1", limit=10, lease=60, max_attempts=1)
        assert sorted(r["id"] for r in rows) == sorted([plain, code]) and counts == {"suppressed": 1, "dead": 0}
        assert {r["id"]: r["state"] for r in sms.messages(engine)}[opted] == "suppressed"
        (row,), dead = webhooks.claim_due(engine, NOW, "w1", limit=10, lease=60, max_attempts=1)
        assert row["event_id"] == event and dead == 0
        # the worker died mid-send; within the lease nobody takes the rows over, after it they are dead
        assert sms.claim_due(engine, NOW + timedelta(seconds=30), "w2", limit=10, lease=60, max_attempts=1) == (
            [], {"suppressed": 0, "dead": 0})
        later = NOW + timedelta(seconds=61)
        assert sms.claim_due(engine, later, "w2", limit=10, lease=60, max_attempts=1) == (
            [], {"suppressed": 0, "dead": 2})
        assert webhooks.claim_due(engine, later, "w2", limit=10, lease=60, max_attempts=1) == ([], 1)
        states = {r["id"]: (r["state"], r["attempts"], r["last_error"]) for r in sms.messages(engine)}
        assert states[plain][:2] == states[code][:2] == ("dead", 1)
        assert "worker lost" in states[plain][2]
        assert webhooks.counts(engine) == {"dead": 1}
        # a late answer to the dead claim changes nothing
        assert sms.accepted(engine, rows[0], later) is False
    finally:
        engine.dispose()
