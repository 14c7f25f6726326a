"""`callcenter demo`: the PBX simulator, simulated callers and every service on SQLite."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("demo", help="the whole hotline on one command / 一条命令运行整个热线演示")
    p.add_argument("--minutes", type=float, default=None,
                   help="real minutes to run, then print a summary (default: until Ctrl-C)")
    p.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second (default 60)")
    p.add_argument("--rate", type=float, default=120.0, help="calls per hour at the daily curve's 1.0 (default 120)")
    p.add_argument("--agents", type=int, default=8, help="simulated agents besides agent1/agent2 (default 8)")
    p.add_argument("--port", type=int, default=None, help="web port on 127.0.0.1 (default web.port, 8080; 0: any)")
    p.add_argument("--ami-port", type=int, default=0, help="the simulator's AMI port (default: any free one)")
    p.add_argument("--seed", type=int, default=1, help="random seed (callers, departments)")
    p.add_argument("--dir", default="var/demo", help="where the demo keeps its database and files")
    p.add_argument("--keep", action="store_true", help="keep the previous run's database")
    p.add_argument("--speech", action="store_true",
                   help="callers speak (espeak-ng voices) and the installed Vosk model transcribes them live")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from callcenter.demo.run import DemoError, run_demo
    from callcenter.demo.world import DemoOptions

    if args.log_level is None:      # quiet by default: progress lines, not every call
        import logging

        logging.getLogger().setLevel(logging.WARNING)
    port = args.port if args.port is not None else int(args.cfg.get("web.port", 8080))
    try:
        options = DemoOptions(minutes=args.minutes, speed=args.speed, rate=args.rate, agents=args.agents,
                              port=port, ami_port=args.ami_port, seed=args.seed, directory=Path(args.dir),
                              keep=args.keep, speech=args.speech)
        return run_demo(args.cfg, options)
    except DemoError as exc:
        print(f"callcenter demo: {exc}")
        return 2
