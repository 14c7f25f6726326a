"""`callcenter serve` and `bin/callcenter demo` on a machine where their web port is taken (8080 is a
popular port): each says "could not start … Address already in use" and exits 1.  Before, the web
part's thread pool (started when the pages were built, before the port was tried) was never closed,
so the process printed the message and then never exited — SIGTERM included, under compose's
`restart: unless-stopped` too.  The demo also closes what it had opened: Kannel's boxes end with it."""
from __future__ import annotations

import os
import socket
import subprocess

import pytest

from tests.deploy.processes import CLI, spawn, start_pbxsim, stop


@pytest.fixture
def taken_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def _exits(proc, limit: float) -> str:
    try:
        out, _ = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=30)
        pytest.fail(f"still running {limit:.0f} s after it was started; said:\n{out[-3000:]}")
    return out


def _kannel_configs_naming(port: int) -> list[str]:
    """Configuration files of running bearerbox/smsbox processes that hand SMS replies to ``port``: the
    demo's Kannel, if it outlived the demo (its temporary directory is removed when it is stopped)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if not argv or os.path.basename(argv[0]) not in ("bearerbox", "smsbox"):
            continue
        for arg in argv[1:]:
            try:
                if arg.endswith(".conf") and f"127.0.0.1:{port}/sms/mo" in open(arg, encoding="utf-8").read():
                    found.append(f"{entry} {' '.join(argv)}")
            except OSError:
                pass
    return found


def test_serve_with_its_web_port_taken_says_so_and_exits_1(tmp_path, pbx_sounds, taken_port):
    pbx, ami_port = start_pbxsim()
    env = dict(os.environ, CALLCENTER_DATABASE_URL=f"sqlite:///{tmp_path / 'hotline.sqlite3'}",
               CALLCENTER_WEB_SECRET_KEY="5f0c" * 16, CALLCENTER_WEB_HOST="127.0.0.1",
               CALLCENTER_WEB_PORT=str(taken_port), CALLCENTER_AMI_HOST="127.0.0.1",
               CALLCENTER_AMI_PORT=str(ami_port), CALLCENTER_SEARCH_ENGINE="embedded",
               CALLCENTER_SEARCH_PATH=str(tmp_path / "search.sqlite3"),
               CALLCENTER_IVR_SOUNDS_DIR=str(pbx_sounds / "hotline"),
               CALLCENTER_IVR_RECORDINGS_DIR=str(tmp_path / "recordings"),
               CALLCENTER_ASR_SPOOL_DIR=str(tmp_path / "asr-spool"), CALLCENTER_ASR_MODEL="off",
               CALLCENTER_ASR_AUDIOSOCKET_PORT="0", CALLCENTER_LOGGING_FORMAT="text")
    try:
        assert subprocess.run(CLI + ["db", "upgrade"], env=env, capture_output=True, timeout=300).returncode == 0
        proc = spawn(["serve"], env=env)
        out = _exits(proc, 120)
        assert proc.returncode == 1, out[-3000:]
        assert "could not start" in out and "Address already in use" in out, out[-3000:]
    finally:
        stop(pbx)


def test_demo_with_its_web_port_taken_says_so_exits_1_and_leaves_no_kannel(tmp_path, taken_port):
    proc = spawn(["demo", "--port", str(taken_port), "--minutes", "1", "--dir", str(tmp_path / "demo")])
    out = _exits(proc, 180)
    assert proc.returncode == 1, out[-3000:]
    assert "could not start" in out and "Address already in use" in out, out[-3000:]
    assert _kannel_configs_naming(taken_port) == []
