"""The tables the code declares are the tables the migrations build."""
from __future__ import annotations

import importlib

#: every module that declares tables on callcenter.db.metadata
TABLE_MODULES = ("callcenter.asr.jobs", "callcenter.routing.store", "callcenter.auth.tables", "callcenter.search.outbox",
                 "callcenter.callbacks.tables", "callcenter.reports.ratings", "ticketing.persistence.tables",
                 "ticketing.intake.corrections", "ivr.store", "callcenter.screening.tables",
                 "callcenter.attachments.store", "callcenter.knowledge.store",
                 "callcenter.audit.tables", "callcenter.citizen.tables", "callcenter.sms.tables",
                 "callcenter.workorders.open311_store", "callcenter.web.pgcalls")


def test_migrations_build_exactly_the_declared_schema(db_url):
    """Alembic's comparison of the migrated database with the declared tables finds no table, column
    or index that one side has and the other lacks (an index added only by a migration, or only in the
    code, shows up here), on SQLite and PostgreSQL."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from callcenter.db import make_engine, metadata

    for name in TABLE_MODULES:
        importlib.import_module(name)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    # Type and server-default renderings differ by dialect; tables, columns and indexes must not.
    structural = [d for d in diff if isinstance(d, tuple) and d[0] in
                  ("add_table", "remove_table", "add_column", "remove_column", "add_index", "remove_index")]
    assert structural == [], structural
    assert {t.name for t in metadata.sorted_tables} >= {"work_orders", "intake_correction", "users"}


def test_every_revision_id_fits_alembic_version():
    """alembic_version.version_num is VARCHAR(32): PostgreSQL refuses a longer revision id at upgrade
    time, SQLite does not check, so the rule is checked here for every migration file."""
    from alembic.script import ScriptDirectory

    from callcenter.db import alembic_config

    revisions = list(ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions())
    assert len(revisions) >= 10
    assert [r.revision for r in revisions if len(r.revision) > 32] == []
