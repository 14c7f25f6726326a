"""Migration ticketing_0003: work_orders.created_at is indexed (date filters and reports)."""
from __future__ import annotations

import subprocess
import sys

from sqlalchemy import inspect

from callcenter.db import alembic_config, make_engine

INDEX = "ix_work_orders_created_at"


def _created_at_indexes(url: str) -> list[dict]:
    engine = make_engine(url)
    try:
        return [ix for ix in inspect(engine).get_indexes("work_orders") if ix["name"] == INDEX]
    finally:
        engine.dispose()


def test_migrated_databases_index_created_at(db_url):
    """After the migrations, SQLite and PostgreSQL both have a one-column index on work_orders.created_at."""
    [index] = _created_at_indexes(db_url)
    assert index["column_names"] == ["created_at"] and not index["unique"]


def test_db_upgrade_adds_the_index_and_downgrade_removes_it(tmp_path):
    """`callcenter db upgrade` on a fresh SQLite file creates the index; stepping the ticketing branch back
    to ticketing_0002 drops it and upgrading again restores it."""
    from alembic import command

    url = f"sqlite:///{tmp_path / 'cc.sqlite3'}"
    out = subprocess.run([sys.executable, "-m", "callcenter.cli", "db", "upgrade", "--url", url],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(_created_at_indexes(url)) == 1
    command.downgrade(alembic_config(url), "ticketing_0002")
    assert _created_at_indexes(url) == []
    command.upgrade(alembic_config(url), "heads")
    assert len(_created_at_indexes(url)) == 1
