"""Corrections stored in the database (SQLite and PostgreSQL) and read back for training."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import pytest_twisted
from sqlalchemy import func, select

from callcenter.db import make_engine
from ticketing.intake.corrections import CorrectionStore, intake_correction, load_corrections, record_correction
from ticketing.intake.errors import DataError, InvalidCorrection

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc)


def test_record_and_load_corrections(db_url):
    """Recorded corrections come back in order, with the latest last; the order id is kept."""
    first = record_correction("路灯坏了好几天", "department", "urban-management", url=db_url, now=NOW)
    second = record_correction("路灯坏了好几天", "department", "power", url=db_url, source="misrouted",
                               order_id="GD-20261123-0001", now=NOW + timedelta(minutes=1))
    assert second > first
    rows = load_corrections(db_url)
    assert [(c.field, c.value, c.source) for c in rows] == [
        ("department", "urban-management", "agent"), ("department", "power", "misrouted")]


def test_invalid_correction_changes_nothing(db_url):
    """A bad value or a naive timestamp raises and stores no row."""
    engine = make_engine(db_url)
    store = CorrectionStore(engine)
    with pytest.raises(InvalidCorrection):
        store.record("路灯坏了", "department", "police", now=NOW)
    with pytest.raises(InvalidCorrection):
        store.record("路灯坏了", "department", "power", now=datetime(2026, 11, 23, 9, 30))
    with pytest.raises(InvalidCorrection):
        store.record("路灯坏了", "category", "no-such-category", now=NOW)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(intake_correction)).scalar() == 0
    engine.dispose()


def test_loading_from_an_unmigrated_database_names_the_fix(tmp_path):
    """Without the table, loading says to run `callcenter db upgrade`."""
    with pytest.raises(DataError, match="db upgrade"):
        load_corrections(f"sqlite:///{tmp_path / 'empty.sqlite3'}")


@pytest_twisted.inlineCallbacks
def test_record_later_runs_in_a_thread_pool(sqlite_url):
    """From the reactor, recording goes through a thread pool and fires with the new id."""
    from twisted.internet import reactor
    from twisted.python.threadpool import ThreadPool

    pool = ThreadPool(1, 1, name="intake-test")
    pool.start()
    try:
        store = CorrectionStore(make_engine(sqlite_url))
        new_id = yield store.record_later(reactor, pool, "楼道有煤气味", "urgency", "urgent", now=NOW)
        assert isinstance(new_id, int)
        assert [c.value for c in store.all()] == ["urgent"]
        store.engine.dispose()
    finally:
        pool.stop()
