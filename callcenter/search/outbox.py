"""The outbox: changes to index, kept in the main database until an index has them.

:class:`Feeder` turns new or changed work orders and transcripts into outbox
rows (tracking its position in ``search_sync_state``); :class:`Outbox` drains
rows into an index in batches and deletes them only after the index accepted
them, so an index that was down catches up when it returns.  Blocking: call
from a thread pool.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import JSON, Column, DateTime, Integer, String, Table, and_, delete, insert, or_, select, update

from callcenter.db import metadata
from callcenter.search.documents import Document

log = logging.getLogger(__name__)
UTC = timezone.utc

search_outbox = Table(
    "search_outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("op", String(8), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("ref", String(64), nullable=False),
    Column("document", JSON, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

search_sync_state = Table(
    "search_sync_state", metadata,
    Column("name", String(32), primary_key=True),
    Column("position", String(64), nullable=False),
)


def enqueue_upsert(conn, document: Document, now: datetime) -> None:
    conn.execute(insert(search_outbox).values(op="upsert", kind=document.kind, ref=document.ref,
                                              document=document.as_dict(), created_at=now))


def enqueue_delete(conn, kind: str, ref: str, now: datetime) -> None:
    conn.execute(insert(search_outbox).values(op="delete", kind=kind, ref=ref, document=None, created_at=now))


#: advisory-lock key of the feed-and-drain round (``hashtext('hotline-search-outbox')`` would do; a constant is plainer)
OUTBOX_LOCK = 0x5EA4C0B0


@contextmanager
def exclusive_round(engine):
    """Yields True when this process may feed and drain now, False when another one is doing it.

    Several service processes share one database and, with Elasticsearch, one index.  Two drainers
    reading the same outbox could apply an older version of a document after a newer one (one read
    its batch before the newer row was queued), and two feeders would queue every change twice; so
    on PostgreSQL one round runs at a time, held by a session advisory lock (the others skip the
    round and catch up on their next one).  SQLite is one host: ``BEGIN IMMEDIATE`` already
    serialises writers, and the service's own lock serialises its threads.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    from sqlalchemy import text

    with engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": OUTBOX_LOCK}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": OUTBOX_LOCK})
                conn.commit()


class Outbox:
    def __init__(self, engine, index, batch: int = 500):
        self.engine = engine
        self.index = index
        self.batch = batch

    def pending(self) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(search_outbox.c.id)).all())

    def drain(self, max_batches: int | None = None) -> int:
        """Move rows into the index, oldest first; returns how many were applied.

        An index failure propagates after logging, leaving the failed batch
        (and everything after it) in the outbox for the next attempt.
        """
        done = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            with self.engine.connect() as conn:
                rows = conn.execute(select(search_outbox).order_by(search_outbox.c.id).limit(self.batch)).all()
            if not rows:
                break
            ops = [{"op": r.op, "kind": r.kind, "ref": r.ref, "document": r.document} for r in rows]
            try:
                self.index.apply(ops)
            except Exception:
                log.warning("search index %s refused a batch of %d; kept in the outbox", self.index.name, len(ops))
                raise
            with self.engine.begin() as conn:
                conn.execute(delete(search_outbox).where(search_outbox.c.id.in_([r.id for r in rows])))
            done += len(rows)
            batches += 1
        return done


def work_order_document(row) -> Document:
    """A work order as searchable text: number, category, summary, place, description, reply.

    The caller's name and phone are deliberately not indexed.
    """
    title = f"{row.number} {row.summary}"
    body = " ".join(x for x in (row.category, row.district, row.subdistrict, row.address, row.description,
                                row.reply) if x)
    extra = {"number": row.number, "status": row.status, "category": row.category, "district": row.district,
             "department": row.department, "created_at": row.created_at.isoformat() if row.created_at else None}
    return Document("workorder", row.number, title, body, extra)


def transcript_document(row) -> Document:
    return Document("transcript", str(row.id), f"{row.call_id or ''} {row.language}".strip(), row.text,
                    {"call_id": row.call_id, "created_at": row.created_at.isoformat() if row.created_at else None})


def knowledge_document(entry) -> Document:
    title = f"{entry.title['zh']} {entry.title['en']}"
    body = " ".join([entry.body["zh"], entry.body["en"], *entry.tags])
    return Document("knowledge", entry.id, title, body, {"level": entry.level, "line": entry.line})


class Feeder:
    """Queue what changed since the last run (positions kept in ``search_sync_state``)."""

    def __init__(self, engine):
        self.engine = engine

    def _position(self, conn, name: str) -> str | None:
        return conn.execute(select(search_sync_state.c.position).where(search_sync_state.c.name == name)).scalar()

    def _store(self, conn, name: str, old, value: str) -> None:
        if old is None:
            conn.execute(insert(search_sync_state).values(name=name, position=value))
        else:
            conn.execute(update(search_sync_state).where(search_sync_state.c.name == name).values(position=value))

    def collect(self, now: datetime, batch: int = 5000) -> int:
        """Enqueue changed work orders and new transcripts; returns how many rows were queued."""
        from callcenter.asr.jobs import transcripts
        from ticketing.persistence.tables import work_orders

        queued = 0
        with self.engine.begin() as conn:
            seen = self._position(conn, "work_orders")
            query = select(work_orders).order_by(work_orders.c.updated_at, work_orders.c.id).limit(batch)
            if seen is not None:  # "<updated_at>|<id>": strictly after the last order fed
                at, _, last_id = seen.partition("|")
                at = datetime.fromisoformat(at)
                query = query.where(or_(work_orders.c.updated_at > at,
                                        and_(work_orders.c.updated_at == at, work_orders.c.id > int(last_id or 0))))
            rows = conn.execute(query).all()
            for row in rows:
                if row.status in ("merged", "cancelled"):
                    enqueue_delete(conn, "workorder", row.number, now)
                else:
                    enqueue_upsert(conn, work_order_document(row), now)
            if rows:
                self._store(conn, "work_orders", seen, f"{rows[-1].updated_at.isoformat()}|{rows[-1].id}")
            queued += len(rows)
            last = self._position(conn, "transcripts")
            query = select(transcripts).order_by(transcripts.c.id).limit(batch)
            if last is not None:
                query = query.where(transcripts.c.id > int(last))
            rows = conn.execute(query).all()
            for row in rows:
                enqueue_upsert(conn, transcript_document(row), now)
            if rows:
                self._store(conn, "transcripts", last, str(rows[-1].id))
            queued += len(rows)
        return queued

    def collect_knowledge(self, knowledge, now: datetime) -> int:
        """Enqueue every knowledge entry (the YAML changes only with a deploy)."""
        with self.engine.begin() as conn:
            for entry in knowledge.entries:
                enqueue_upsert(conn, knowledge_document(entry), now)
        return len(knowledge.entries)
