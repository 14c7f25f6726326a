"""Retention on SQLite and PostgreSQL: an order finished more than personal_data_days ago loses its
caller's number and name, its recordings (files) and transcripts, and gets one audit row; a recent
finished order and an old open one keep everything; a dry run counts and changes nothing; the CLI
and the hotline's periodic job run the same thing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import func, insert, select, update
from twisted.internet.task import Clock

from callcenter.asr.jobs import transcription_jobs, transcripts
from callcenter.audit.retention import Retention, RetentionJob
from callcenter.audit.tables import access_log
from callcenter.db import make_engine
from ticketing.persistence.tables import work_orders
from ticketing.service import WorkOrderService

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc)
ORDER = {"type": "complaint", "category": "illegal-construction", "district": "haishu",
         "summary": "张三反映楼顶违章搭建，电话13812341234", "description": "3号楼楼顶正在搭建彩钢板房。",
         "address": "海曙区某小区3号楼", "caller_name": "张三", "caller_phone": "13812341234"}


@pytest.fixture
def world(db_url, tmp_path):
    from callcenter.config import load_config

    engine = make_engine(db_url)
    service = WorkOrderService.from_config(load_config(None), engine)
    yield engine, service, Path(tmp_path)
    engine.dispose()


def _order(engine, service, spool: Path, call: str, *, status: str, finished_days_ago: int) -> str:
    from ticketing.service import Actor

    order = service.create(dict(ORDER, call_ids=[call]), Actor("agent1", "agent"), NOW - timedelta(days=400))
    wav = spool / f"{call}.wav"
    wav.write_bytes(b"RIFF" + b"\0" * 64)
    at = (NOW - timedelta(days=400)).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(update(work_orders).where(work_orders.c.number == order["number"])
                     .values(status=status, updated_at=NOW - timedelta(days=finished_days_ago)))
        job = conn.execute(insert(transcription_jobs).values(recording_path=str(wav), call_id=call, status="done",
                                                             created_at=at)).inserted_primary_key[0]
        conn.execute(insert(transcripts).values(call_id=call, job_id=job, recording_path=str(wav),
                                                text="我叫张三，电话13812341234", words=[], model="test",
                                                language="zh", duration=3.0, rtf=0.1, created_at=at))
    return order["number"]


def _state(engine, spool: Path) -> dict:
    with engine.connect() as conn:
        orders = {r.number: (r.caller_phone, r.caller_name, r.status, r.category)
                  for r in conn.execute(select(work_orders))}
        calls = sorted(c for (c,) in conn.execute(select(transcripts.c.call_id)))
        audited = sorted(r for (r,) in conn.execute(select(access_log.c.record)
                                                   .where(access_log.c.kind == "retention.anonymise")))
    return {"orders": orders, "transcripts": calls, "audited": audited,
            "files": sorted(p.name for p in spool.glob("*.wav"))}


def _three(world):
    engine, service, spool = world
    old = _order(engine, service, spool, "1700000000.1", status="closed", finished_days_ago=366)
    recent = _order(engine, service, spool, "1700000000.2", status="cancelled", finished_days_ago=100)
    still_open = _order(engine, service, spool, "1700000000.3", status="in_progress", finished_days_ago=500)
    return old, recent, still_open


def test_a_dry_run_counts_the_old_finished_order_and_changes_nothing(world):
    engine, _, spool = world
    old, _, _ = _three(world)
    before = _state(engine, spool)
    result = Retention(engine, [spool], 365).run(NOW, dry_run=True)
    assert (result.orders, result.transcripts, result.recordings, result.numbers) == (1, 1, 1, [old])
    assert _state(engine, spool) == before


def test_a_real_run_anonymises_only_orders_finished_before_the_period_and_keeps_the_order(world):
    engine, _, spool = world
    old, recent, still_open = _three(world)
    result = Retention(engine, [spool], 365).run(NOW)
    assert (result.orders, result.transcripts, result.recordings) == (1, 1, 1)
    after = _state(engine, spool)
    assert after["orders"][old] == (None, None, "closed", "illegal-construction")
    assert after["orders"][recent][:2] == after["orders"][still_open][:2] == ("13812341234", "张三")
    assert after["transcripts"] == ["1700000000.2", "1700000000.3"]
    assert after["files"] == ["1700000000.2.wav", "1700000000.3.wav"]
    assert after["audited"] == [old]
    with engine.connect() as conn:
        summary = conn.execute(select(work_orders.c.summary).where(work_orders.c.number == old)).scalar_one()
        jobs = conn.execute(select(func.count()).select_from(transcription_jobs)).scalar_one()
    assert "13812341234" not in summary and "张三" not in summary and "违章搭建" in summary
    assert jobs == 2
    again = Retention(engine, [spool], 365).run(NOW)
    assert again.orders == 0 and _state(engine, spool)["audited"] == [old]


def test_the_cli_dry_run_prints_counts_and_the_real_run_anonymises(world, tmp_path, capsys):
    from callcenter.cli import main

    engine, _, spool = world
    old, _, _ = _three(world)
    config = tmp_path / "hotline.toml"
    config.write_text(f'[database]\nurl = "{engine.url.render_as_string(hide_password=False)}"\n'
                      f'[recordings]\ndirs = ["{spool}"]\n[retention]\npersonal_data_days = 300\n')
    before = _state(engine, spool)
    assert main(["retention", "run", "--dry-run", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "would anonymise 1 orders" in out and old in out and "nothing changed" in out
    assert _state(engine, spool) == before
    assert main(["retention", "run", "--config", str(config)]) == 0
    assert "anonymised 1 orders" in capsys.readouterr().out
    assert _state(engine, spool)["audited"] == [old]


def test_a_period_shorter_than_thirty_days_is_refused_by_the_cli(world, tmp_path, capsys):
    from callcenter.cli import main

    engine, _, spool = world
    config = tmp_path / "hotline.toml"
    config.write_text(f'[database]\nurl = "{engine.url.render_as_string(hide_password=False)}"\n'
                      '[retention]\npersonal_data_days = 7\n')
    assert main(["retention", "run", "--config", str(config)]) == 2
    assert "personal_data_days" in capsys.readouterr().err


@pytest_twisted.ensureDeferred
async def test_the_periodic_job_runs_after_each_interval_on_the_clock(world):
    """Nothing at start; one interval later the old order is anonymised (in the pool, not the reactor)."""
    from twisted.internet import reactor
    from twisted.python.threadpool import ThreadPool

    engine, _, spool = world
    old, _, _ = _three(world)
    clock = Clock()
    clock.advance(NOW.timestamp())
    pool = ThreadPool(1, 1)
    pool.start()
    job = RetentionJob(Retention(engine, [spool], 365), clock, reactor, pool, interval=3600)
    try:
        job.start()
        assert job.pending is None and _state(engine, spool)["audited"] == []
        clock.advance(3600)
        await job.pending
        assert job.last.orders == 1 and _state(engine, spool)["audited"] == [old]
    finally:
        job.stop()
        pool.stop()
