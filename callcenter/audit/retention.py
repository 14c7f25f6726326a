"""Retention of citizens' personal data: an order closed, merged or cancelled more than
``[retention] personal_data_days`` ago (365 by default) loses its caller's number and name (and
any phone number or that name in its summary, description and reply), and its call recordings
and transcripts are deleted (files and rows).  The order itself — category, district, department,
deadlines, satisfaction, history — stays, so every statistic stays.  Each anonymised order gets
one ``retention.anonymise`` row in the audit log, which is also how a later run skips it; the
search index is told in the same transaction (the order re-indexed, its transcripts removed).

:class:`Retention` is blocking; :class:`RetentionJob` runs it in a thread pool every
``[retention] interval_hours`` (24) in the hotline, and ``callcenter retention run [--dry-run]``
once.  A dry run counts what a real run would change and changes nothing."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, delete, exists, or_, select, update

from callcenter.asr.jobs import transcription_jobs, transcripts
from callcenter.audit.service import SYSTEM, AuditLog
from callcenter.audit.tables import access_log
from callcenter.personal_data import mask_name, mask_text
from ticketing.domain.lifecycle import OPEN, STATUSES
from ticketing.persistence.tables import work_orders

log = logging.getLogger(__name__)

FINISHED = tuple(sorted(code for code in STATUSES if code not in OPEN))
KIND = "retention.anonymise"


@dataclass
class RetentionResult:
    cutoff: datetime
    dry_run: bool
    orders: int = 0
    transcripts: int = 0
    recordings: int = 0          # files deleted (dry run: files that would be)
    numbers: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would anonymise" if self.dry_run else "anonymised"
        return (f"{verb} {self.orders} orders finished before {self.cutoff.isoformat()}: "
                f"{self.transcripts} transcripts, {self.recordings} recording files"
                f"{' (dry run: nothing changed)' if self.dry_run else ''}")


class Retention:
    """Anonymise finished orders older than ``days`` (blocking)."""

    min_days = 30            # a shorter period would erase orders still being reviewed
    max_days = 3650
    batch = 200              # orders per transaction

    def __init__(self, engine, roots: list[Path], days: int):
        if not self.min_days <= days <= self.max_days:
            raise ValueError(f"retention.personal_data_days must be {self.min_days}..{self.max_days}, not {days}")
        self.engine = engine
        self.roots = [Path(r).resolve() for r in roots]
        self.days = days
        self.audit = AuditLog(engine)

    @classmethod
    def from_config(cls, config, engine) -> "Retention":
        from callcenter.recordings.store import roots_from_config

        days = int(config.number("retention.personal_data_days", cls.min_days, cls.max_days, unit="days",
                                 default=365))
        return cls(engine, roots_from_config(config), days)

    def _due(self, conn, cutoff: datetime, limit: int):
        done = exists().where(and_(access_log.c.kind == KIND, access_log.c.record == work_orders.c.number))
        return conn.execute(select(work_orders).where(work_orders.c.status.in_(FINISHED),
                                                      work_orders.c.updated_at < cutoff, ~done)
                            .order_by(work_orders.c.id).limit(limit)).all()

    def _file(self, path: str | None) -> Path | None:
        if not path:
            return None
        try:
            real = Path(path).resolve()
        except (OSError, ValueError):
            return None
        if any(real.is_relative_to(root) for root in self.roots) and real.is_file():
            return real
        return None

    def run(self, now: datetime, *, dry_run: bool = False) -> RetentionResult:
        cutoff = now - timedelta(days=self.days)
        result = RetentionResult(cutoff, dry_run)
        if dry_run:
            with self.engine.connect() as conn:
                for row in self._due(conn, cutoff, 10_000_000):
                    texts, files = self._speech(conn, row)
                    result.orders += 1
                    result.transcripts += len(texts)
                    result.recordings += len(files)
                    result.numbers.append(row.number)
            return result
        while True:
            files_to_delete: list[Path] = []
            with self.engine.begin() as conn:
                rows = self._due(conn, cutoff, self.batch)
                for row in rows:
                    texts, files = self._speech(conn, row)
                    self._anonymise(conn, row, texts, now)
                    files_to_delete += files
                    result.orders += 1
                    result.transcripts += len(texts)
                    result.numbers.append(row.number)
            # after the commit: a file deleted before a rolled-back transaction would be lost for nothing
            for path in files_to_delete:
                try:
                    path.unlink()
                    result.recordings += 1
                except FileNotFoundError:
                    pass
            if len(rows) < self.batch:
                break
        log.info("personal data retention", extra={"fields": {"event": "retention.run", "orders": result.orders,
                                                               "transcripts": result.transcripts,
                                                               "recordings": result.recordings}})
        return result

    def _speech(self, conn, row) -> tuple[list, list[Path]]:
        """The order's transcript rows (id) and its recording files on disk (distinct)."""
        calls = [str(c) for c in (row.call_ids or []) if c]
        if not calls:
            return [], []
        texts = conn.execute(select(transcripts.c.id, transcripts.c.recording_path)
                             .where(transcripts.c.call_id.in_(calls))).all()
        jobs = conn.execute(select(transcription_jobs.c.recording_path)
                            .where(transcription_jobs.c.call_id.in_(calls))).all()
        files = {self._file(p) for (p,) in jobs} | {self._file(t.recording_path) for t in texts}
        return [t.id for t in texts], sorted(f for f in files if f is not None)

    def _anonymise(self, conn, row, text_ids: list[int], now: datetime) -> None:
        from callcenter.search.outbox import enqueue_delete, enqueue_upsert, work_order_document

        def clean(text):
            if not text:
                return text
            text = mask_text(text)
            if row.caller_name and row.caller_name.strip():
                text = text.replace(row.caller_name.strip(), mask_name(row.caller_name.strip()))
            return text

        changes = {"caller_phone": None, "caller_name": None, "summary": clean(row.summary),
                   "description": clean(row.description), "reply": clean(row.reply)}
        conn.execute(update(work_orders).where(work_orders.c.id == row.id).values(**changes))
        calls = [str(c) for c in (row.call_ids or []) if c]
        if calls:
            conn.execute(delete(transcripts).where(transcripts.c.call_id.in_(calls)))
            conn.execute(delete(transcription_jobs).where(transcription_jobs.c.call_id.in_(calls)))
        for text_id in text_ids:
            enqueue_delete(conn, "transcript", str(text_id), now)
        fresh = conn.execute(select(work_orders).where(work_orders.c.id == row.id)).one()
        enqueue_upsert(conn, work_order_document(fresh), now)
        self.audit.record(at=now, username=SYSTEM, role=SYSTEM, kind=KIND, record=row.number,
                          detail=f"{len(text_ids)} transcripts; calls {','.join(calls)}"[:200], conn=conn)


class RetentionJob:
    """Runs :class:`Retention` in ``pool`` every ``interval`` seconds (first run one interval after
    start, so a restart does not hold up the hotline); a failed run is logged and retried next time."""

    def __init__(self, retention: Retention, clock, reactor, pool, interval: float):
        self.retention = retention
        self.clock = clock
        self.reactor = reactor
        self.pool = pool
        self.interval = interval
        self._loop = None
        self.last: RetentionResult | None = None
        self.pending = None      # the Deferred of the run in progress

    def run_once(self):
        from twisted.internet.threads import deferToThreadPool

        from callcenter.clock import now_from

        def done(result):
            self.last = result

        def failed(failure):
            log.error("personal data retention failed; it runs again next interval",
                      extra={"fields": {"event": "retention.failed", "error": failure.getErrorMessage()}})

        self.pending = deferToThreadPool(self.reactor, self.pool, self.retention.run, now_from(self.clock))
        return self.pending.addCallbacks(done, failed)

    def start(self) -> None:
        from twisted.internet.task import LoopingCall

        self._loop = LoopingCall(self.run_once)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=False)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
