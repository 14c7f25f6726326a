"""Database plumbing shared by every feature: one ``MetaData``, engines for
SQLite (embedded default) and PostgreSQL (production), and Alembic upgrades.

Feature packages define their tables on :data:`metadata` and add a migration
under ``callcenter/db/migrations/versions``; the schema is only ever created
by migrations (tests included), so what is tested is what is deployed.
"""
from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy import create_engine

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str, **kwargs) -> Engine:
    """An engine with the settings each backend needs to be safe under load.

    SQLite: WAL journal, foreign keys on, a busy timeout, and ``BEGIN
    IMMEDIATE`` for write transactions so that two workers serialise instead
    of failing with "database is locked" halfway through.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        kwargs["connect_args"].setdefault("check_same_thread", False)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if database and database != ":memory:":
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def claimable(conn, query):
    """``query`` locking the rows it selects so that concurrent claimers skip them: ``FOR UPDATE
    SKIP LOCKED`` on PostgreSQL; on SQLite the write transaction's ``BEGIN IMMEDIATE`` (see
    :func:`make_engine`) already admits one claimer at a time.  The project's one claiming helper
    (satisfaction callback jobs, the outward deliveries of :mod:`callcenter.delivery`)."""
    return query.with_for_update(skip_locked=True) if conn.dialect.name == "postgresql" else query


def alembic_config(url: str):
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Apply migrations up to ``revision`` (all heads by default)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def default_url(config) -> str:
    return os.environ.get("CALLCENTER_DATABASE_URL") or config.get("database.url")
