"""Runtime tuning of the long-running commands: the collector thresholds from config."""
from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from callcenter.config import ConfigError
from callcenter.runtime import GC_THRESHOLD, parse_gc_threshold, tune_gc


@pytest.mark.parametrize("value,expected", [([50000, 20, 100], (50000, 20, 100)), ("1000, 5,7", (1000, 5, 7))])
def test_threshold_from_config_list_or_environment_string(value, expected):
    """A TOML list and the comma-separated form an environment variable gives are both read."""
    assert parse_gc_threshold(value) == expected


@pytest.mark.parametrize("value", [[1, 2], "a,b,c", [0, 10, 10], [50, 10, 10], None])
def test_bad_threshold_is_a_configuration_error(value):
    """Two numbers, words, a zero or a threshold below 100 is refused with the key named."""
    with pytest.raises(ConfigError, match="runtime.gc_threshold"):
        parse_gc_threshold(value)


def test_tune_gc_sets_thresholds_and_freezes_startup_objects():
    """After tuning, the collector uses the given thresholds and the objects of start-up are frozen."""
    before = gc.get_threshold()
    try:
        assert tune_gc((20000, 15, 50)) == (20000, 15, 50)
        assert gc.get_threshold() == (20000, 15, 50) and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    assert GC_THRESHOLD[0] > before[0]


def test_serve_refuses_a_bad_threshold_before_starting(tmp_path):
    """`callcenter serve` with a malformed runtime.gc_threshold exits 2 with the key in the message."""
    cfg = tmp_path / "c.toml"
    cfg.write_text('[runtime]\ngc_threshold = [1, 2]\n')
    proc = subprocess.run([sys.executable, "-m", "callcenter.cli", "--config", str(cfg), "serve"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "runtime.gc_threshold" in proc.stderr


@pytest.mark.parametrize("value", ["-1", "500", '"fast"'])
def test_serve_refuses_a_bad_read_coalescing_window_before_starting(tmp_path, value):
    """`callcenter serve` with ami.read_coalesce_ms outside 0-100 ms (or not a number) exits 2 naming the key."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[ami]\nread_coalesce_ms = {value}\n")
    proc = subprocess.run([sys.executable, "-m", "callcenter.cli", "--config", str(cfg), "serve"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "ami.read_coalesce_ms" in proc.stderr


@pytest.mark.parametrize("value", ["0", "86400", '"often"', "true"])
def test_serve_refuses_a_bad_screen_refresh_interval_before_starting(tmp_path, value):
    """`callcenter serve` with ivr.screen_refresh_seconds outside 1-3600 s (or not a number) exits 2 naming
    the key, before connecting to anything."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[ivr]\nscreen_refresh_seconds = {value}\n")
    proc = subprocess.run([sys.executable, "-m", "callcenter.cli", "--config", str(cfg), "serve"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "ivr.screen_refresh_seconds" in proc.stderr, proc.stderr
