"""The commands README prints that open the database (`sla override`, `users`, `retention run`,
`transcribe --store`, `db upgrade`) on a machine where it is not ready: before, the first query died
with a SQLAlchemy traceback ("no such table: calendar_overrides") and left an empty SQLite file
behind.  Now each refuses in one line naming the fix (`callcenter db upgrade`), exits 2, creates
nothing — and after the fix the same command works."""
from __future__ import annotations

import sqlite3

import pytest

from callcenter.cli import main

NEW_YEAR = ["sla", "override", "set", "2027-01-01", "--holiday", "--note", "元旦 New Year's Day"]


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """A fresh machine: the configured SQLite database does not exist yet."""
    path = tmp_path / "var" / "callcenter.sqlite3"
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", f"sqlite:///{path}")
    return path


def _refused(capsys, command: str, error_id: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(f"callcenter {command}: [{error_id}] "), err
    assert "callcenter db upgrade" in err and "Traceback" not in err, err
    return err


def test_sla_override_on_a_missing_database_names_db_upgrade_and_creates_no_file(fresh, capsys):
    assert main(NEW_YEAR) == 2
    _refused(capsys, "sla", "db.missing")
    assert not fresh.exists() and not fresh.parent.exists()


def test_the_documented_order_db_upgrade_then_sla_override_set_works(fresh, capsys):
    assert main(NEW_YEAR) == 2
    capsys.readouterr()
    assert main(["db", "upgrade"]) == 0
    assert main(NEW_YEAR) == 0
    assert main(["sla", "override", "list"]) == 0
    assert "2027-01-01\tholiday 放假\t元旦 New Year's Day" in capsys.readouterr().out


@pytest.mark.parametrize("argv, command", [
    (["users", "list"], "users"),
    (["users", "unlock", "clerk"], "users"),
    (["sla", "override", "list"], "sla"),
    (["retention", "run", "--dry-run"], "retention"),
])
def test_an_unmigrated_database_is_refused_as_behind_with_the_fix(fresh, capsys, argv, command):
    fresh.parent.mkdir(parents=True)
    fresh.touch()  # an empty SQLite file: reachable, no migrations applied
    assert main(argv) == 2
    err = _refused(capsys, command, "db.schema_behind")
    assert "0001_base" in err
    with sqlite3.connect(fresh) as conn:  # nothing was created in it either
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_users_add_is_refused_before_asking_for_a_password(fresh, capsys, monkeypatch):
    def no_prompt(*_):
        raise AssertionError("asked for a password on a database that is not there")

    monkeypatch.setattr("getpass.getpass", no_prompt)
    assert main(["users", "add", "clerk", "--role", "department", "--department", "housing"]) == 2
    _refused(capsys, "users", "db.missing")


def test_transcribe_store_checks_the_database_before_loading_a_model(fresh, capsys, shared_dir):
    clip = shared_dir / "audio" / "real_8k" / "en_jfk_8k.wav"
    if not clip.is_file():
        pytest.skip(f"{clip} not present")
    # a model that does not exist: reaching the model loader would fail with asr.* instead
    assert main(["transcribe", str(clip), "--store", "--model", "/nonexistent-model"]) == 2
    _refused(capsys, "transcribe", "db.missing")


def test_db_upgrade_on_an_unreachable_server_says_so_without_a_traceback(capsys):
    assert main(["db", "upgrade", "--url", "postgresql+psycopg://hotline:secret@127.0.0.1:1/hotline"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("callcenter db: [db.unreachable] ") and "Traceback" not in err, err
    assert "secret" not in err  # the password is hidden
