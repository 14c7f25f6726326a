"""The audit log of personal-data reads: :func:`record_access` is called where a page, API or
download reveals a citizen's number, voice or words unmasked (or exports them); supervisors read
the log on ``/supervisor/audit``.  :class:`AuditLog` is blocking: handlers run it through the
database pool (``deps.db``), never on the reactor thread.

An audit write that fails fails the read with it (a 500): a read that cannot be recorded is not
served."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from callcenter.audit.tables import access_log
from callcenter.errors import HotlineError

log = logging.getLogger(__name__)

#: what a row records; the page names each (templates ``audit.html``)
KINDS = ("order.view", "recording.play", "recording.list", "attachment.read", "transcript.view",
         "orders.list", "orders.export", "reports.export", "appraisal.export", "analysis.export", "audit.export",
         "retention.anonymise")
SYSTEM = "system"          # the user name of jobs (retention)
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class AuditError(HotlineError):
    """A refused audit-log query; ``error_id`` is stable, ``details`` names the field."""


@dataclass(frozen=True)
class Access:
    id: int
    at: datetime
    username: str
    role: str
    kind: str
    record: str | None
    detail: str | None
    address: str


@dataclass(frozen=True)
class AuditQuery:
    """A validated filter: who, what kind, from and to (aware instants, ``until`` exclusive)."""

    username: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    record: str | None = None

    max_days = 366

    @classmethod
    def parse(cls, *, username=None, kind=None, date_from=None, date_to=None, record=None, zone=None) -> "AuditQuery":
        """From the page's or API's text fields; dates are days (YYYY-MM-DD) in ``zone``, both included."""
        from datetime import date, time

        username = (username or "").strip() or None
        if username is not None and not _NAME.match(username):
            raise AuditError("audit.bad_user", "用户名无效 / not a user name", field="user")
        kind = (kind or "").strip() or None
        if kind is not None and kind not in KINDS:
            raise AuditError("audit.bad_kind", "未知的记录类型 / unknown kind", field="kind", allowed=list(KINDS))
        record = (record or "").strip() or None
        if record is not None and (len(record) > 64 or not record.isprintable()):
            raise AuditError("audit.bad_record", "对象编号无效 / not a record number", field="record")
        days = []
        for name, raw in (("from", date_from), ("to", date_to)):
            raw = (raw or "").strip()
            if not raw:
                days.append(None)
                continue
            try:
                if not raw.isascii() or len(raw) != 10:
                    raise ValueError(raw)
                # outside these years nothing was recorded: clamped, so no instant overflows
                days.append(min(max(date.fromisoformat(raw), date(1970, 1, 2)), date(2999, 12, 30)))
            except ValueError:
                raise AuditError("audit.bad_date", "日期格式应为 YYYY-MM-DD / dates are YYYY-MM-DD",
                                 field=name) from None
        start, end = days
        if start and end and end < start:
            raise AuditError("audit.bad_range", "结束日期早于开始日期 / the end is before the start",
                             http_status=422, field="to")
        since = datetime.combine(start, time(), zone) if start else None
        until = datetime.combine(end + timedelta(days=1), time(), zone) if end else None
        return cls(username, kind, since, until, record)


class AuditLog:
    """Rows of ``access_log`` (blocking)."""

    page_size = 500
    export_limit = 100_000

    def __init__(self, engine):
        self.engine = engine

    def record(self, *, at: datetime, username: str, role: str, kind: str, record: str | None = None,
               detail: str | None = None, address: str = "-", conn=None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown audit kind {kind!r}")
        row = {"at": at, "username": username[:64], "role": (role or "-")[:16], "kind": kind,
               "record": None if record is None else str(record)[:64],
               "detail": None if detail is None else str(detail)[:200], "address": (address or "-")[:64]}
        if conn is not None:
            conn.execute(access_log.insert().values(**row))
            return
        with self.engine.begin() as own:
            own.execute(access_log.insert().values(**row))

    def search(self, query: AuditQuery, *, limit: int | None = None) -> tuple[list[Access], int]:
        """Matching rows newest first (at most ``limit``) and how many match in all."""
        c = access_log.c
        where = []
        if query.username:
            where.append(c.username == query.username)
        if query.kind:
            where.append(c.kind == query.kind)
        if query.record:
            where.append(c.record == query.record)
        if query.since:
            where.append(c.at >= query.since)
        if query.until:
            where.append(c.at < query.until)
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(access_log).where(*where)).scalar_one()
            rows = conn.execute(select(access_log).where(*where).order_by(c.at.desc(), c.id.desc())
                                .limit(limit or self.page_size)).all()
        return [Access(r.id, r.at, r.username, r.role, r.kind, r.record, r.detail, r.address) for r in rows], total


def audit_of(deps) -> AuditLog:
    found = deps.extras.get("audit")
    if found is None:
        found = deps.extras["audit"] = AuditLog(deps.engine)
    return found


def record_order_view(deps, request, principal, order: dict, channel: str):
    """Record ``order.view`` when ``principal`` sees the order's caller number whole on ``channel``
    (:mod:`callcenter.personal_data`'s page or api); a masked view is not a personal-data read.
    A Deferred (None when nothing is recorded: ``await`` it either way)."""
    from twisted.internet import defer

    from callcenter.personal_data import PHONE, sees_whole

    if order.get("caller_phone") and sees_whole(PHONE, principal.user.role, channel):
        return record_access(deps, request, principal, "order.view", order["number"], channel)
    return defer.succeed(None)


def record_access(deps, request, principal, kind: str, record=None, detail: str | None = None):
    """Record that ``principal`` read or exported ``kind`` of ``record`` (a Deferred; await it
    before answering).  The write runs in the database pool."""
    from callcenter.web.http import client_address

    user = principal.user
    return deps.db(audit_of(deps).record, at=deps.wall_now(), username=user.username, role=user.role, kind=kind,
                   record=record, detail=detail, address=client_address(request) if request is not None else "-")
