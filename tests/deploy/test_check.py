"""`callcenter check`: one line per check, the fix named, and the exit status (real processes:
the PBX simulator over TCP, migrated SQLite, prompts rendered by `callcenter ivr prompts build`)."""
from __future__ import annotations

import os
import socket
import subprocess

import pytest

from tests.deploy.processes import CLI, start_pbxsim, stop

GOOD_KEY = "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def prompts(tmp_path_factory):
    out = tmp_path_factory.mktemp("prompts")
    subprocess.run(CLI + ["ivr", "prompts", "build", "--out", str(out)], check=True, capture_output=True, timeout=300)
    return out


@pytest.fixture
def pbx():
    proc, port = start_pbxsim()
    yield port
    stop(proc)


def _env(**overrides):
    env = dict(os.environ, CALLCENTER_WEB_SECRET_KEY=GOOD_KEY, CALLCENTER_SEARCH_ENGINE="embedded",
               CALLCENTER_ASR_MODEL="off", CALLCENTER_LOGGING_LEVEL="WARNING")
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def _check(env, *extra):
    proc = subprocess.run(CLI + ["check", *extra], env=env, capture_output=True, text=True, timeout=180)
    lines = {line.split()[1]: line for line in proc.stdout.splitlines() if line[:4] in ("ok  ", "FAIL", "skip")}
    return proc.returncode, lines, proc


def test_check_passes_on_a_complete_deployment(sqlite_url, prompts, pbx, tmp_path):
    """Migrated database, rendered prompts, the PBX answering the login, a real key: every line ok, exit 0."""
    code, lines, proc = _check(_env(CALLCENTER_DATABASE_URL=sqlite_url, CALLCENTER_AMI_PORT=pbx,
                                    CALLCENTER_IVR_SOUNDS_DIR=prompts,
                                    CALLCENTER_SEARCH_PATH=tmp_path / "search.sqlite3"))
    assert code == 0, proc.stdout + proc.stderr
    assert [name for name, line in lines.items() if line.startswith("ok")] == [
        "config", "secrets", "database", "prompts", "ami", "search"]
    assert lines["speech"].startswith("skip") and "logged in as 'hotline'" in lines["ami"]


def test_check_names_each_problem_and_its_fix(tmp_path, pbx):
    """The shipped placeholder key, an unmigrated database, no prompts, a wrong AMI secret and a missing
    speech model: exit 1, one FAIL line each, each naming the fix."""
    from tests.conftest import ROOT

    code, lines, proc = _check(_env(CALLCENTER_WEB_SECRET_KEY="CHANGE-ME",
                                    CALLCENTER_DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}",
                                    CALLCENTER_AMI_PORT=pbx, CALLCENTER_AMI_HOST="127.0.0.1",
                                    CALLCENTER_AMI_SECRET="not-the-pbx-secret",
                                    CALLCENTER_IVR_SOUNDS_DIR=tmp_path / "no-prompts",
                                    CALLCENTER_ASR_MODEL="vosk-model-small-cn-0.22"),
                               "--config", str(ROOT / "docker" / "callcenter.toml"))
    assert code == 1
    assert "'CHANGE-ME'" in lines["secrets"] and "openssl rand -hex 32" in lines["secrets"]
    assert "schema behind" in lines["database"] and "callcenter db upgrade" in lines["database"]
    assert "callcenter ivr prompts build --out" in lines["prompts"]
    assert "refused the login" in lines["ami"] and "manager.conf" in lines["ami"]
    assert "not installed" in lines["speech"] and "callcenter models install" in lines["speech"]
    assert all(lines[name].startswith("FAIL") for name in ("secrets", "database", "prompts", "ami", "speech"))


