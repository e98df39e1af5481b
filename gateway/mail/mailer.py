"""One invoice by e-mail: the stored document's XML, its PDF and the other stored files.

Used by the ``email`` transport (sales invoices out) and by e-mail forwarding (received
invoices to the tenant's inbox): both send the same mail the same way. The PDF is the one that
came with the document (a client's multipart part, the PDF of a received mail) or, failing
that, the gateway's rendering; every other stored file goes along as an extra attachment.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import undefer

from gateway.config import EmailOutSettings
from gateway.documents import DocumentInfo, XmlRefused, identify, parse_xml
from gateway.mail.build import MailPart, invoice_mail
from gateway.mail.relay import Relay
from gateway.rendering import NotRenderable, Renderer
from gateway.store import Attachment, Database, get_blob

log = logging.getLogger("gateway.mail")

PDF = "application/pdf"
#: Stored files that are not for the recipient (the e-mail channel keeps the whole message).
NOT_FORWARDED = frozenset({"message/rfc822"})


class InvoiceMailer:
    def __init__(
        self, settings: EmailOutSettings, db: Database, renderer: Renderer | None = None
    ) -> None:
        self.settings = settings
        self.relay = Relay(settings)
        self.db = db
        self.renderer = renderer if settings.render_pdf else None

    async def send(
        self,
        *,
        document_id: str,
        raw: bytes,
        to: list[str],
        message_id: str,
        headers: dict[str, str] | None = None,
    ) -> tuple[str, str]:
        """Mail the document; returns (relay reply, Message-ID header). Raises MailTransient /
        MailPermanent (see :mod:`gateway.mail.relay`)."""
        info = _info(raw)
        parts = await self._stored_parts(document_id)
        pdf = next((p for p in parts if p.content_type == PDF), None)
        extra = [p for p in parts if p is not pdf]
        if pdf is None:
            pdf = await self._rendering(document_id, raw)
        message = invoice_mail(
            sender=self.relay.sender,
            to=to,
            message_id=message_id,
            xml=raw,
            info=info,
            pdf=pdf,
            extra=extra,
            headers=headers,
        )
        reply = await self.relay.send(message, to)
        return reply, str(message["Message-ID"])

    async def _stored_parts(self, document_id: str) -> list[MailPart]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(Attachment)
                .where(Attachment.document_id == document_id)
                .options(undefer(Attachment.data))
                .order_by(Attachment.seq)
            )
            parts = []
            for a in rows:
                # Attachments of received mail live in the blob store, once per content.
                data = a.data if a.data is not None else await get_blob(s, a.sha256)
                if data is not None:
                    parts.append(MailPart(a.filename, a.content_type.lower(), data))
        return [p for p in parts if p.content_type not in NOT_FORWARDED]

    async def _rendering(self, document_id: str, raw: bytes) -> MailPart | None:
        if self.renderer is None:
            return None
        try:
            rendering = await self.renderer.render(raw, "pdf", self.settings.render_lang)
        except NotRenderable as exc:
            # The XML is the invoice; a missing picture of it must not stop the mail.
            log.warning("email: sent without PDF: %s", exc.detail, extra={"document": document_id})
            return None
        return MailPart(rendering.filename, PDF, rendering.body)


def _info(raw: bytes) -> DocumentInfo | None:
    try:
        return identify(parse_xml(raw))
    except XmlRefused:
        return None


def mail_addresses(url: str) -> list[str]:
    """``mailto:a@x,b@y`` (or a bare list) -> ``["a@x", "b@y"]``; ValueError if not addresses."""
    text = url.removeprefix("mailto:")
    out = [a.strip() for a in text.replace(";", ",").split(",") if a.strip()]
    bad = [a for a in out if "@" not in a or any(c in a for c in " <>\r\n")]
    if bad or not out:
        raise ValueError(f"not an e-mail address: {', '.join(bad) or url!r}")
    return out
