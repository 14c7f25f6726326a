"""`callcenter check --config FILE`: is everything in place to serve?  One line per check.

Exit status 0 when every check passed (or was skipped as not configured), 1 otherwise;
each failed line names the fix.  See :mod:`callcenter.preflight`.
"""
from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("check", help="check configuration, secrets, database, prompts, AMI, search, speech / 启动前检查")
    p.add_argument("--ami-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for the PBX's greeting and login (default 10)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from twisted.internet import reactor

    from callcenter.preflight import report, run_checks

    outcome = {"code": 1}

    def done(results):
        report(results, sys.stdout)
        failed = [r for r in results if r.failed]
        print(f"{len(failed)} check(s) failed / 检查未通过" if failed else "all checks passed / 检查通过", flush=True)
        outcome["code"] = 1 if failed else 0

    def crashed(failure):
        print(f"callcenter check: {failure.getErrorMessage()}", file=sys.stderr)

    def main():
        run_checks(args.cfg, reactor, ami_timeout=args.ami_timeout).addCallbacks(done, crashed).addBoth(
            lambda _: reactor.stop())

    reactor.callWhenRunning(main)
    reactor.run(installSignalHandlers=False)
    return outcome["code"]
