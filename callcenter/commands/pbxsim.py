"""`callcenter pbxsim`: run the PBX simulator standalone (for development).

Serves AMI like Asterisk 22 on loopback with the hotline dialplan, agent
phones and citizens' phones from the command line, so the controller (or a
person with ``telnet``) can talk to it without a real PBX.
"""
from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def register(sub) -> None:
    parser = sub.add_parser("pbxsim", help="模拟交换机 / run the AMI PBX simulator for development")
    parser.add_argument("--port", type=int, default=None, help="AMI port (default: [pbxsim] port, 5038)")
    parser.add_argument("--interface", default=None, help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--speed", type=float, default=None, help="simulated seconds per real second")
    parser.add_argument("--dialplan", choices=("hotline", "lab"), default=None,
                        help="hotline contract (default) or the lab PBX of the AMI captures")
    parser.add_argument("--spool-dir", default=None, help="where recordings are written")
    parser.add_argument("--sounds-dir", default=None,
                        help="Asterisk's sounds directory (default: [pbxsim] sounds_dir, else one holding "
                             "[ivr] sounds_dir as [ivr] pbx_sounds_dir, like the compose volume)")
    parser.add_argument("--device", action="append", default=[], metavar="PJSIP/EXT[=SECONDS|never|busy]",
                        help="an agent phone and when it answers (repeatable)")
    parser.add_argument("--pstn", action="append", default=[], metavar="NUMBER[=answer|noanswer|busy|congestion[:DIGITS]]",
                        help="a citizen's phone for callbacks (repeatable)")
    parser.set_defaults(func=_run)


def pbx_sounds_root(cfg, explicit: str | None = None):
    """The simulator's sounds directory.  Like Asterisk it plays only what is there, so by default
    it is a directory where ``[ivr] pbx_sounds_dir`` (``hotline``) is the controller's
    ``[ivr] sounds_dir`` -- the compose layout, with a symbolic link for the volume."""
    import tempfile
    from pathlib import Path

    from ivr.sounds import check_pbx_sounds_dir

    chosen = explicit or cfg.get("pbxsim.sounds_dir", "") or ""
    if chosen:
        return Path(chosen)
    root = Path(tempfile.mkdtemp(prefix="pbxsim-sounds-"))
    link = root / check_pbx_sounds_dir(cfg.get("ivr.pbx_sounds_dir"))
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(Path(cfg.get("ivr.sounds_dir")).resolve(), target_is_directory=True)
    return root


def parse_device(text: str) -> tuple[str, object]:
    name, _, when = text.partition("=")
    if not when:
        return name, 1.0
    if when == "never":
        return name, None
    if when == "busy":
        return name, "busy"
    try:
        return name, float(when)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--device {text!r}: use SECONDS, never or busy") from None


def parse_pstn(text: str) -> tuple[str, str, str]:
    number, _, rest = text.partition("=")
    behaviour, _, digits = (rest or "answer").partition(":")
    return number, behaviour, digits


def _run(args) -> int:
    from twisted.internet import reactor

    from callcenter.pbxsim import PBXSimulator, ScriptError

    cfg = args.cfg
    port = args.port if args.port is not None else int(cfg.get("pbxsim.port", 5038))
    interface = args.interface or cfg.get("pbxsim.interface", "127.0.0.1")
    speed = args.speed if args.speed is not None else float(cfg.get("pbxsim.speed", 1.0))
    user, secret = cfg.get("ami.username", "hotline"), cfg.get("ami.secret", "hotline-secret")
    try:
        sim = PBXSimulator(reactor, users={user: secret}, spool_dir=args.spool_dir or cfg.get("pbxsim.spool_dir") or None,
                           speed=speed, dialplan=args.dialplan or cfg.get("pbxsim.dialplan", "hotline"),
                           sounds_dir=pbx_sounds_root(cfg, args.sounds_dir))
        for text in args.device:
            name, answer_after = parse_device(text)
            sim.add_device(name, answer_after=answer_after)
        for text in args.pstn:
            number, behaviour, digits = parse_pstn(text)
            sim.add_pstn(number, behaviour=behaviour, digits=digits)
    except (ScriptError, ValueError, argparse.ArgumentTypeError) as exc:
        print(f"callcenter pbxsim: 参数错误 / bad argument: {exc}")
        return 2

    def listening(p):
        host = p.getHost()
        print(f"模拟交换机已启动 / PBX simulator (AMI {sim.ami_version}) listening on {host.host}:{host.port}; "
              f"录音目录 / spool: {sim.spool_dir}")

    def failed(f):
        print(f"callcenter pbxsim: 无法监听 / cannot listen: {f.getErrorMessage()}")
        reactor.stop()

    sim.listen(port, interface).addCallbacks(listening, failed)
    reactor.run()
    return 0
