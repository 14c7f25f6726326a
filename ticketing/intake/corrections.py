"""Corrections as training data, stored in the database (one source of truth).

When an agent changes a field of an intake draft, or a department returns a
misrouted order and it is re-dispatched, the service records ``(text, field,
value)`` here; ``callcenter intake train`` reads them back.  Blocking
SQLAlchemy work; from the reactor use :meth:`CorrectionStore.record_later`.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, inspect, insert, select

from callcenter.db import make_engine, metadata
from ticketing.intake.dataset import parse_tsv
from ticketing.intake.errors import DataError, InvalidCorrection
from ticketing.intake.training import Correction, validate_correction

intake_correction = Table(
    "intake_correction", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text", Text, nullable=False),
    Column("field", String(16), nullable=False),
    Column("value", String(64), nullable=False),
    Column("source", String(16), nullable=False),
    Column("order_id", String(64), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)


class CorrectionStore:
    """Append-only corrections over an engine.

    Category and department values are checked against ``taxonomy`` (the
    deployment's; the shipped one when None); ``categories`` overrides the
    category list (``()`` for a reader that validates nothing)."""

    def __init__(self, engine, categories: Iterable[str] | None = None, *, taxonomy=None):
        from ticketing.intake.resources import load_taxonomy

        self.engine = engine
        if taxonomy is None and categories is None:
            taxonomy = load_taxonomy()
        self.categories = list(categories) if categories is not None else list(taxonomy.categories)
        self.departments = list(taxonomy.departments) if taxonomy is not None else None

    def record(self, text: str, field: str, value: str, *, now: datetime, source: str = "agent",
               order_id: str | None = None) -> int:
        """Validate and store one correction; returns its id.  Invalid input stores nothing."""
        c = validate_correction(text, field, value, source, self.categories, self.departments)
        if order_id is not None and (not isinstance(order_id, str) or len(order_id) > 64):
            raise InvalidCorrection("工单号无效 / invalid order id", {"order_id": str(order_id)[:64]})
        if now.tzinfo is None:
            raise InvalidCorrection("时间需带时区 / now must be timezone-aware", {})
        with self.engine.begin() as conn:
            result = conn.execute(insert(intake_correction).values(
                text=c.text, field=c.field, value=c.value, source=c.source, order_id=order_id,
                recorded_at=now.astimezone(timezone.utc)))
            return int(result.inserted_primary_key[0])

    def record_later(self, reactor, threadpool, *args, **kwargs):
        """:meth:`record` on ``threadpool``; a Deferred firing with the id."""
        from twisted.internet.threads import deferToThreadPool

        return deferToThreadPool(reactor, threadpool, self.record, *args, **kwargs)

    def all(self) -> list[Correction]:
        """Every correction, oldest first (so later ones win when training)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(intake_correction.c.text, intake_correction.c.field,
                                       intake_correction.c.value, intake_correction.c.source)
                                .order_by(intake_correction.c.id)).all()
        return [Correction(*row) for row in rows]


def record_correction(text: str, field: str, value: str, *, url: str | None = None, engine=None,
                      source: str = "agent", order_id: str | None = None,
                      now: datetime | None = None) -> int:
    """Record that ``field`` of the request ``text`` should have been ``value``."""
    if engine is None:
        if url is None:
            raise InvalidCorrection("需要数据库 / a database url or engine is required", {})
        engine = make_engine(url)
    return CorrectionStore(engine).record(text, field, value, source=source, order_id=order_id,
                                          now=now or datetime.now(timezone.utc))


def load_corrections(url: str) -> list[Correction]:
    """Corrections stored at ``url``; a database without the table is a clear error."""
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table("intake_correction"):
            raise DataError("数据库中没有更正表，请先运行 `callcenter db upgrade` / no intake_correction table: "
                            "run `callcenter db upgrade`", {"url": _redact(url)})
        return CorrectionStore(engine, categories=()).all()
    finally:
        engine.dispose()


def read_corrections_tsv(path: str | Path, categories: Iterable[str] | None = None,
                         departments: Iterable[str] | None = None) -> list[Correction]:
    """Corrections from a TSV with columns text, field, value (and optionally source);
    ``categories``/``departments``: the taxonomy's codes to check against."""
    try:
        with open(path, encoding="utf-8") as fh:
            rows = parse_tsv(fh)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file / 文件不存在", {"path": str(path)}) from None
    out = []
    for row in rows:
        try:
            out.append(validate_correction(row.get("text", ""), row.get("field", ""), row.get("value", ""),
                                           row.get("source") or "import", categories, departments))
        except InvalidCorrection as exc:
            raise DataError(f"{path}: line {row['_line']}: {exc.message}", {**exc.details, "path": str(path)}) from None
    return out


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
