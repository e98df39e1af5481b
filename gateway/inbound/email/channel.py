"""The SMTP listener: aiosmtpd protocol instances served from the gateway's own event loop.

Why not aiosmtpd's ``Controller``: it runs the server in a thread with a loop of its own, and
the intake pipeline (database engine, validator pool) belongs to the application's loop. So
the channel creates the listening socket itself with ``loop.create_server``.

SMTP answers, and why:

* ``250`` only after every invoice of the mail was committed by the intake pipeline, so a
  mail the sender's server considers delivered is never lost. If storing fails part-way the
  answer is ``451`` (try again later); the retry re-submits everything and the documents
  already stored come back as byte-identical duplicates, which the pipeline records but never
  forwards twice.
* ``550 5.6.0 no UBL/CII invoice found in message`` when a mail has no invoice at all. A
  refusal during the SMTP dialogue is the only feedback the sender is sure to get (their own
  server bounces it to them at once, with our reason), whereas storing it "for review" would
  silently fill the invoice store with out-of-office replies, reminders and spam that nobody
  is paid to look at, and a PDF without embedded XML is not an e-invoice anyway.
* ``552`` for a message over ``smtp.max_message_bytes`` (advertised with the ``SIZE``
  extension, refused at ``MAIL FROM`` when the client declares the size, otherwise after
  ``DATA`` without keeping the excess in memory).
* Invalid invoices are still ``250``: they are stored as ``invalid`` with their report.

STARTTLS is offered when ``smtp.tls_cert_file``/``tls_key_file`` are set; ``smtp.require_tls``
then refuses mail over a clear-text session (``530``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.config import ConfigError, Settings
from gateway.documents import ParseLimits
from gateway.inbound.email.mime import parse_mail
from gateway.inbound.email.submissions import EnvelopeInfo, build_submissions
from gateway.inbound.intake import IntakeResult, Submission

log = logging.getLogger(__name__)

#: RFC 5321 requires at least 100 recipients to be accepted; more makes no sense here.
MAX_RECIPIENTS = 100
#: SMTP reply lines are at most 512 octets; long id lists are shortened to fit.
MAX_REPLY = 400
#: Seconds granted at shutdown for final replies to be written after the last mail is stored.
REPLY_GRACE = 0.2

NO_INVOICE = "550 5.6.0 no UBL/CII invoice found in message"
TRY_LATER = "451 4.3.0 the invoices could not be stored; please try again later"


class Intake(Protocol):
    async def submit(self, sub: Submission) -> IntakeResult: ...


#: Asked first about every mail: the SMTP reply for a delivery-status report (bounce), or
#: None when the mail is not one. The app factory wires the outbound queue's handler in.
Bounces = Callable[[bytes], Awaitable[str | None]]


class SmtpHandler:
    """aiosmtpd handler: one mail in, one ``intake.submit`` per invoice, then the reply."""

    def __init__(self, intake: Intake, limits: ParseLimits, bounces: Bounces | None = None) -> None:
        self.intake = intake
        self.limits = limits
        self.bounces = bounces
        #: Mails being processed; stop() waits for them so nothing half-stored is cut off.
        self.inflight: set[asyncio.Task[str]] = set()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # decode_data=False: original_content holds the exact bytes received.
        raw = envelope.original_content or b""
        info = EnvelopeInfo(
            mail_from=envelope.mail_from,
            rcpt_to=list(envelope.rcpt_tos),
            peer=str(session.peer[0]) if isinstance(session.peer, tuple) else session.peer,
            helo=session.host_name,
        )
        task = asyncio.ensure_future(self.process(raw, info))
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)
        # Shielded: a client that hangs up mid-store must not leave half of a mail stored.
        return await asyncio.shield(task)

    async def process(self, raw: bytes, info: EnvelopeInfo) -> str:
        if self.bounces is not None and (reply := await self.bounces(raw)) is not None:
            return reply
        try:
            mail = await asyncio.to_thread(parse_mail, raw, self.limits)
        except Exception:
            log.exception("email: message could not be decoded", extra={"peer": info.peer})
            return TRY_LATER
        ident = {"message_id": mail.headers.get("message_id"), "peer": info.peer}
        if not mail.invoices:
            log.info("email: refused, no invoice in message", extra=ident)
            return NO_INVOICE
        results: list[IntakeResult] = []
        try:
            for sub in build_submissions(mail, info, raw):
                results.append(await self.intake.submit(sub))
        except Exception:
            log.exception(
                "email: storing failed; asking the sender to retry",
                extra={**ident, "stored": [r.document_id for r in results]},
            )
            return TRY_LATER
        log.info(
            "email: stored %d document(s)",
            len(results),
            extra={
                **ident,
                "documents": [r.document_id for r in results],
                "statuses": [r.status for r in results],
            },
        )
        return _accepted(results)


def _accepted(results: list[IntakeResult]) -> str:
    reply = f"250 2.0.0 OK {len(results)} document(s) stored:"
    for r in results:
        item = f" {r.document_id} ({r.status})"
        if len(reply) + len(item) > MAX_REPLY:
            return reply + " ..."
        reply += item
    return reply


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The STARTTLS context from ``smtp.tls_cert_file``/``tls_key_file``, or None (no TLS).

    Sending MTAs use opportunistic TLS; offering it keeps invoices (personal and business
    data) off the wire in clear text. Misconfiguration fails at start, not at first mail.
    """
    smtp = settings.smtp
    if not (smtp.tls_cert_file or smtp.tls_key_file):
        if smtp.require_tls:
            raise ConfigError("smtp.require_tls needs smtp.tls_cert_file and smtp.tls_key_file")
        return None
    if not (smtp.tls_cert_file and smtp.tls_key_file):
        raise ConfigError("smtp.tls_cert_file and smtp.tls_key_file must be set together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(smtp.tls_cert_file, smtp.tls_key_file)
    return context


class SmtpChannel:
    """The e-mail inbound channel: ``await start()`` listens, ``await stop()`` drains and closes.

    ``port`` is the bound port once started (useful with port 0 in tests).
    """

    def __init__(
        self,
        settings: Settings,
        intake: Intake,
        drain_timeout: float = 30.0,
        bounces: Bounces | None = None,
    ) -> None:
        self.settings = settings
        self.handler = SmtpHandler(
            intake,
            ParseLimits(settings.validation.max_bytes, settings.validation.max_depth),
            bounces,
        )
        self.drain_timeout = drain_timeout
        self._server: asyncio.AbstractServer | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._hostname = socket.gethostname()  # no DNS lookup, unlike getfqdn()
        self._tls = tls_context(settings)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("SMTP channel is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        smtp = self.settings.smtp
        self._server = await loop.create_server(self._protocol, host=smtp.host, port=smtp.port)
        log.info("email: SMTP channel listening", extra={"host": smtp.host, "port": self.port})

    def _protocol(self) -> SMTP:
        session = SMTP(
            self.handler,
            data_size_limit=self.settings.smtp.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=self._hostname,
            ident="einvoice-gateway",
            tls_context=self._tls,
            require_starttls=self._tls is not None and self.settings.smtp.require_tls,
            loop=asyncio.get_running_loop(),
        )
        self._sessions.add(session)
        return session

    async def stop(self) -> None:
        """Stop listening, let mails being stored finish, then close the open sessions."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        pending = set(self.handler.inflight)
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.drain_timeout)
            if late:
                log.warning("email: %d mail(s) still being stored at shutdown", len(late))
            # The replies of the mails just stored are pushed by their sessions right after;
            # give them a moment to reach the socket before the sessions are closed.
            await asyncio.sleep(REPLY_GRACE)
        for session in list(self._sessions):
            transport: Any = session.transport
            if transport is not None:
                transport.close()
        await server.wait_closed()
        log.info("email: SMTP channel stopped")
