"""Users, roles, password log-in, sessions and API tokens."""
from callcenter.auth.service import ROLES, AuthError, AuthService, Session, User

__all__ = ["ROLES", "AuthError", "AuthService", "Session", "User"]
