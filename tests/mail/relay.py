"""A real SMTP relay on loopback (aiosmtpd): STARTTLS required, AUTH required, scripted replies.

It stands in for the operator's mail relay in ``[email_out]``. Every DATA it sees is recorded
(accepted or not), so tests can compare Message-IDs across retries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections import deque
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.outbound.pki import KeyPair, make_ca
from tests.waiting import until

USER, PASSWORD = "gateway", "relay-secret"


def loopback_leaf(ca: KeyPair) -> KeyPair:
    """A server certificate for 127.0.0.1 / localhost, signed by ``ca``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return KeyPair(key, cert)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    reply: str
    tls: bool
    authenticated: bool

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.raw)  # type: ignore[return-value]


@dataclass
class Relay:
    port: int = 0
    ca_file: str = ""
    #: Replies to the next DATA commands, in order; "250 OK" once it is empty.
    replies: deque[str] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.reply.startswith("250")]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = self.replies.popleft() if self.replies else "250 2.0.0 OK queued"
        self.received.append(
            Received(
                envelope.mail_from or "",
                list(envelope.rcpt_tos),
                envelope.original_content or b"",
                reply,
                tls=server._tls_protocol is not None,
                authenticated=bool(session.authenticated),
            )
        )
        return reply

    async def wait_for(self, count: int, timeout: float = 90.0) -> None:
        await until(
            lambda: len(self.received) >= count,
            timeout,
            f"{count} mails at the relay",
            detail=lambda: f"relay saw {len(self.received)} of {count} mails",
        )


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


async def start_relay(tmp: Path) -> tuple[Relay, asyncio.AbstractServer]:
    ca = make_ca("Test relay CA")
    leaf = loopback_leaf(ca)
    (tmp / "relay.pem").write_bytes(leaf.cert_pem)
    (tmp / "relay.key").write_bytes(leaf.key_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp / "relay.pem", tmp / "relay.key")
    relay = Relay(ca_file=ca.write_cert(tmp / "relay-ca.pem"))
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        return SMTP(
            relay,
            decode_data=False,
            hostname="relay.test",
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            authenticator=_authenticator,
            loop=loop,
        )

    server = await loop.create_server(protocol, host="127.0.0.1", port=0)
    relay.port = server.sockets[0].getsockname()[1]
    return relay, server
