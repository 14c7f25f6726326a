"""`callcenter db upgrade`: apply the Alembic migrations."""
from __future__ import annotations

import logging

from callcenter.db import default_url, upgrade

log = logging.getLogger(__name__)


def register(sub) -> None:
    parser = sub.add_parser("db", help="database schema management")
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION")
    actions.required = True
    up = actions.add_parser("upgrade", help="apply migrations (Alembic)")
    up.add_argument("--url", help="database URL (default: database.url from the config)")
    up.add_argument("revision", nargs="?", default="heads")
    up.set_defaults(func=_upgrade)


def _upgrade(args) -> int:
    from callcenter.commands._database import require_reachable
    from callcenter.db import make_engine

    url = args.url or default_url(args.cfg)
    engine = make_engine(url)
    try:
        require_reachable(engine)  # PostgreSQL down or misnamed: said in words, not a driver traceback
    finally:
        engine.dispose()
    upgrade(url, args.revision)
    log.info("database upgraded", extra={"fields": {"revision": args.revision}})
    print(f"database upgraded to {args.revision}")
    return 0
