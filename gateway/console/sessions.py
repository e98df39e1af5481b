"""Sign-in sessions: create, look up (with the key's current state), touch, end.

The cookie carries a random token (256 bits); the database keeps its SHA-256. The CSRF token
of a session is an HMAC of the session token, so it needs no storage, differs per session and
cannot be computed without the HttpOnly cookie. Every comparison is constant-time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.console.models import ConsoleSession
from gateway.store import ApiKey

#: How stale ``last_seen_at`` may get before a request writes it again (idle expiry needs
#: it; writing on every page view would make each read a write).
TOUCH_SECONDS = 60.0
#: Key scopes that may sign in: admin (its tenant, full), read (its tenant, read-only),
#: operator (every tenant).
CONSOLE_SCOPES = frozenset({"admin", "read", "operator"})


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; they are UTC by construction."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of the session whose cookie holds ``session_token``."""
    return hmac.new(session_token.encode(), b"gateway-console-csrf", hashlib.sha256).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens (False when either is missing)."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the console, and what they may do."""

    key_id: str
    key_tenant: str
    scopes: frozenset[str]
    #: The tenant shown (operators may switch; None = every tenant, operators only).
    tenant: str | None
    csrf: str

    @property
    def is_operator(self) -> bool:
        return "operator" in self.scopes

    @property
    def can_act(self) -> bool:
        """Admins and operators may change things; read keys only look."""
        return bool({"admin", "operator"} & self.scopes)


def may_sign_in(key: ApiKey) -> bool:
    return bool(CONSOLE_SCOPES & key.scope_set)


async def create(
    session: AsyncSession, key: ApiKey, *, lifetime: float
) -> tuple[str, ConsoleSession]:
    """A new session for ``key``; returns the cookie token (shown to nobody else)."""
    token = secrets.token_urlsafe(32)
    at = now()
    row = ConsoleSession(
        token_sha256=digest(token),
        key_id=key.id,
        tenant=None if "operator" in key.scope_set else key.tenant,  # operators: every tenant
        created_at=at,
        last_seen_at=at,
        expires_at=at + dt.timedelta(seconds=lifetime),
    )
    # Expired sessions go at each sign-in (an index range on expires_at; the table is small).
    await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < at))
    session.add(row)
    await session.flush()
    return token, row


async def lookup(
    session: AsyncSession, token: str, *, idle: float
) -> tuple[ConsoleSession, ApiKey] | None:
    """The live session of ``token`` with its key, or None: unknown, expired, idle too long,
    or its key revoked (then the session is dead at once, in every process)."""
    stmt = (
        select(ConsoleSession, ApiKey)
        .join(ApiKey, ApiKey.id == ConsoleSession.key_id)
        .where(ConsoleSession.token_sha256 == digest(token))
    )
    found = (await session.execute(stmt)).first()
    if found is None:
        return None
    row, key = found
    at = now()
    if key.revoked_at is not None or _aware(row.expires_at) <= at:
        return None
    if (at - _aware(row.last_seen_at)).total_seconds() > idle:
        return None
    if not may_sign_in(key):
        return None
    return row, key


def stale(row: ConsoleSession) -> bool:
    return (now() - _aware(row.last_seen_at)).total_seconds() > TOUCH_SECONDS


async def touch(
    session: AsyncSession, token: str, *, tenant: str | None = None, switch: bool = False
) -> None:
    """Record activity (and, with ``switch``, the tenant shown)."""
    row = await session.get(ConsoleSession, digest(token))
    if row is None:
        return
    row.last_seen_at = now()
    if switch:
        row.tenant = tenant


async def end(session: AsyncSession, token: str) -> None:
    await session.execute(
        delete(ConsoleSession).where(ConsoleSession.token_sha256 == digest(token))
    )


def viewer_of(row: ConsoleSession, key: ApiKey, token: str) -> Viewer:
    scopes = key.scope_set
    tenant = row.tenant if "operator" in scopes else key.tenant  # only operators switch
    return Viewer(key.id, key.tenant, scopes, tenant, csrf_token(token))
