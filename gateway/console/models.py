"""The console's one table: signed-in browser sessions, stored hashed.

A session is a random 256-bit token in an HttpOnly cookie; the table keeps only its SHA-256,
so a copy of the database signs nobody in. Sessions live in the database rather than in a
signed cookie because several gateway processes (PostgreSQL deployments) must all accept a
session, sign-out must end it everywhere at once, and a revoked API key must end its sessions
on the next request (the key row is read with the session).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store import Base


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    #: SHA-256 (hex) of the cookie's token; the token itself is never stored.
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The API key that signed in: its scopes and tenant decide what the session may see.
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    #: The tenant shown; an operator may switch it (None: every tenant).
    tenant: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_console_sessions_expires", "expires_at"),)
