"""Find the invoices in a received e-mail and keep everything else that came with them.

A part is an invoice when the safe parser plus :func:`identify` say it is UBL or CII, never
because of its file name. A part that *declares* itself XML (``*/xml`` content type or ``.xml``
name, or a Factur-X file name inside a PDF) but cannot be parsed is not a document: it is
listed in :attr:`ParsedMail.unreadable` with the parser's reason (it stays in the stored raw
message), and a mail with nothing else is refused with that reason while the sender is still
on the line. Why: each such part used to become an ``invalid`` document with its own copy of
the whole mail (50 broken parts in a 2.75 MB mail wrote 238 MB), stored for nobody, since an
unreadable invoice names no buyer to route it to.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from gateway.documents import (
    ParseLimits,
    PdfUnreadable,
    XmlRefused,
    embedded_files,
    identify,
    parse_xml,
)

log = logging.getLogger(__name__)

#: Deepest nesting of multiparts / forwarded messages looked into.
MAX_NESTING = 10
#: Most MIME leaves in one message by default (``smtp.max_parts``); a mail with more is refused.
MAX_PARTS = 500
#: Body text kept in metadata, in characters.
MAX_BODY_TEXT = 4000

_XML_TYPES = frozenset({"application/xml", "text/xml"})
_INVOICE_SYNTAXES = frozenset({"ubl", "cii"})


@dataclass(frozen=True)
class Part:
    """One decoded MIME leaf (or a file embedded in a PDF)."""

    filename: str | None
    content_type: str
    data: bytes
    #: IMAP-style part number ("1", "2.1"); embedded files add "/<name>".
    path: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def summary(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.data),
            "sha256": self.sha256,
            "part": self.path,
        }


@dataclass(frozen=True)
class InvoicePart:
    """An XML document that goes to the intake pipeline."""

    part: Part
    #: "attachment", "body" (XML as the mail text) or "pdf" (embedded in ``container``).
    source: str
    container: Part | None = None
    #: Headers of the forwarded message (message/rfc822) it was found in, if any.
    forwarded: dict[str, Any] | None = None
    #: Root element recognised by identification.
    doc_type: str | None = None
    #: Part paths of byte-identical copies in the same mail (e.g. the XML attached both on
    #: its own and inside the Factur-X PDF): one document, not a document and its duplicate.
    copies: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Unreadable:
    """A part that declared itself XML but was refused by the safe parser."""

    name: str
    #: not-well-formed, forbidden-construct or too-large.
    code: str
    reason: str

    def summary(self) -> dict[str, str]:
        return {"part": self.name, "code": self.code, "reason": self.reason}


class TooManyParts(ValueError):
    """The message has more MIME leaves than allowed; nothing of it is examined further."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the message has more than {limit} MIME parts")
        self.limit = limit


@dataclass
class ParsedMail:
    headers: dict[str, Any]
    invoices: list[InvoicePart] = field(default_factory=list)
    #: Every other leaf with a file name or a non-text type (PDFs included), in mail order.
    attachments: list[Part] = field(default_factory=list)
    body_text: str | None = None
    #: Things a human may want to know (unreadable PDF, limits hit); never fatal.
    warnings: list[str] = field(default_factory=list)
    #: Declared XML that could not be parsed: not documents (see the module docstring).
    unreadable: list[Unreadable] = field(default_factory=list)


def parse_mail(
    raw: bytes, limits: ParseLimits | None = None, max_parts: int = MAX_PARTS
) -> ParsedMail:
    """Decode ``raw`` (RFC 5322 bytes) and sort its parts into invoices and the rest.

    CPU-bound (MIME decoding, XML and PDF parsing): call it in a worker thread. Raises
    :class:`TooManyParts` past ``max_parts`` leaves (a mail bomb of tiny parts stops there).
    """
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    mail = ParsedMail(headers=message_headers(msg))
    walker = _Walker(limits or ParseLimits(), mail, max_parts)
    walker.walk(msg, "", 0, None)
    return walker.mail


def message_headers(msg: Message) -> dict[str, Any]:
    """The headers worth keeping, decoded (RFC 2047) and tolerant of malformed values."""
    return {
        "message_id": _header(msg, "Message-ID"),
        "from": _header(msg, "From"),
        "to": _addresses(msg, "To"),
        "cc": _addresses(msg, "Cc"),
        "reply_to": _header(msg, "Reply-To"),
        "subject": _header(msg, "Subject"),
        "date": _header(msg, "Date"),
    }


def _header(msg: Message, name: str) -> str | None:
    try:
        value = msg.get(name)
    except Exception:  # malformed header values can raise while being parsed lazily
        return None
    return str(value).strip() if value is not None else None


