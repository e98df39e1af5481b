"""The ``email`` transport: the invoice XML, a PDF and extra attachments in one mail.

Addresses come from the endpoint (``mailto:a@x,b@y``): a ``[[routes]]`` entry with
``transport = "email"`` and ``to``, or the buyer's electronic address when its scheme is
``EM`` (see :mod:`gateway.outbound.routing`). The PDF is the client's own (a PDF part of the
multipart submission, stored with the document) or, failing that, the gateway's rendering
(:mod:`gateway.rendering`); every other stored part goes along as an extra attachment.

The Message-ID is the queue item's message id, so every retry sends the same mail and a DSN
(bounce) can be matched to it; 4xx and connection problems retry, 5xx fail at once
(:mod:`gateway.mail.relay`).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import undefer

from gateway.config.settings import EmailOutSettings
from gateway.documents import DocumentInfo, XmlRefused, identify, parse_xml
from gateway.mail import MailPart, MailPermanent, MailTransient, Relay, invoice_mail
from gateway.outbound.errors import PermanentError, TransientError
from gateway.outbound.messages import DeliveryResult, Endpoint, OutboundMessage
from gateway.rendering import NotRenderable, Renderer
from gateway.store import Attachment, Database

log = logging.getLogger("gateway.outbound.email")

PDF = "application/pdf"


def mail_addresses(url: str) -> list[str]:
    """``mailto:a@x,b@y`` (or a bare list) -> ``["a@x", "b@y"]``."""
    text = url.removeprefix("mailto:")
    out = [a.strip() for a in text.replace(";", ",").split(",") if a.strip()]
    bad = [a for a in out if "@" not in a or any(c in a for c in " <>\r\n")]
    if bad or not out:
        raise PermanentError(f"not an e-mail address: {', '.join(bad) or url!r}", "bad-address")
    return out


class EmailTransport:
    name = "email"

    def __init__(
        self, settings: EmailOutSettings, db: Database, renderer: Renderer | None = None
    ) -> None:
        self.settings = settings
        self.relay = Relay(settings)
        self.db = db
        self.renderer = renderer if settings.render_pdf else None

    async def send(self, item: OutboundMessage, endpoint: Endpoint) -> DeliveryResult:
        to = mail_addresses(endpoint.url)
        info = _info(item.payload)
        parts = await self._stored_parts(item.id)
        pdf = next((p for p in parts if p.content_type == PDF), None)
        extra = [p for p in parts if p is not pdf]
        if pdf is None:
            pdf = await self._rendering(item, info)
        message = invoice_mail(
            sender=self.relay.sender,
            to=to,
            message_id=item.message_id,
            xml=item.payload,
            info=info,
            pdf=pdf,
            extra=extra,
            headers={"X-Gateway-Attempt": str(item.attempt)},
        )
        try:
            reply = await self.relay.send(message, to)
        except MailPermanent as exc:
            raise PermanentError(exc.message, exc.code) from exc
        except MailTransient as exc:
            raise TransientError(exc.message, exc.code) from exc
        return DeliveryResult(
            status=250,
            detail=reply[:500],
            extra={"to": ", ".join(to), "message_id": message["Message-ID"]},
        )

    async def _stored_parts(self, document_id: str) -> list[MailPart]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(Attachment)
                .where(Attachment.document_id == document_id)
                .options(undefer(Attachment.data))
                .order_by(Attachment.seq)
            )
            return [MailPart(a.filename, a.content_type.lower(), a.data) for a in rows]

    async def _rendering(self, item: OutboundMessage, info: DocumentInfo | None) -> MailPart | None:
        if self.renderer is None:
            return None
        try:
            rendering = await self.renderer.render(item.payload, "pdf", self.settings.render_lang)
        except NotRenderable as exc:
            # The XML is the invoice; a missing picture of it must not stop the mail.
            log.warning("email: sent without PDF: %s", exc.detail, extra={"document": item.id})
            return None
        return MailPart(rendering.filename, PDF, rendering.body)

    async def aclose(self) -> None:
        return None


def _info(raw: bytes) -> DocumentInfo | None:
    try:
        return identify(parse_xml(raw))
    except XmlRefused:
        return None


def from_settings(
    settings: EmailOutSettings, db: Database, renderer: Renderer | None
) -> EmailTransport | None:
    """The transport when ``[email_out] host`` is set, else None."""
    return EmailTransport(settings, db, renderer) if settings.host else None
