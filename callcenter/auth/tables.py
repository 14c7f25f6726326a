"""Tables of the auth area (created by migrations ``auth_0001_users``, ``auth_0002_login_failures`` and
``auth_0003_agent_profile`` and ``auth_0004_known_addresses``)."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table

from callcenter.db import metadata

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(40), nullable=False, unique=True),
    Column("display_name", String(80), nullable=False),
    Column("role", String(20), nullable=False),
    Column("department", String(64), nullable=True),
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The ACD agent this account works as on the desk (None: the user name) and the
    # phone it uses (agents: rung by the ACD; supervisors: their ChanSpy phone).
    Column("agent_id", String(64), nullable=True),
    Column("device", String(80), nullable=True),
    Index("uq_users_agent_id", "agent_id", unique=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),  # "api" or "open311"
    Column("name", String(80), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
)

# Failed log-ins, one row per failure and scope ("username" or "address"), so the
# throttle is shared by every `serve` process on the database; rows older than the
# throttle's window are deleted as new failures arrive.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scope", String(10), nullable=False),
    Column("key", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_login_failures_scope_key_at", "scope", "key", "at"),
    Index("ix_login_failures_at", "at"),
)


# The addresses a user name last logged in from (key: ``pair_key(name, address)``).  A user name
# locked everywhere by guesses spread over many addresses stays usable from these: an agent is never
# locked out of their own desk by somebody else's guessing (callcenter.auth.throttle).
login_known_addresses = Table(
    "login_known_addresses",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("last_login_at", DateTime(timezone=True), nullable=False),
)
