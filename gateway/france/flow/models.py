"""The Flow API's webhook subscriptions (XP Z12-013 ``/v1/webhooks``), on the store's ``Base``.

One row per subscription of a tenant: the callback URL, its filters (flow types, direction,
acknowledgement status; none = every flow) and the signing key the gateway generated (256
bits, base64; events are signed with it, so it is kept, like a tenant's webhook secret).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store import Base, utcnow


class FlowWebhook(Base):
    __tablename__ = "afnor_webhooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"), index=True)
    callback_url: Mapped[str] = mapped_column(Text)
    flow_types: Mapped[list[str] | None] = mapped_column(JSON)
    flow_direction: Mapped[str | None] = mapped_column(String(8))
    ack_status: Mapped[str | None] = mapped_column(String(8))
    signing_key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
