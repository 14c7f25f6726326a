"""Leadership by a PostgreSQL advisory lock: one leader per group, the next takes over, a leader that
loses its lock connection fences itself."""
from __future__ import annotations

import time

import pytest
import pytest_twisted
from sqlalchemy import text
from twisted.internet import task


def _sleep(reactor, seconds):
    return task.deferLater(reactor, seconds, lambda: None)


async def _until(reactor, predicate, limit):
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline
        await _sleep(reactor, 0.05)


@pytest.mark.postgres
@pytest_twisted.ensureDeferred
async def test_one_leader_per_group_and_the_standby_takes_over_when_it_stops(pg_url):
    """Of two campaigners only one is elected; when it releases the lock the other is elected within a poll;
    another group has its own leader meanwhile."""
    from twisted.internet import reactor

    from callcenter.failover.leadership import Leadership

    events = []
    a = Leadership(reactor, pg_url, group="g1", name="a", on_elected=lambda: events.append("a"))
    b = Leadership(reactor, pg_url, group="g1", name="b", on_elected=lambda: events.append("b"))
    other = Leadership(reactor, pg_url, group="g2", name="c", on_elected=lambda: events.append("c"))
    for x in (a, b, other):
        x.poll_interval = 0.2
    try:
        a.start()
        await _until(reactor, lambda: a.leader, 10)
        b.start()
        other.start()
        await _until(reactor, lambda: other.leader, 10)
        await _sleep(reactor, 1.0)
        assert not b.leader and events.count("b") == 0
        await a.stop()
        await _until(reactor, lambda: b.leader, 5)
        assert sorted(events) == ["a", "b", "c"] and events.index("b") > events.index("a")
    finally:
        for x in (a, b, other):
            await x.stop()


@pytest.mark.postgres
@pytest_twisted.ensureDeferred
async def test_a_leader_whose_lock_connection_dies_fences_itself(pg_url):
    """pg_terminate_backend on the leader's lock session (the database restarted, the network broke):
    the leader calls on_lost within a check interval, and a standby can then lead."""
    from twisted.internet import reactor

    from callcenter.db import make_engine
    from callcenter.failover.leadership import Leadership

    lost = []
    a = Leadership(reactor, pg_url, group="fence", name="a-fence", on_lost=lambda: lost.append(True))
    b = Leadership(reactor, pg_url, group="fence", name="b-fence")
    a.check_interval = b.poll_interval = 0.2
    engine = make_engine(pg_url)
    try:
        a.start()
        await _until(reactor, lambda: a.leader, 10)
        b.start()
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE application_name = 'hotline-leader a-fence'"))
        await _until(reactor, lambda: lost, 5)
        assert not a.leader
        await _until(reactor, lambda: b.leader, 5)
    finally:
        await a.stop()
        await b.stop()
        engine.dispose()
