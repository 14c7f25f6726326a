"""bin/_bootstrap.sh: the venv is built at constraints.txt's versions and rebuilt only when it must."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

from tests.conftest import ROOT


def _project(tmp_path):
    """A copy of the bootstrap script beside a pyproject.toml and constraints.txt, with a .venv whose
    python only records the pip commands it is given (what the script decides is what is tested)."""
    (tmp_path / "bin").mkdir()
    shutil.copy(ROOT / "bin" / "_bootstrap.sh", tmp_path / "bin" / "_bootstrap.sh")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", "utf-8")
    (tmp_path / "constraints.txt").write_text("twisted==24.11.0\n", "utf-8")
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    python = venv_bin / "python"
    python.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        case "$*" in *upgrade*) exit 0;; esac
        echo "$*" >> "{tmp_path / 'pip.log'}"
        """), "utf-8")
    python.chmod(0o755)
    return tmp_path


def _ensure(root, extras):
    script = f'source "{root}/bin/_bootstrap.sh"; ensure_venv "{extras}"'
    subprocess.run(["bash", "-c", script], check=True, env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
                   timeout=60)
    log = root / "pip.log"
    return log.read_text("utf-8").splitlines() if log.exists() else []


def test_switching_between_bin_test_and_bin_callcenter_does_not_reinstall(tmp_path):
    """bin/test (dev) then bin/callcenter (no extras) then bin/test again: one install, with the
    constraints; a changed pyproject.toml or constraints.txt reinstalls once, keeping the dev extra;
    asking for a new extra (speech) installs the union."""
    root = _project(tmp_path)
    assert _ensure(root, "dev") == [f"-m pip install -q -c {root}/constraints.txt -e {root}[dev]"]
    assert len(_ensure(root, "")) == 1
    assert len(_ensure(root, "dev")) == 1
    (root / "constraints.txt").write_text("twisted==25.5.0\n", "utf-8")
    installs = _ensure(root, "")
    assert installs[1:] == [f"-m pip install -q -c {root}/constraints.txt -e {root}[dev]"]
    assert len(_ensure(root, "dev")) == 2
    assert _ensure(root, "speech")[2:] == [f"-m pip install -q -c {root}/constraints.txt -e {root}[dev,speech]"]
    assert len(_ensure(root, "dev")) == 3 and len(_ensure(root, "")) == 3


def test_constraints_pin_every_declared_dependency():
    """Every runtime and dev dependency of pyproject.toml has an exact version in constraints.txt."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    declared = list(project["dependencies"]) + [d for group in project["optional-dependencies"].values()
                                                  for d in group]
    pinned = {re.split(r"==", line)[0].lower().replace("_", "-").replace(".", "-")
              for line in (ROOT / "constraints.txt").read_text("utf-8").splitlines()
              if line and not line.startswith("#")}
    names = {re.match(r"[A-Za-z0-9_.\-]+", d).group(0).lower().replace("_", "-").replace(".", "-") for d in declared}
    assert sorted(names - pinned) == []
