"""The foundation: configuration layering, the CLI, migrations."""
from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import inspect

from callcenter.config import ConfigError, load_config


def test_env_overrides_file_and_is_typed(tmp_path):
    """A TOML file overrides defaults and CALLCENTER_* variables override both, keeping the type."""
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('[web]\nport = 9000\n[database]\nurl = "sqlite:///x.db"\n', encoding="utf-8")
    cfg = load_config(str(cfg_file), environ={"CALLCENTER_WEB_PORT": "9100"})
    assert cfg.get("web.port") == 9100
    assert cfg.get("database.url") == "sqlite:///x.db"
    assert cfg.get("ami.port") == 5038


def test_bad_config_is_a_clear_error(tmp_path):
    """Broken TOML, a missing file, or a non-numeric port is refused with the key named."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[web\nport=1", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_config(str(bad), environ={})
    with pytest.raises(ConfigError, match="no such file"):
        load_config(str(tmp_path / "missing.toml"), environ={})
    with pytest.raises(ConfigError, match="CALLCENTER_WEB_PORT"):
        load_config(None, environ={"CALLCENTER_WEB_PORT": "eighty"})


def test_number_settings_are_checked_against_their_range_with_the_key_named():
    """Config.number reads ints, floats and numeric text; text, booleans, missing values without a
    default and values outside the range are ConfigErrors that name the key and the unit."""
    cfg = load_config(None, environ={}).with_overrides({"a.n": 5, "a.f": "2.5", "a.t": "soon", "a.b": True})
    assert cfg.number("a.n", 1, 10) == 5.0 and cfg.number("a.f", 0, 3) == 2.5
    assert cfg.number("a.missing", 0, 1, default=0.5) == 0.5
    for key, message in (("a.t", "a.t must be a number (s), not 'soon'"), ("a.b", "a.b must be a number"),
                         ("a.missing", "a.missing must be a number"), ("a.n", "a.n must be 6 to 9 (s), not 5")):
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            cfg.number(key, 6, 9, unit="s")


def test_db_upgrade_command_creates_schema(tmp_path):
    """`callcenter db upgrade` runs the Alembic migrations on the configured database."""
    url = f"sqlite:///{tmp_path / 'cc.sqlite3'}"
    out = subprocess.run(
        [sys.executable, "-m", "callcenter.cli", "db", "upgrade", "--url", url],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    from callcenter.db import make_engine

    engine = make_engine(url)
    assert "alembic_version" in inspect(engine).get_table_names()
    engine.dispose()


def test_both_databases_are_migrated(db_url):
    """The db_url fixture yields a migrated database on SQLite and on PostgreSQL."""
    from callcenter.db import make_engine

    engine = make_engine(db_url)
    assert "alembic_version" in inspect(engine).get_table_names()
    engine.dispose()


def test_logging_json_lines_and_twisted_chatter_kept_quiet():
    """JSON logging puts fields at the top level; Twisted INFO chatter stays below INFO, warnings pass."""
    import io
    import json
    import logging

    from twisted.logger import Logger

    from callcenter.logs import setup_logging

    buf = io.StringIO()
    setup_logging("INFO", "json", stream=buf)
    try:
        logging.getLogger("callcenter.test").info("order created", extra={"fields": {"order": "2026112300001"}})
        Logger(namespace="twisted.test").info("Main loop terminated.")
        Logger(namespace="twisted.test").warn("connection lost")
        lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    finally:
        setup_logging("WARNING", "text")
    assert lines[0]["msg"] == "order created" and lines[0]["order"] == "2026112300001"
    assert [entry["msg"] for entry in lines[1:]] == ["connection lost"]
