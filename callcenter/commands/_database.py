"""The database of a one-shot command, checked before the command works on it.

`users …`, `sla override …`, `retention run` and `transcribe --store/--enqueue/--work` open the
configured database (`database.url`, `--url`).  On a fresh machine that is a SQLite file nobody has
migrated yet; without this check the first query died with a driver traceback ("no such table")
and left an empty file behind.  :func:`migrated_engine` refuses such a database in words naming the
fix instead — missing, unreachable, or behind this version's migrations — and never creates a SQLite
file; :func:`callcenter.cli.main` prints the refusal and exits 2.
"""
from __future__ import annotations

from pathlib import Path

from callcenter.errors import HotlineError

UPGRADE = "callcenter db upgrade"  # with the same --config / --url as the refused command


class DatabaseNotReady(HotlineError):
    """The command's database is missing, unreachable or not migrated to this version."""

    error_id = "db.not_ready"


def _sqlite_file(url) -> Path | None:
    """The file of a SQLite URL (None: not SQLite, or in memory)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def require_reachable(engine) -> None:
    """One round trip to ``engine``'s database, else :class:`DatabaseNotReady` (``db.unreachable``)."""
    from sqlalchemy import text

    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any driver error: the database cannot be reached
        first = str(exc).splitlines()[0][:200]
        raise DatabaseNotReady(
            "db.unreachable",
            f"无法连接数据库 / database {where} unreachable ({type(exc).__name__}: {first}); "
            "start it or correct database.url (CALLCENTER_DATABASE_URL, --url)",
            url=where) from None


def _quietly(fn, *args):
    """``fn(*args)`` without Alembic's INFO lines (plugins, "Context impl"): a look, not a migration."""
    import logging

    alembic = logging.getLogger("alembic")
    level = alembic.level
    alembic.setLevel(max(logging.WARNING, level))
    try:
        return fn(*args)
    finally:
        alembic.setLevel(level)


def migrated_engine(url: str):
    """An engine on ``url`` whose schema is up to date, else :class:`DatabaseNotReady`."""
    from sqlalchemy.engine import make_url

    from callcenter.app import missing_migrations
    from callcenter.db import make_engine

    parsed = make_url(url)
    where = parsed.render_as_string(hide_password=True)
    path = _sqlite_file(parsed)
    if path is not None and not path.is_file():
        raise DatabaseNotReady(
            "db.missing",
            f"数据库不存在，请先运行 `{UPGRADE}` 创建 / no database at {path}: create it with `{UPGRADE}` (same --config / --url)",
            url=where, fix=UPGRADE)
    engine = make_engine(url)
    try:
        require_reachable(engine)
        missing = _quietly(missing_migrations, engine)
    except BaseException:
        engine.dispose()
        raise
    if missing:
        engine.dispose()
        raise DatabaseNotReady(
            "db.schema_behind",
            f"数据库结构落后于当前版本，请先运行 `{UPGRADE}` / the schema of {where} is behind this version "
            f"({len(missing)} migrations missing: {', '.join(missing[:5])}): run `{UPGRADE}` (same --config / --url)",
            url=where, missing=missing, fix=UPGRADE)
    return engine
