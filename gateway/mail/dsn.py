"""Delivery status notifications (RFC 3464): which mail bounced, for whom, and why.

A DSN is a ``multipart/report; report-type=delivery-status`` mail: a human part, a
``message/delivery-status`` part (one block for the message, one per recipient with
``Action``, ``Status``, ``Diagnostic-Code``) and the returned headers or message, whose
``Message-ID`` says which of our mails it is about. Only ``Action: failed`` is a bounce;
``delayed``, ``delivered``, ``relayed`` and ``expanded`` are reports, not failures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser, HeaderParser


@dataclass(frozen=True)
class Recipient:
    recipient: str
    action: str
    status: str
    diagnostic: str = ""


@dataclass
class Bounce:
    #: Message-ID of the mail the report is about (``<...>``), when the report returns it.
    original_message_id: str | None
    recipients: list[Recipient] = field(default_factory=list)
    reporting_mta: str = ""

    @property
    def failed(self) -> list[Recipient]:
        return [r for r in self.recipients if r.action == "failed"]

    def reason(self) -> str:
        parts = [
            f"{r.recipient}: {r.status}" + (f" {r.diagnostic}" if r.diagnostic else "")
            for r in self.failed
        ]
        head = f"bounced (DSN from {self.reporting_mta})" if self.reporting_mta else "bounced"
        return head + ": " + "; ".join(parts)


def _field(block: Message, name: str) -> str:
    value = str(block.get(name, "") or "")
    return " ".join(value.split())


def _strip_type(value: str) -> str:
    """``rfc822; a@b`` -> ``a@b`` (address-type and diagnostic-type prefixes)."""
    return value.split(";", 1)[1].strip() if ";" in value else value


def parse_bounce(raw: bytes) -> Bounce | None:
    """The bounce in ``raw``, or None when it is not a delivery-status report."""
    msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    if msg.get_content_type() != "multipart/report":
        return None
    if str(msg.get_param("report-type", "")).lower() != "delivery-status":
        return None
    bounce = Bounce(original_message_id=None)
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            blocks = part.get_payload()
            if isinstance(blocks, str):  # some MTAs send it undecoded: parse the text
                blocks = _header_blocks(blocks)
            for i, block in enumerate(blocks):
                if i == 0:
                    bounce.reporting_mta = _strip_type(_field(block, "Reporting-MTA"))
                    continue
                recipient = _strip_type(
                    _field(block, "Final-Recipient") or _field(block, "Original-Recipient")
                )
                if not recipient:
                    continue
                bounce.recipients.append(
                    Recipient(
                        recipient=recipient,
                        action=_field(block, "Action").lower(),
                        status=_field(block, "Status"),
                        diagnostic=_strip_type(_field(block, "Diagnostic-Code"))[:300],
                    )
                )
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers"):
            text = part.get_payload(decode=True) or b""
            headers = HeaderParser().parsestr(text.decode("utf-8", "replace"))
            bounce.original_message_id = bounce.original_message_id or _mid(headers)
        elif ctype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                bounce.original_message_id = bounce.original_message_id or _mid(inner[0])
    return bounce


def _mid(headers: Message) -> str | None:
    value = str(headers.get("Message-ID", "") or "").strip()
    return value or None


def _header_blocks(text: str) -> list[Message]:
    chunks = [c for c in text.replace("\r\n", "\n").split("\n\n") if c.strip()]
    return [HeaderParser().parsestr(c) for c in chunks]
