"""Shared fixtures: the repository paths, and databases.

``db_url`` runs a test twice, on SQLite and on the local PostgreSQL server,
each migrated with the project's Alembic migrations.  PostgreSQL is not
optional: if it is unreachable the PostgreSQL half fails, unless the run was
started with CALLCENTER_SKIP_PG=1 (then it is reported as skipped).
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    assert SHARED.is_dir(), f"{SHARED} is missing: the project expects ../shared beside the checkout"
    return SHARED


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    from callcenter.db import upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _pg_database():
    if os.environ.get("CALLCENTER_SKIP_PG"):
        pytest.skip("CALLCENTER_SKIP_PG is set")
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from callcenter.db import make_engine, upgrade

    server = os.environ.get("CALLCENTER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"cc_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_pg(url: str) -> None:
    from sqlalchemy import text

    from callcenter.db import make_engine

    from sqlalchemy.exc import OperationalError

    engine = make_engine(url)
    for attempt in range(2):
        try:
            with engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                names = [
                    r[0]
                    for r in conn.execute(text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))
                ]
                if names:
                    conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
            break
        except OperationalError:
            if attempt:
                raise
            # A connection an earlier test leaked (left in a transaction) holds a lock on a table: this test
            # database belongs to this pytest process alone, so end those sessions rather than wait forever.
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    engine.dispose()


def _fresh_sqlite(template: Path, tmp_path: Path) -> str:
    path = tmp_path / "test.sqlite3"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """A freshly migrated, empty database URL: once SQLite, once PostgreSQL."""
    if request.param == "sqlite":
        return _fresh_sqlite(request.getfixturevalue("_sqlite_template"), tmp_path)
    url = request.getfixturevalue("_pg_database")
    _truncate_pg(url)
    return url


@pytest.fixture
def sqlite_url(request, tmp_path) -> str:
    """A freshly migrated, empty SQLite database (for tests about SQLite only)."""
    return _fresh_sqlite(request.getfixturevalue("_sqlite_template"), tmp_path)


@pytest.fixture
def pg_url(request) -> str:
    """A freshly migrated, empty PostgreSQL database (for PostgreSQL-only tests)."""
    url = request.getfixturevalue("_pg_database")
    _truncate_pg(url)
    return url


@pytest.fixture(scope="session")
def _rendered_sounds(tmp_path_factory) -> Path:
    """Every hotline sound rendered once per session by the production renderer (espeak-ng + sox)."""
    from ivr.sounds import build_sounds

    out = tmp_path_factory.mktemp("hotline-sounds")
    build_sounds(out)
    return out


@pytest.fixture
def pbx_sounds(_rendered_sounds, tmp_path) -> Path:
    """Asterisk's sounds directory for the PBX simulator (``PBXSimulator(sounds_dir=...)``) with every
    hotline sound in ``hotline/`` (``ivr.pbx_sounds_dir``); ``pbx_sounds / "hotline"`` is the controller's
    ``ivr.sounds_dir``.  Hard links to the session's rendering: a test may add or delete files, and
    replaces (unlink, then write) rather than rewrites one."""
    import shutil

    root = tmp_path / "asterisk-sounds"
    shutil.copytree(_rendered_sounds, root / "hotline", copy_function=os.link)
    return root
