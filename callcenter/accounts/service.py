"""What the accounts page does (blocking: the web layer runs it in the database pool)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from callcenter.auth.service import AuthError, AuthService, User, user_not_found
from callcenter.auth.throttle import LoginThrottle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccountRow:
    user: User
    locked_until: datetime | None  # a log-in lock on the name, from some address or from all


class AccountAdmin:
    """Account changes by an administrator, each checked by :class:`AuthService` and logged."""

    def __init__(self, auth: AuthService, throttle: LoginThrottle):
        self.auth = auth
        self.throttle = throttle

    def overview(self, now: datetime) -> list[AccountRow]:
        locks = self.throttle.locked_names(now)
        return [AccountRow(u, locks.get(u.username)) for u in self.auth.list_users()]

    def add(self, by: User, now: datetime, *, username: str, password: str, confirm: str, role: str,
            display_name: str = "", department: str = "", agent_id: str = "", device: str = "") -> User:
        _same(password, confirm)
        user = self.auth.add_user(username, password, role, now, display_name=display_name or None,
                                  department=department or None, agent_id=agent_id or None, device=device or None)
        _audit("account.add", by, user.username, role=user.role, department=user.department)
        return user

    def reset_password(self, by: User, username: str, password: str, confirm: str) -> None:
        """A new password from the administrator; the user is signed out everywhere."""
        _same(password, confirm)
        self.auth.set_password(username, password, end_sessions=True)
        _audit("account.password", by, username)

    def set_active(self, by: User, username: str, active: bool) -> None:
        if not active and username == by.username:
            raise AuthError("account.self_disable", "不能停用自己的账号 / you cannot disable your own account",
                            field="username")
        self.auth.set_active(username, active)
        _audit("account.enable" if active else "account.disable", by, username)

    def set_role(self, by: User, username: str, role: str, department: str = "") -> User:
        """A new role; an administrator cannot take their own administrator role away (someone must
        be left to manage accounts)."""
        if username == by.username and role != by.role:
            raise AuthError("account.self_role", "不能更改自己的角色 / you cannot change your own role", field="role")
        user = self.auth.set_role(username, role, department or None)
        _audit("account.role", by, username, role=user.role, department=user.department)
        return user

    def set_profile(self, by: User, username: str, **changes: str) -> User:
        """``agent_id`` and/or ``device`` ("" clears; one not given stays as it is)."""
        user = self.auth.set_profile(username, **{k: v for k, v in changes.items() if k in ("agent_id", "device")})
        _audit("account.profile", by, username, agent_id=user.agent_id, device=user.device)
        return user

    def unlock(self, by: User, username: str) -> int:
        if self.auth.get_user(username) is None:
            raise user_not_found(username)
        forgotten = self.throttle.unlock(username)
        _audit("account.unlock", by, username, failures=forgotten)
        return forgotten


def _same(password: str, confirm: str) -> None:
    if password != confirm:
        raise AuthError("user.password_mismatch", "两次输入的密码不一致 / the passwords differ", field="confirm")


def _audit(event: str, by: User, username: str, **details) -> None:
    log.info("account changed", extra={"fields": {"event": event, "by": by.username, "user": username, **details}})
