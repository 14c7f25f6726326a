"""Shared set-up for the failover tests: prompts rendered once, a production configuration."""
from __future__ import annotations

import subprocess

import pytest

from tests.deploy.processes import CLI


@pytest.fixture(scope="session")
def rendered_prompts(tmp_path_factory):
    """Every IVR prompt rendered by `callcenter ivr prompts build` (as compose's prompts job does)."""
    out = tmp_path_factory.mktemp("prompts")
    subprocess.run(CLI + ["ivr", "prompts", "build", "--out", str(out)], check=True, capture_output=True, timeout=300)
    return out