def test_check_reports_a_pbx_that_never_greets(sqlite_url, tmp_path):
    """A port that accepts TCP but never sends the AMI greeting fails the AMI line after --ami-timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        code, lines, proc = _check(_env(CALLCENTER_DATABASE_URL=sqlite_url, CALLCENTER_AMI_PORT=silent.getsockname()[1]),
                                   "--ami-timeout", "1")
    assert code == 1 and "did not complete the AMI greeting" in lines["ami"], proc.stdout


def test_search_line_names_the_server_and_says_when_it_is_down(osmem_clone):
    """The search line says which server answered and whether it is supported (osmem: OpenSearch 3.x, ok)."""
    from callcenter.config import load_config
    from callcenter.preflight import check_search

    ok = check_search(load_config(None, environ={"CALLCENTER_SEARCH_ENGINE": "elasticsearch",
                                                  "CALLCENTER_SEARCH_URL": osmem_clone.url}))
    assert ok.status == "ok" and "opensearch 3." in ok.detail
    down = check_search(load_config(None, environ={"CALLCENTER_SEARCH_ENGINE": "elasticsearch",
                                                    "CALLCENTER_SEARCH_URL": "http://127.0.0.1:9"}))
    assert down.failed and down.transient and "unreachable" in down.detail


@pytest.mark.parametrize("value", ["CHANGE-ME", "change_me", "Secret", "short-key"])
def test_placeholder_or_short_session_keys_are_refused(value):
    """web.secret_key placeholders (any case/punctuation) and keys under 32 characters fail the secrets check."""
    from callcenter.config import load_config
    from callcenter.preflight import check_secrets

    result = check_secrets(load_config(None, environ={"CALLCENTER_WEB_SECRET_KEY": value}))
    assert result.failed and not result.transient and "web.secret_key" in result.detail


def test_an_empty_session_key_is_refused_with_postgresql_and_drawn_with_sqlite(monkeypatch, tmp_path):
    """Several processes share a PostgreSQL database (web processes, a failover standby): an empty
    web.secret_key — each process drawing its own — fails the secrets check and says why; one process on
    SQLite draws its key at start and the line says so."""
    from callcenter.config import load_config
    from callcenter.preflight import blocking_failures, check_secrets

    monkeypatch.delenv("CALLCENTER_DATABASE_URL", raising=False)
    shared = check_secrets(load_config(None, environ={
        "CALLCENTER_WEB_SECRET_KEY": "", "CALLCENTER_AMI_SECRET": "pbx-secret",
        "CALLCENTER_DATABASE_URL": "postgresql+psycopg://hotline@db.example:5432/hotline"}))
    assert shared.failed and not shared.transient and blocking_failures([shared]) == [shared]
    assert "web.secret_key is empty with PostgreSQL" in shared.detail and "openssl rand -hex 32" in shared.fix
    alone = check_secrets(load_config(None, environ={
        "CALLCENTER_WEB_SECRET_KEY": "", "CALLCENTER_AMI_SECRET": "pbx-secret",
        "CALLCENTER_DATABASE_URL": f"sqlite:///{tmp_path / 'hotline.sqlite3'}"}))
    assert alone.status == "ok" and "drawn at start" in alone.detail


def test_serve_refuses_to_start_on_postgresql_with_an_empty_session_key(pg_url, prompts, pbx, tmp_path):
    """`callcenter serve` on PostgreSQL with web.secret_key empty: the secrets line FAILs and serve exits 2
    before starting anything (every other check passes)."""
    proc = subprocess.run(CLI + ["serve"], env=_env(
        CALLCENTER_WEB_SECRET_KEY="", CALLCENTER_DATABASE_URL=pg_url, CALLCENTER_AMI_PORT=pbx,
        CALLCENTER_IVR_SOUNDS_DIR=prompts, CALLCENTER_SEARCH_PATH=tmp_path / "search.sqlite3",
        CALLCENTER_WEB_PORT=0), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    fails = [line for line in proc.stderr.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and "web.secret_key is empty with PostgreSQL" in fails[0], proc.stderr
    assert "refusing to start" in proc.stderr and "secrets" in proc.stderr.split("refusing to start", 1)[1]
