"""Accounts and credentials (synchronous; the web layer calls it in a thread pool).

Passwords are argon2id hashes (rehashed on log-in when the parameters rise);
API tokens and session ids are random, shown to their owner once and stored
only as SHA-256 digests, so a leaked database does not leak credentials.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update

from callcenter.errors import HotlineError
from callcenter.auth.tables import api_tokens, users, web_sessions

ROLES = ("agent", "dispatcher", "department", "supervisor", "admin")
TOKEN_KINDS = ("api", "open311")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,39}$")
TOKEN_PREFIX = {"api": "hlt_", "open311": "o311_"}


class AuthError(HotlineError):
    """Bad account data; ``error_id`` is stable, ``details`` names the field.

    422: the request was well formed but the account rules refuse it (400 is kept for requests that are
    not well formed at all, see callcenter.web.app)."""

    http_status = 422


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    department: str | None
    active: bool = True
    agent_id: str | None = None   # the ACD agent this account works as (None: the user name)
    device: str | None = None     # the account's phone, e.g. PJSIP/1001

    @property
    def desk_agent(self) -> str:
        """The ACD agent id of this account on the desk: ``agent_id``, else the user name
        (deployments from before profiles named agent accounts after their agent id)."""
        return self.agent_id or self.username

    @property
    def sees_phone_numbers(self) -> bool:
        """Agents, dispatchers, supervisors and admins call people back; departments see masked numbers
        (:mod:`callcenter.personal_data`)."""
        from callcenter.personal_data import PAGE, PHONE, sees_whole

        return sees_whole(PHONE, self.role, PAGE)


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _user(row) -> User:
    return User(row.id, row.username, row.display_name, row.role, row.department, bool(row.active),
                row.agent_id, row.device)


_UNCHANGED = object()


def user_not_found(username: str) -> AuthError:
    return AuthError("user.not_found", f"no user {username[:40]!r} / 用户不存在", field="username", http_status=404)


def _check_password(password: str) -> None:
    if len(password or "") < 8 or len(password) > 200:
        raise AuthError("user.weak_password", "password: 8-200 characters / 密码须为 8-200 个字符", field="password")


def check_profile(agent_id, device) -> tuple[str | None, str | None]:
    """``(agent_id, device)`` cleaned (blank → None), or ``AuthError`` naming the field."""
    from callcenter.routing.skills import is_agent_id, is_device

    def blank_none(value):
        return (value.strip(" \t") or None) if isinstance(value, str) else value  # CR/LF stay: refused

    agent_id, device = blank_none(agent_id), blank_none(device)
    if agent_id is not None and not is_agent_id(agent_id):
        raise AuthError("user.bad_agent_id", "agent id: 1-64 of A-Z a-z 0-9 _ . : @ / + - / 坐席工号格式错误",
                        field="agent_id")
    if device is not None and not is_device(device):
        raise AuthError("user.bad_device", "device: technology/resource such as PJSIP/1001 / "
                        "话机须为 技术/资源 格式，如 PJSIP/1001", field="device")
    return agent_id, device


class AuthService:
    """Users, password checks, API tokens and server-side web sessions."""

    session_touch_seconds = 60  # write last_seen_at at most this often per session

    def __init__(self, engine, *, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 2,
                 department_exists=None):
        self.engine = engine
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self._dummy_hash = self.hasher.hash(secrets.token_hex(8))
        self.department_exists = department_exists

    # -- users -----------------------------------------------------------
    def add_user(self, username: str, password: str, role: str, now: datetime, *,
                 display_name: str | None = None, department: str | None = None,
                 agent_id: str | None = None, device: str | None = None) -> User:
        username = (username or "").strip().lower()
        if not USERNAME.match(username):
            raise AuthError("user.bad_username", "user name: 2-40 of a-z 0-9 _ . - / 用户名格式错误", field="username")
        self._check_role(role, department)
        _check_password(password)
        agent_id, device = check_profile(agent_id, device)
        display = (display_name or username).strip()[:80]
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.id).where(users.c.username == username)).first():
                raise AuthError("user.exists", f"user {username!r} already exists / 用户已存在", field="username",
                                http_status=409)
            self._agent_id_free(conn, agent_id, None)
            new_id = conn.execute(users.insert().values(
                username=username, display_name=display, role=role, department=department or None,
                password_hash=self.hasher.hash(password), active=True, created_at=now,
                agent_id=agent_id, device=device,
            )).inserted_primary_key[0]
        return User(new_id, username, display, role, department or None, True, agent_id, device)

    def set_profile(self, username: str, *, agent_id=_UNCHANGED, device=_UNCHANGED) -> User:
        """Set (or clear with "" / None) the account's ACD agent id and phone device."""
        with self.engine.begin() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
            if row is None:
                raise user_not_found(username)
            new_agent, new_device = check_profile(row.agent_id if agent_id is _UNCHANGED else agent_id,
                                                  row.device if device is _UNCHANGED else device)
            self._agent_id_free(conn, new_agent, row.id)
            conn.execute(update(users).where(users.c.id == row.id).values(agent_id=new_agent, device=new_device))
            row = conn.execute(select(users).where(users.c.id == row.id)).first()
        return _user(row)

    def set_role(self, username: str, role: str, department: str | None = None) -> User:
        """A new role (and department: required for department staff, checked against the
        taxonomy, cleared when blank).  The user's web sessions end, so every page is seen anew
        with the new rights; API tokens follow the account's role on their next use."""
        self._check_role(role, department)
        with self.engine.begin() as conn:
            row = conn.execute(select(users.c.id).where(users.c.username == username)).first()
            if row is None:
                raise user_not_found(username)
            conn.execute(update(users).where(users.c.id == row.id).values(role=role, department=department or None))
            conn.execute(delete(web_sessions).where(web_sessions.c.user_id == row.id))
            row = conn.execute(select(users).where(users.c.id == row.id)).first()
        return _user(row)

    def _check_role(self, role: str, department: str | None) -> None:
        if role not in ROLES:
            raise AuthError("user.bad_role", f"role must be one of {', '.join(ROLES)} / 角色无效", field="role",
                            allowed=list(ROLES))
        if role == "department" and not department:
            raise AuthError("user.department_required", "department staff need a department / 部门用户须指定部门",
                            field="department")
        if department and self.department_exists is not None and not self.department_exists(department):
            raise AuthError("user.unknown_department", f"unknown department {department!r} / 部门不存在",
                            field="department")

    @staticmethod
    def _agent_id_free(conn, agent_id: str | None, user_id: int | None) -> None:
        """One account per ACD agent (the unique index backs this up under concurrency)."""
        if agent_id is None:
            return
        query = select(users.c.username).where(users.c.agent_id == agent_id)
        if user_id is not None:
            query = query.where(users.c.id != user_id)
        other = conn.execute(query).first()
        if other is not None:
            raise AuthError("user.agent_id_taken", f"agent {agent_id!r} already belongs to {other.username!r} / "
                            "该坐席工号已分配给其他账号", field="agent_id")

    def set_password(self, username: str, password: str, *, end_sessions: bool = False) -> None:
        """A new password; ``end_sessions`` also signs the user out everywhere (an administrator's
        reset, when the old password may be known to someone else)."""
        _check_password(password)
        password_hash = self.hasher.hash(password)  # before the transaction: it takes a while, on purpose
        with self.engine.begin() as conn:
            row = conn.execute(select(users.c.id).where(users.c.username == username)).first()
            if row is None:
                raise user_not_found(username)
            conn.execute(update(users).where(users.c.id == row.id).values(password_hash=password_hash))
            if end_sessions:
                conn.execute(delete(web_sessions).where(web_sessions.c.user_id == row.id))

    def set_active(self, username: str, active: bool) -> None:
        with self.engine.begin() as conn:
            row = conn.execute(select(users.c.id).where(users.c.username == username)).first()
            if row is None:
                raise user_not_found(username)
            conn.execute(update(users).where(users.c.id == row.id).values(active=active))
            if not active:
                conn.execute(delete(web_sessions).where(web_sessions.c.user_id == row.id))
                conn.execute(update(api_tokens).where(api_tokens.c.user_id == row.id).values(revoked=True))

    def list_users(self) -> list[User]:
        with self.engine.connect() as conn:
            return [_user(r) for r in conn.execute(select(users).order_by(users.c.username))]

    def get_user(self, username: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
        return _user(row) if row else None

    def check_password(self, username: str, password: str) -> User | None:
        """The active user with this password, else None (same cost either way)."""
        username = (username or "").strip().lower()
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
        if row is None or not row.active:
            try:
                self.hasher.verify(self._dummy_hash, password or "")
            except (VerificationError, InvalidHashError):
                pass
            return None
        try:
            self.hasher.verify(row.password_hash, password or "")
        except (VerificationError, InvalidHashError):
            return None
        if self.hasher.check_needs_rehash(row.password_hash):
            with self.engine.begin() as conn:
                conn.execute(update(users).where(users.c.id == row.id)
                             .values(password_hash=self.hasher.hash(password)))
        return _user(row)

    # -- API tokens ------------------------------------------------------
    def issue_token(self, user: User, now: datetime, *, kind: str = "api", name: str = "",
                    lifetime: timedelta | None = None) -> str:
        """A new token for ``user``; the plain text is returned once and never stored."""
        if kind not in TOKEN_KINDS:
            raise AuthError("token.bad_kind", f"token kind must be one of {TOKEN_KINDS}", field="kind")
        token = TOKEN_PREFIX[kind] + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(api_tokens.insert().values(
                user_id=user.id, token_hash=digest(token), kind=kind, name=(name or "")[:80], created_at=now,
                expires_at=(now + lifetime) if lifetime else None, revoked=False,
            ))
        return token

    def user_for_token(self, token: str, now: datetime, *, kinds=("api",)) -> User | None:
        """The active owner of a live, unexpired token of one of ``kinds``, else None."""
        if not token or len(token) > 200:
            return None
        with self.engine.begin() as conn:
            row = conn.execute(
                select(api_tokens.c.id.label("token_id"), api_tokens.c.kind, api_tokens.c.expires_at,
                       api_tokens.c.revoked, api_tokens.c.last_used_at, users)
                .join(users, users.c.id == api_tokens.c.user_id)
                .where(api_tokens.c.token_hash == digest(token))
            ).first()
            if row is None or row.revoked or not row.active or row.kind not in kinds:
                return None
            if row.expires_at is not None and _aware(row.expires_at) <= now:
                return None
            last = row.last_used_at
            if last is None or now - _aware(last) > timedelta(seconds=self.session_touch_seconds):
                conn.execute(update(api_tokens).where(api_tokens.c.id == row.token_id).values(last_used_at=now))
        return _user(row)

    def revoke_token(self, token: str) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(update(api_tokens).where(api_tokens.c.token_hash == digest(token))
                                     .values(revoked=True)).rowcount)

    # -- web sessions ----------------------------------------------------
    def open_session(self, user: User, now: datetime) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(web_sessions.insert().values(
                id_hash=digest(sid), user_id=user.id, csrf_token=csrf, created_at=now, last_seen_at=now))
        return sid, Session(user, csrf)

    def session(self, sid: str, now: datetime, idle: timedelta) -> Session | None:
        """The live session ``sid`` (touching it), or None if unknown or idle too long."""
        if not sid or len(sid) > 100:
            return None
        key = digest(sid)
        with self.engine.begin() as conn:
            row = conn.execute(
                select(web_sessions.c.csrf_token, web_sessions.c.last_seen_at, users)
                .join(users, users.c.id == web_sessions.c.user_id)
                .where(web_sessions.c.id_hash == key)
            ).first()
            if row is None:
                return None
            if not row.active or now - _aware(row.last_seen_at) > idle:
                conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == key))
                return None
            if now - _aware(row.last_seen_at) > timedelta(seconds=self.session_touch_seconds):
                conn.execute(update(web_sessions).where(web_sessions.c.id_hash == key).values(last_seen_at=now))
        return Session(_user(row), row.csrf_token)

    def close_session(self, sid: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == digest(sid or "")))


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    from datetime import timezone

    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
