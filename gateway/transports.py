"""The root's wiring of the outbound transports (and the service built on them).

One function for ``gateway serve`` (the app factory) and ``gateway outbound run`` /
``gateway send`` (the delivery-only process), so both deliver over exactly the same
transports. The outbound service never discovers transports itself: adding one is one line
here. (A top-level module, not ``gateway.server``: the outbound CLI builds its service with
it, and only the app factory and the CLI assembler may import the server package.)
"""

from __future__ import annotations

from typing import Any

from gateway.config import Settings
from gateway.documents import ParseLimits
from gateway.mail import InvoiceMailer
from gateway.outbound import (
    EmailTransport,
    HttpTransport,
    OutboundService,
    Transports,
    as4_transport,
)
from gateway.rendering import Renderer
from gateway.store import Database


def invoice_mailer(settings: Settings, db: Database) -> InvoiceMailer | None:
    """Mails stored invoices through ``[email_out]`` (None without a relay)."""
    if not settings.email_out.host:
        return None
    limits = ParseLimits(settings.validation.max_bytes, settings.validation.max_depth)
    return InvoiceMailer(settings.email_out, db, Renderer(settings.artefacts_dir, limits))


def outbound_transports(settings: Settings, db: Database) -> Transports:
    """``http`` always; ``as4`` with an ``[as4]`` identity; ``email`` with ``[email_out] host``."""
    transports = Transports([HttpTransport(timeout=settings.outbound.request_timeout)])
    mailer = invoice_mailer(settings, db)
    for transport in (
        as4_transport(settings, db),
        EmailTransport(mailer) if mailer is not None else None,
    ):
        if transport is not None:
            transports.register(transport)
    return transports


def outbound_service(
    settings: Settings, db: Database, validator: Any = None, lifecycle: Any = None
) -> OutboundService:
    return OutboundService(
        settings,
        db,
        validator,
        transports=outbound_transports(settings, db),
        lifecycle=lifecycle,
    )
