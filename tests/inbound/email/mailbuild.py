"""Builders for test mails and Factur-X PDFs (imported by the tests of this directory)."""

from __future__ import annotations

import asyncio
import io
import smtplib
from email import policy
from email.message import EmailMessage
from pathlib import Path

from pypdf import PdfWriter

SENDER = "billing@seller.example"
RCPT = "invoices@buyer.example"


def facturx_pdf(
    xml: bytes, name: str = "factur-x.xml", extra: dict[str, bytes] | None = None
) -> bytes:
    """A one-page PDF with ``xml`` embedded under ``name`` (as Factur-X/ZUGFeRD do)."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_attachment(name, xml)
    for other, data in (extra or {}).items():
        writer.add_attachment(other, data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def new_mail(
    subject: str = "Invoice", text: str | None = "Please find our invoice attached."
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Seller Billing <billing@seller.example>"
    msg["To"] = "invoices@buyer.example"
    msg["Subject"] = subject
    slug = "".join(c if c.isascii() and c.isalnum() else "-" for c in subject)
    msg["Message-ID"] = f"<{slug}@seller.example>"
    msg["Date"] = "Mon, 02 Mar 2026 10:00:00 +0100"
    if text is not None:
        msg.set_content(text)
    return msg


def attach(msg: EmailMessage, data: bytes, filename: str, ctype: str = "application/xml") -> None:
    maintype, subtype = ctype.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)


def wire(msg: EmailMessage) -> bytes:
    """The message as an MTA transmits it: CRLF line endings (smtplib sends bytes unchanged)."""
    return msg.as_bytes(policy=policy.SMTP)


def _send(port: int, raw: bytes, size_option: bool = True, noop: bool = True) -> tuple[int, bytes]:
    """One SMTP transaction; returns the final reply (code, text) of MAIL, RCPT or DATA."""
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:  # a loaded CI machine
        client.ehlo("seller-mta.example")
        options = [f"SIZE={len(raw)}"] if size_option and client.has_extn("size") else []
        code, text = client.mail(SENDER, options)
        if code != 250:
            return code, text
        code, text = client.rcpt(RCPT)
        if code != 250:
            return code, text
        code, text = client.data(raw)
        if noop:
            assert client.noop()[0] == 250  # the session survives every answer
        return code, text


async def send(
    port: int, raw: bytes, size_option: bool = True, noop: bool = True
) -> tuple[int, bytes]:
    return await asyncio.to_thread(_send, port, raw, size_option, noop)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throw-away certificate + key for 127.0.0.1 (PEM files in ``directory``)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.crt", directory / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file
