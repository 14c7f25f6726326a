"""The outbox feeds either engine from the main database and survives an index outage."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import insert

from callcenter.db import make_engine
from callcenter.search.embedded import EmbeddedIndex
from callcenter.search.outbox import Feeder, Outbox
from callcenter.search.service import SearchService
from tests.search.conftest import production_index
from tests.ticketing.helpers import CALENDAR, TAXONOMY, cst, fields
from ticketing.service import Actor, WorkOrderService

AGENT = Actor("agent-1", "agent")
NOW = cst(2026, 11, 23, 10, 0)


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def _orders(engine):
    svc = WorkOrderService(engine, TAXONOMY, CALENDAR)
    a = svc.create(fields(summary="小区停水三天 / water outage", description="整栋楼停水。"), AGENT, NOW)
    b = svc.create(fields(summary="夜间施工噪音 / night noise", description="工地打桩。"), AGENT, NOW)
    return svc, a, b


def test_feeder_indexes_orders_and_transcripts_and_never_the_phone(engine, tmp_path):
    """Work orders and transcripts reach the embedded index; the caller's phone is not searchable."""
    from callcenter.asr.jobs import transcripts

    _, a, _ = _orders(engine)
    with engine.begin() as conn:
        conn.execute(insert(transcripts).values(call_id="c-1", text="我家停水了", words=[], model="m", language="zh",
                                                duration=1.0, rtf=0.1, created_at=datetime(2026, 11, 23, 2, 0)))
    index = EmbeddedIndex(tmp_path / "s.sqlite3")
    service = SearchService(engine, index)
    assert service.refresh(NOW) == 3
    assert {(h.kind, h.ref) for h in index.search("停水")} == {("workorder", a["number"]), ("transcript", "1")}
    assert index.search("13812341234") == []
    index.close()


def test_changed_order_is_reindexed_on_the_next_refresh(engine, tmp_path):
    """An update after the first feed reaches the index on the next refresh (position kept in the DB)."""
    svc, a, _ = _orders(engine)
    index = EmbeddedIndex(tmp_path / "s.sqlite3")
    service = SearchService(engine, index, refresh_seconds=0)
    service.refresh(NOW)
    svc.perform(a["number"], "cancel", {"reason": "重复 / duplicate"}, Actor("sup", "supervisor"),
                cst(2026, 11, 23, 11, 0))
    assert service.refresh(cst(2026, 11, 23, 11, 1)) == 1  # only the changed order is fed again
    assert service.refresh(cst(2026, 11, 23, 11, 2)) == 0
    assert index.search("停水") == []
    assert len(index.search("噪音")) == 1
    index.close()


def test_elasticsearch_catches_up_after_an_outage(engine, osmem_clone):
    """With the cluster unreachable the outbox keeps every change; once it is back, one drain catches up."""
    from callcenter.search.documents import SearchError

    _orders(engine)
    Feeder(engine).collect(NOW)
    down = Outbox(engine, production_index("http://127.0.0.1:9"))
    with pytest.raises(SearchError) as refused:
        down.drain()
    assert refused.value.error_id == "search.unreachable"
    assert down.pending() == 2
    up = production_index(osmem_clone.url)
    assert Outbox(engine, up, batch=1).drain() == 2
    assert down.pending() == 0
    assert len(up.search("噪音")) == 1 and up.count("workorder") == 2


@pytest.mark.postgres
def test_two_processes_feed_and_drain_one_index_without_going_back_in_time(pg_url, osmem_clone):
    """Two search services (two serve processes) on one PostgreSQL and one search server: while one
    holds the round the other skips it and leaves the outbox alone; racing each other over many rounds
    while an order keeps changing, every change reaches the index once and the index ends with the
    order's latest text (no older version applied after a newer one)."""
    import threading

    from sqlalchemy import text

    from callcenter.search.outbox import OUTBOX_LOCK, exclusive_round
    from tests.search.conftest import production_index

    engine = make_engine(pg_url)
    try:
        svc, a, _ = _orders(engine)
        one = SearchService(engine, production_index(osmem_clone.url), refresh_seconds=0)
        two = SearchService(engine, production_index(osmem_clone.url), refresh_seconds=0)
        with exclusive_round(engine) as mine:
            assert mine
            assert two.refresh(NOW) == 0 and Outbox(engine, two.index).pending() == 0  # not even fed
        assert two.refresh(NOW) == 2
        errors = []

        def race(service, rounds):
            try:
                for _ in range(rounds):
                    service.refresh(NOW)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=race, args=(s, 30)) for s in (one, two)]
        for t in threads:
            t.start()
        for i in range(10):
            with engine.begin() as conn:
                conn.execute(text("UPDATE work_orders SET description = :d, updated_at = now() WHERE number = :n"),
                             {"d": f"整栋楼停水 第{i}次更新 version{i}", "n": a["number"]})
        for t in threads:
            t.join(120)
        assert not errors
        one.refresh(NOW, force=True)
        two.refresh(NOW, force=True)
        assert Outbox(engine, one.index).pending() == 0
        assert [h.ref for h in one.index.search("version9")] == [a["number"]]
        assert one.index.search("version8") == []
        with engine.connect() as conn:  # the round's lock is not left behind
            assert conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k"),
                                {"k": OUTBOX_LOCK}).scalar() == 0
    finally:
        engine.dispose()
