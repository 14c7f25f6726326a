"""`callcenter users add` checks departments against the deployment's taxonomy (``sla.taxonomy_dir``)."""
from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select

from callcenter.db import make_engine
from ticketing.taxonomy import DATA_DIR

from tests.web.conftest import PASSWORD


@pytest.fixture
def taxonomy_dir(tmp_path):
    """The shipped taxonomy with the water company renamed to a utilities bureau."""
    for name in ("categories.yaml", "dispatch.yaml", "districts.yaml"):
        data = yaml.safe_load((DATA_DIR / name).read_text("utf-8"))
        text = yaml.safe_dump(data, allow_unicode=True).replace("department: water\n", "department: utilities\n")
        (tmp_path / name).write_text(text, "utf-8")
    departments = yaml.safe_load((DATA_DIR / "departments.yaml").read_text("utf-8"))
    del departments["departments"]["water"]
    departments["departments"]["utilities"] = {"zh": "公用事业局", "en": "Public Utilities Bureau"}
    (tmp_path / "departments.yaml").write_text(yaml.safe_dump(departments, allow_unicode=True), "utf-8")
    return tmp_path


@pytest.fixture
def users_cli(db_url, monkeypatch):
    """`callcenter users …` against db_url, quiet logging, cheap password hashing."""
    import callcenter.logs
    from callcenter.cli import main

    monkeypatch.setattr(callcenter.logs, "setup_logging", lambda *a, **k: None)  # keep pytest's log capture
    monkeypatch.setenv("HOTLINE_TEST_PW", PASSWORD)
    monkeypatch.setenv("CALLCENTER_AUTH_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CALLCENTER_AUTH_ARGON2_MEMORY_KIB", "1024")

    def run(*argv: str) -> int:
        return main(["users", "--url", db_url, *argv, "--password-env", "HOTLINE_TEST_PW"])

    return run


def _usernames(db_url) -> list[str]:
    from callcenter.auth.tables import users

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return sorted(conn.execute(select(users.c.username)).scalars())
    finally:
        engine.dispose()


def test_users_add_follows_the_configured_taxonomy(users_cli, taxonomy_dir, monkeypatch, capsys, db_url):
    """With sla.taxonomy_dir set, a department only that taxonomy has is accepted and a shipped one it
    dropped (water) is refused with user.unknown_department (exit 2, nothing added)."""
    monkeypatch.setenv("CALLCENTER_SLA_TAXONOMY_DIR", str(taxonomy_dir))
    assert users_cli("add", "bureau1", "--role", "department", "--department", "utilities") == 0
    assert users_cli("add", "water1", "--role", "department", "--department", "water") == 2
    assert "user.unknown_department" in capsys.readouterr().err
    assert _usernames(db_url) == ["bureau1"]


def test_users_add_without_the_setting_uses_the_shipped_taxonomy(users_cli, capsys, db_url):
    """Without sla.taxonomy_dir the shipped departments apply: water is known, utilities is not."""
    assert users_cli("add", "water1", "--role", "department", "--department", "water") == 0
    assert users_cli("add", "bureau1", "--role", "department", "--department", "utilities") == 2
    assert "user.unknown_department" in capsys.readouterr().err
    assert _usernames(db_url) == ["water1"]


def test_a_broken_taxonomy_dir_is_reported_and_adds_nobody(users_cli, tmp_path, monkeypatch, capsys, db_url):
    """A taxonomy_dir without the YAML files exits 2 with user.taxonomy_invalid naming the missing file;
    roles without a department do not need the taxonomy and still work."""
    monkeypatch.setenv("CALLCENTER_SLA_TAXONOMY_DIR", str(tmp_path / "nowhere"))
    assert users_cli("add", "clerk", "--role", "department", "--department", "water") == 2
    err = capsys.readouterr().err
    assert "user.taxonomy_invalid" in err and "departments.yaml" in err
    assert users_cli("add", "sup1", "--role", "supervisor") == 0
    assert _usernames(db_url) == ["sup1"]
