"""One invoice mail: a short text, the invoice XML, its PDF and any extra attachments.

The platform users come from (``../shared/design/statuses.md``, platform 1) sends the PDF and
the XRechnung XML together; buyers' inboxes file them as one mail, so they travel together.
The Message-ID is the queue item's message id, identical on every retry, so a relay or an
inbox that already has the mail can drop the repeat, and a bounce can be matched to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from gateway.documents import DocumentInfo


@dataclass(frozen=True)
class MailPart:
    filename: str
    content_type: str
    data: bytes


def message_id_header(message_id: str) -> str:
    """``<local@domain>``; a bare id (no ``@``) gets the gateway's domain."""
    value = message_id.strip().strip("<>")
    if "@" not in value:
        value += "@einvoice-gateway"
    return f"<{value}>"


def _label(info: DocumentInfo | None) -> tuple[str, str]:
    if info is None:
        return "Document", "document"
    kind = "Credit note" if info.kind == "CreditNote" else "Invoice"
    return kind, info.number or "document"


def invoice_mail(
    *,
    sender: str,
    to: list[str],
    message_id: str,
    xml: bytes,
    info: DocumentInfo | None,
    pdf: MailPart | None = None,
    extra: list[MailPart] | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    kind, number = _label(info)
    seller = (info.seller.name if info else None) or ""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = f"{kind} {number}" + (f" from {seller}" if seller else "")
    msg["Message-ID"] = message_id_header(message_id)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    for name, value in (headers or {}).items():
        msg[name] = value
    lines = [f"{kind} {number}" + (f" from {seller}" if seller else "") + "."]
    if info is not None and info.payable_amount:
        lines.append(f"Amount due: {info.payable_amount} {info.currency or ''}".rstrip())
    if info is not None and info.due_date:
        lines.append(f"Due date: {info.due_date}")
    lines.append("")
    lines.append("The structured invoice (XML) is attached" + (", with a PDF." if pdf else "."))
    msg.set_content("\n".join(lines) + "\n")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in number)[:80] or "invoice"
    msg.add_attachment(xml, maintype="application", subtype="xml", filename=f"{safe}.xml")
    for part in ([pdf] if pdf else []) + list(extra or []):
        maintype, _, subtype = part.content_type.partition("/")
        msg.add_attachment(
            part.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=part.filename,
        )
    return msg
