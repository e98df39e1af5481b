"""Turn one parsed mail into intake submissions, one per invoice found.

Every document carries the whole context of the mail it came in: who sent it to whom, the
subject and Message-ID, where in the mail the XML was, every other attachment (bytes, plus
name/type/size/sha256 in the metadata) and the original message itself, so an operator can
always answer "what exactly did we receive?" without a mail archive. The bytes are shared: the
documents of one mail reference the same attachment objects, which the store keeps once
(content-addressed blobs), so a mail costs its own size plus its decoded parts, not that
times the number of invoices (:func:`stored_bytes` is what the size limit is checked against).
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.inbound.email.mime import InvoicePart, ParsedMail, Part
from gateway.inbound.intake import Attachment, Submission

CHANNEL = "email"
ORIGINAL_MESSAGE_NAME = "original-message.eml"


@dataclass
class EnvelopeInfo:
    """What the SMTP transaction (not the message headers) said."""

    mail_from: str | None
    rcpt_to: list[str]
    peer: str | None = None
    helo: str | None = None
    received_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        return {
            "mail_from": self.mail_from,
            "rcpt_to": list(self.rcpt_to),
            "peer": self.peer,
            "helo": self.helo,
            "received_at": self.received_at,
        }


def build_submissions(mail: ParsedMail, envelope: EnvelopeInfo, raw: bytes) -> list[Submission]:
    """One :class:`Submission` per invoice in ``mail``; ``raw`` is the message as received."""
    attachments = [_attachment(p) for p in mail.attachments]
    attachments.append(Attachment(ORIGINAL_MESSAGE_NAME, "message/rfc822", raw))
    listed = [p.summary() for p in mail.attachments]
    listed.append(
        {
            "filename": ORIGINAL_MESSAGE_NAME,
            "content_type": "message/rfc822",
            "size": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "part": None,
        }
    )
    common = {
        **mail.headers,
        "envelope": envelope.to_dict(),
        "attachments": listed,
        "body_text": mail.body_text,
        "warnings": list(mail.warnings),
        "unreadable": [u.summary() for u in mail.unreadable],
        "message_sha256": hashlib.sha256(raw).hexdigest(),
    }
    total = len(mail.invoices)
    out = []
    for index, invoice in enumerate(mail.invoices, start=1):
        meta = {**common, "invoice": _origin(invoice, index, total)}
        out.append(
            Submission(
                raw=invoice.part.data,
                channel=CHANNEL,
                tenant=None,
                metadata={"email": meta, "filename": _filename(invoice.part)},
                # A fresh list per document (the store may own the list); the same bytes.
                attachments=list(attachments),
            )
        )
    return out


def message_meta(mail: ParsedMail, envelope: EnvelopeInfo, documents: int) -> dict[str, Any]:
    """What the inbound message record keeps (besides the raw bytes, stored as a blob)."""
    return {
        **mail.headers,
        "envelope": envelope.to_dict(),
        "parts": [p.summary() for p in mail.attachments]
        + [i.part.summary() for i in mail.invoices],
        "unreadable": [u.summary() for u in mail.unreadable],
        "warnings": list(mail.warnings),
        "documents": documents,
    }


def stored_bytes(mail: ParsedMail, raw: bytes) -> int:
    """Bytes storing ``mail`` takes: the raw message, each distinct part once, the invoices."""
    parts = {p.sha256: len(p.data) for p in mail.attachments}
    invoices = sum(len(i.part.data) for i in mail.invoices)
    return len(raw) + sum(parts.values()) + invoices


def _origin(invoice: InvoicePart, index: int, total: int) -> dict[str, Any]:
    container = invoice.container
    return {
        "index": index,
        "count": total,
        "source": invoice.source,
        "filename": invoice.part.filename,
        "content_type": invoice.part.content_type,
        "part": invoice.part.path,
        "sha256": invoice.part.sha256,
        "container": container.summary() if container else None,
        "forwarded": invoice.forwarded,
        "copies": list(invoice.copies),
    }


def _filename(part: Part) -> str:
    """The invoice's own name, or a stable one from its MIME position (XML in the body)."""
    return part.filename or f"part-{part.path}.xml"


def _attachment(part: Part) -> Attachment:
    ext = mimetypes.guess_extension(part.content_type) or ".bin"
    name = part.filename or f"part-{part.path}{ext}"
    return Attachment(name, part.content_type, part.data)
