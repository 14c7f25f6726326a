"""`callcenter retention run [--dry-run]`: anonymise the personal data of orders finished more than
``[retention] personal_data_days`` ago (:mod:`callcenter.audit.retention`)."""
from __future__ import annotations

import sys


def register(sub) -> None:
    parser = sub.add_parser("retention", help="personal-data retention / 个人信息到期匿名化")
    actions = parser.add_subparsers(dest="retention_action", metavar="ACTION")
    actions.required = True
    run = actions.add_parser("run", help="anonymise numbers and names, delete recordings and transcripts of "
                                         "orders finished more than retention.personal_data_days ago")
    run.add_argument("--dry-run", action="store_true", help="print what would change and change nothing")
    run.add_argument("--url", help="database URL (default: database.url)")
    run.set_defaults(func=_run)


def _run(args) -> int:
    from datetime import datetime, timezone

    from callcenter.audit.retention import Retention
    from callcenter.config import ConfigError
    from callcenter.commands._database import migrated_engine
    from callcenter.db import default_url

    try:
        engine = migrated_engine(args.url or default_url(args.cfg))
        retention = Retention.from_config(args.cfg, engine)
    except (ConfigError, ValueError) as exc:
        print(f"callcenter retention: {exc}", file=sys.stderr)
        return 2
    try:
        result = retention.run(datetime.now(timezone.utc), dry_run=args.dry_run)
    finally:
        engine.dispose()
    print(result.summary())
    for number in result.numbers[:50] if args.dry_run else ():
        print(f"  {number}")
    return 0