def _addresses(msg: Message, name: str) -> list[str]:
    try:
        values = [str(v) for v in msg.get_all(name, [])]
    except Exception:
        return []
    return [addr for _, addr in getaddresses(values) if addr]


class _Walker:
    """Depth-first walk over the MIME tree collecting into one :class:`ParsedMail`."""

    def __init__(self, limits: ParseLimits, mail: ParsedMail, max_parts: int) -> None:
        self.limits = limits
        self.mail = mail
        self.max_parts = max_parts
        self.leaves = 0

    def walk(self, msg: Message, path: str, depth: int, forwarded: dict[str, Any] | None) -> None:
        if depth > MAX_NESTING:
            self._warn(f"part {path or '1'}: nested deeper than {MAX_NESTING} levels; not examined")
            return
        ctype = msg.get_content_type()
        if ctype == "message/rfc822":
            payload = msg.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                self.walk(inner, path, depth + 1, message_headers(inner))
            return
        if msg.is_multipart():
            children = msg.get_payload()
            assert isinstance(children, list)
            for index, child in enumerate(children, start=1):
                self.walk(child, f"{path}.{index}" if path else str(index), depth + 1, forwarded)
            return
        self.leaf(msg, path or "1", forwarded)

    def leaf(self, msg: Message, path: str, forwarded: dict[str, Any] | None) -> None:
        self.leaves += 1
        if self.leaves > self.max_parts:
            raise TooManyParts(self.max_parts)
        ctype = msg.get_content_type()
        try:
            filename = msg.get_filename()
        except Exception:
            filename = None
        data = msg.get_payload(decode=True) or b""
        if not isinstance(data, bytes):
            data = b""
        part = Part(filename, ctype, data, path)
        is_body = (
            filename is None
            and ctype.startswith("text/")
            and (msg.get_content_disposition() != "attachment")
        )
        if _is_pdf(part):
            self.mail.attachments.append(part)
            self.pdf(part, forwarded)
            return
        declared = ctype in _XML_TYPES or ctype.endswith("+xml") or _has_ext(filename, ".xml")
        if declared or _looks_like_xml(data):
            found = self.examine(part, declared, "body" if is_body else "attachment", forwarded)
            if found:
                return
        if is_body:
            if ctype == "text/plain" and self.mail.body_text is None:
                self.mail.body_text = _text(msg, data)[:MAX_BODY_TEXT]
        else:
            self.mail.attachments.append(part)

    def pdf(self, container: Part, forwarded: dict[str, Any] | None) -> None:
        try:
            files = embedded_files(container.data, self.limits.max_bytes)
        except PdfUnreadable as exc:
            self._warn(f"part {container.path} ({container.filename}): unreadable PDF: {exc}")
            return
        for ef in files:
            declared = (
                ef.known_invoice_name
                or ef.name.lower().endswith(".xml")
                or ("xml" in (ef.subtype or "").lower())
            )
            if not (declared or _looks_like_xml(ef.data)):
                continue
            part = Part(ef.name, "application/xml", ef.data, f"{container.path}/{ef.name}")
            self.examine(part, declared, "pdf", forwarded, container)

    def examine(
        self,
        part: Part,
        declared: bool,
        source: str,
        forwarded: dict[str, Any] | None,
        container: Part | None = None,
    ) -> bool:
        """Record ``part`` as an invoice if it is one (or declared XML that will not parse)."""
        for known in self.mail.invoices:
            if known.part.data == part.data:
                known.copies.append(part.path)
                return True
        try:
            info = identify(parse_xml(part.data, self.limits))
        except XmlRefused as exc:
            if declared:
                name = part.filename or f"part {part.path}"
                at = f" (line {exc.line})" if exc.line else ""
                self.mail.unreadable.append(Unreadable(name, exc.code, f"{exc.message}{at}"))
            return False
        if info.syntax not in _INVOICE_SYNTAXES:
            return False
        self.mail.invoices.append(
            InvoicePart(part, source, container, forwarded, doc_type=info.doc_type)
        )
        return True

    def _warn(self, message: str) -> None:
        log.warning("email: %s", message)
        self.mail.warnings.append(message)


def _has_ext(filename: str | None, ext: str) -> bool:
    return filename is not None and filename.lower().endswith(ext)


def _is_pdf(part: Part) -> bool:
    return (
        part.content_type == "application/pdf"
        or _has_ext(part.filename, ".pdf")
        or part.data[:1024].lstrip().startswith(b"%PDF-")
    )


def _looks_like_xml(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


def _text(msg: Message, data: bytes) -> str:
    charset = msg.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:  # unknown charset name
        return data.decode("utf-8", errors="replace")
