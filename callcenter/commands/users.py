"""`callcenter users add|list|passwd|role|profile|disable|unlock|token`: manage accounts from the shell."""
from __future__ import annotations

import getpass
import os
import sys
from datetime import datetime, timedelta, timezone

from callcenter.auth.service import ROLES, AuthError, AuthService
from callcenter.commands._database import migrated_engine
from callcenter.db import default_url


def register(sub) -> None:
    parser = sub.add_parser("users", help="manage user accounts / 用户管理")
    parser.add_argument("--url", help="database URL (default: database.url from the config)")
    actions = parser.add_subparsers(dest="users_action", metavar="ACTION")
    actions.required = True

    add = actions.add_parser("add", help="create a user")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--department", help="department code (required for role 'department')")
    add.add_argument("--name", help="display name")
    add.add_argument("--agent-id", help="ACD agent id this account works as on the desk (default: the user name)")
    add.add_argument("--device", help="the account's phone, e.g. PJSIP/1001 (agents are rung on it; "
                     "supervisors listen in from it)")
    add.add_argument("--password-env", metavar="VAR",
                     help="read the password from this environment variable instead of prompting")
    add.set_defaults(func=_add)

    lst = actions.add_parser("list", help="list users")
    lst.set_defaults(func=_list)

    pw = actions.add_parser("passwd", help="set a user's password")
    pw.add_argument("username")
    pw.add_argument("--password-env", metavar="VAR")
    pw.set_defaults(func=_passwd)

    rol = actions.add_parser("role", help="change a user's role (their web sessions end)")
    rol.add_argument("username")
    rol.add_argument("--role", required=True, choices=ROLES)
    rol.add_argument("--department", help="department code (required for role 'department')")
    rol.set_defaults(func=_role)

    prof = actions.add_parser("profile", help="set or clear (\"\") a user's ACD agent id and phone device")
    prof.add_argument("username")
    prof.add_argument("--agent-id", help="ACD agent id (\"\" clears it: the user name is used)")
    prof.add_argument("--device", help="phone device such as PJSIP/1001 (\"\" clears it)")
    prof.set_defaults(func=_profile)

    dis = actions.add_parser("disable", help="deactivate a user (ends sessions, revokes tokens)")
    dis.add_argument("username")
    dis.set_defaults(func=_disable)

    unl = actions.add_parser("unlock", help="lift the log-in throttle's locks on a user name (from every "
                             "address; the addresses keep their counts)")
    unl.add_argument("username")
    unl.set_defaults(func=_unlock)

    tok = actions.add_parser("token", help="issue an API token (or an Open311 key) for a user")
    tok.add_argument("username")
    tok.add_argument("--open311", action="store_true", help="an Open311 api_key instead of a bearer token")
    tok.add_argument("--name", default="", help="what the token is for")
    tok.add_argument("--days", type=float, default=None, help="lifetime in days (default: never expires)")
    tok.set_defaults(func=_token)


def _service(args) -> AuthService:
    cfg = args.cfg
    engine = migrated_engine(args.url or default_url(cfg))
    return AuthService(engine, time_cost=int(cfg.get("auth.argon2_time_cost", 3)),
                       memory_kib=int(cfg.get("auth.argon2_memory_kib", 65536)),
                       department_exists=_department_checker(cfg))


def _department_checker(cfg):
    """Departments of the deployment's taxonomy (``sla.taxonomy_dir``), the one the work-order
    service routes to; read only when a department is actually checked."""
    try:
        from ticketing.domain.errors import TaxonomyError
        from ticketing.taxonomy import from_config
    except ImportError:
        return None
    loaded = []

    def exists(code: str) -> bool:
        if not loaded:
            try:
                loaded.append(from_config(cfg))
            except TaxonomyError as exc:  # a broken taxonomy_dir: refused like bad input, nothing added
                raise AuthError("user.taxonomy_invalid", f"{exc.message} / 部门目录（sla.taxonomy_dir）无法读取",
                                field="department", **exc.details) from None
        return code in loaded[0].departments

    return exists


def _now():
    """Wall-clock now: a one-shot command has no reactor to read time from."""
    return datetime.now(timezone.utc)


def _password(var: str | None) -> str:
    if var:
        value = os.environ.get(var)
        if value is None:
            raise AuthError("user.password_env_missing", f"environment variable {var} is not set", field="password")
        return value
    first = getpass.getpass("password / 密码: ")
    if first != getpass.getpass("again / 再次输入: "):
        raise AuthError("user.password_mismatch", "passwords differ / 两次密码不一致", field="password")
    return first


def _fail(exc: AuthError) -> int:
    print(f"callcenter users: {exc.error_id}: {exc.message}", file=sys.stderr)
    return 2


def _add(args) -> int:
    try:
        user = _service(args).add_user(args.username, _password(args.password_env), args.role, _now(),
                                       display_name=args.name, department=args.department,
                                       agent_id=args.agent_id, device=args.device)
    except AuthError as exc:
        return _fail(exc)
    print(f"created {user.username} ({user.role}{', ' + user.department if user.department else ''})")
    return 0


def _list(args) -> int:
    for user in _service(args).list_users():
        state = "active" if user.active else "disabled"
        print(f"{user.username}\t{user.role}\t{user.department or '-'}\t{state}\t{user.display_name}"
              f"\t{user.agent_id or '-'}\t{user.device or '-'}")
    return 0


def _profile(args) -> int:
    changes = {k: v for k, v in (("agent_id", args.agent_id), ("device", args.device)) if v is not None}
    if not changes:
        print("callcenter users: nothing to change (give --agent-id and/or --device)", file=sys.stderr)
        return 2
    try:
        user = _service(args).set_profile(args.username, **changes)
    except AuthError as exc:
        return _fail(exc)
    print(f"{user.username}: agent {user.desk_agent}{'' if user.agent_id else ' (user name)'}, "
          f"device {user.device or '-'}")
    return 0


def _role(args) -> int:
    try:
        user = _service(args).set_role(args.username, args.role, args.department)
    except AuthError as exc:
        return _fail(exc)
    print(f"{user.username}: {user.role}{', ' + user.department if user.department else ''}")
    return 0


def _passwd(args) -> int:
    try:
        _service(args).set_password(args.username, _password(args.password_env))
    except AuthError as exc:
        return _fail(exc)
    print(f"password changed for {args.username}")
    return 0


def _disable(args) -> int:
    try:
        _service(args).set_active(args.username, False)
    except AuthError as exc:
        return _fail(exc)
    print(f"disabled {args.username}")
    return 0


def _unlock(args) -> int:
    from callcenter.auth.throttle import LoginThrottle, username_key

    service = _service(args)
    if service.get_user(username_key(args.username)) is None:  # spelt as the log-in page reads it
        print(f"callcenter users: user.not_found: no user {args.username!r}", file=sys.stderr)
        return 2
    forgotten = LoginThrottle.from_config(service.engine, None, args.cfg).unlock(args.username)
    print(f"unlocked {args.username} ({forgotten} failed log-ins forgotten)")
    return 0


def _token(args) -> int:
    service = _service(args)
    user = service.get_user(args.username)
    if user is None or not user.active:
        print(f"callcenter users: user.not_found: no active user {args.username!r}", file=sys.stderr)
        return 2
    lifetime = timedelta(days=args.days) if args.days else None
    token = service.issue_token(user, _now(), kind="open311" if args.open311 else "api", name=args.name,
                                lifetime=lifetime)
    print(token)
    return 0
