"""Real processes for the deployment tests: the PBX simulator and `callcenter` commands."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from tests.conftest import ROOT

CLI = [sys.executable, "-m", "callcenter.cli"]


def spawn(args, env=None, cwd=ROOT, stderr=subprocess.STDOUT):
    """``callcenter ARGS`` (or any argv starting with an executable path) as a child process."""
    argv = list(args) if os.path.isabs(str(args[0])) else CLI + list(args)
    return subprocess.Popen(argv, cwd=cwd, env=env if env is not None else dict(os.environ),
                            stdout=subprocess.PIPE, stderr=stderr, text=True)


def line_with(proc, marker: str, limit: float = 60.0) -> str:
    """Read the child's output until a line containing ``marker`` (AssertionError with what it said)."""
    deadline = time.monotonic() + limit
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return line
    raise AssertionError(f"no line with {marker!r}; output ended with:\n{''.join(seen[-30:])}")


def start_pbxsim(*extra, env=None):
    """The simulator on a free loopback port; returns (process, AMI port)."""
    proc = spawn(["pbxsim", "--port", "0", *extra], env=env, stderr=subprocess.DEVNULL)
    port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", line_with(proc, "listening on")).group(1))
    return proc, port


def stop(*procs, timeout: float = 30.0) -> None:
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout)
