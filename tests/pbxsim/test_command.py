"""`callcenter pbxsim`: argument parsing (the command itself runs a reactor)."""
from __future__ import annotations

import argparse

import pytest

from callcenter.cli import build_parser
from callcenter.commands.pbxsim import parse_device, parse_pstn


def test_pbxsim_command_is_registered():
    """The command parses its options (port, devices, citizens' phones)."""
    args = build_parser().parse_args(["pbxsim", "--port", "0", "--speed", "5", "--device", "PJSIP/1001=2.5",
                                      "--device", "PJSIP/1002=never", "--pstn", "13800000001=answer:4"])
    assert args.port == 0 and args.speed == 5.0
    assert [parse_device(d) for d in args.device] == [("PJSIP/1001", 2.5), ("PJSIP/1002", None)]
    assert parse_pstn(args.pstn[0]) == ("13800000001", "answer", "4")


def test_bad_device_spec_is_a_clear_error():
    """A device answer time that is not seconds/never/busy is refused."""
    assert parse_device("PJSIP/1003=busy") == ("PJSIP/1003", "busy")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_device("PJSIP/1003=soon")


def test_the_standalone_simulator_plays_the_controllers_rendered_sounds(tmp_path):
    """`callcenter pbxsim` is as strict as Asterisk about sounds, so by default its sounds directory
    holds [ivr] sounds_dir as [ivr] pbx_sounds_dir (the compose layout): what serve names
    ``hotline/queue/zh/queue_wait`` is the file the controller rendered."""
    from callcenter.commands.pbxsim import pbx_sounds_root
    from callcenter.config import load_config

    rendered = tmp_path / "prompts"
    (rendered / "queue" / "zh").mkdir(parents=True)
    (rendered / "queue" / "zh" / "queue_wait.wav").write_bytes(b"RIFF")
    cfg = load_config(None, environ={}).with_overrides({"ivr.sounds_dir": str(rendered)})
    root = pbx_sounds_root(cfg)
    assert (root / "hotline" / "queue" / "zh" / "queue_wait.wav").read_bytes() == b"RIFF"
    assert pbx_sounds_root(cfg, str(tmp_path / "given")) == tmp_path / "given"
