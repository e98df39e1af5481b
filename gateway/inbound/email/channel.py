"""The SMTP listener: aiosmtpd protocol instances served from the gateway's own event loop.

Why not aiosmtpd's ``Controller``: it runs the server in a thread with a loop of its own, and
the intake pipeline (database engine, validator pool) belongs to the application's loop. So
the channel creates the listening socket itself with ``loop.create_server``.

SMTP answers, and why:

* ``250`` only after every invoice of the mail was committed, together, with the record of the
  mail (:mod:`gateway.inbound.messages`): all of its documents or none. The same mail delivered
  again (our 250 got lost) is answered ``250 ... already stored`` with the same documents and
  creates nothing.
* ``451`` (try again later) only for what a retry can cure: the database is unreachable or
  busy. Nothing of the mail was stored, so the retry stores it once.
* ``550 5.6.0 no UBL/CII invoice found in message`` when a mail has no invoice at all, and
  ``550 5.6.0 <part>: ...`` when its only invoices cannot be parsed (the parser's reason) or
  a value in one cannot be stored (the field and why). A refusal during the SMTP dialogue is
  the only feedback the sender is sure to get (their own server bounces it to them at once,
  with our reason), whereas storing it "for review" would silently fill the invoice store
  with out-of-office replies, reminders, spam and unreadable files nobody is paid to look at
  (and an unreadable invoice names no buyer to route it to).
* ``554`` when the mail can never be stored (it cannot be decoded, the database refuses a
  value): a permanent refusal, never a 451 the sender retries forever.
* ``552`` for a message over ``smtp.max_message_bytes`` (advertised with the ``SIZE``
  extension, refused at ``MAIL FROM`` when the client declares the size, otherwise after
  ``DATA`` without keeping the excess in memory), with more than ``smtp.max_parts`` MIME
  parts or ``smtp.max_invoices`` invoices, or needing more than ``smtp.max_stored_bytes``.
* ``421`` at connect when ``smtp.max_sessions`` sessions are open; a client silent for
  ``smtp.timeout`` seconds is disconnected, and every session ends after
  ``smtp.max_session_seconds``.
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
from sqlalchemy.exc import DataError

from gateway.config import ConfigError, Settings, SmtpSettings
from gateway.documents import ParseLimits
from gateway.inbound.email.mime import ParsedMail, TooManyParts, Unreadable, parse_mail
from gateway.inbound.email.submissions import (
    CHANNEL,
    EnvelopeInfo,
    build_submissions,
    message_meta,
    stored_bytes,
)
from gateway.inbound.intake import IntakePipeline, IntakeResult, Submission
from gateway.inbound.messages import MessageLog, MessageRecord
from gateway.store import FieldRejected

log = logging.getLogger(__name__)

#: RFC 5321 requires at least 100 recipients to be accepted; more makes no sense here.
MAX_RECIPIENTS = 100
#: SMTP reply lines are at most 512 octets; long id lists are shortened to fit.
MAX_REPLY = 400
#: Seconds granted at shutdown for final replies to be written after the last mail is stored.
REPLY_GRACE = 0.2

NO_INVOICE = "550 5.6.0 no UBL/CII invoice found in message"
TRY_LATER = "451 4.3.0 the invoices could not be stored; please try again later"
UNDECODABLE = "554 5.6.0 the message cannot be decoded; nothing was stored"


class Intake(Protocol):
    async def submit_all(
        self, subs: list[Submission], *, before: Any = None
    ) -> list[IntakeResult]: ...


#: Asked first about every mail: the SMTP reply for a delivery-status report (bounce), or
#: None when the mail is not one. The app factory wires the outbound queue's handler in.
Bounces = Callable[[bytes], Awaitable[str | None]]


class SmtpHandler:
    """aiosmtpd handler: one mail in, its invoices stored together, then the reply."""

    def __init__(
        self,
        intake: Intake,
        limits: ParseLimits,
        smtp: SmtpSettings | None = None,
        messages: MessageLog | None = None,
        bounces: Bounces | None = None,
    ) -> None:
        self.intake = intake
        self.limits = limits
        self.smtp = smtp or SmtpSettings()
        self.messages = messages
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
            mail = await asyncio.to_thread(parse_mail, raw, self.limits, self.smtp.max_parts)
        except TooManyParts as exc:
            log.info("email: refused, too many parts", extra={"peer": info.peer})
            return f"552 5.3.4 {exc}; nothing was stored"
        except Exception:
            log.exception("email: message could not be decoded", extra={"peer": info.peer})
            return UNDECODABLE
        ident = {"message_id": mail.headers.get("message_id"), "peer": info.peer}
        refusal = self._refusal(mail, raw)
        if refusal is not None:
            log.info("email: refused: %s", refusal, extra=ident)
            return refusal
        record = MessageRecord(raw, CHANNEL, message_meta(mail, info, len(mail.invoices)))
        if self.messages is not None:
            try:
                stored = await self.messages.find(record.sha256)
            except Exception:
                log.exception("email: the message log cannot be read", extra=ident)
                return TRY_LATER
            if stored is not None:
                log.info("email: message already stored", extra=ident)
                return _accepted(stored, "already stored")
        subs = build_submissions(mail, info, raw)
        before = self.messages.recorder(record) if self.messages is not None else None
        try:
            results = await self.intake.submit_all(subs, before=before)
        except FieldRejected as exc:
            part = subs[exc.index].metadata.get("filename") if exc.index is not None else None
            log.info("email: refused, %s", exc, extra=ident)
            return _reply(f"550 5.6.0 {part or 'invoice'}: {exc}; nothing was stored")
        except DataError as exc:
            log.exception("email: the database refused a value", extra=ident)
            return _reply(f"554 5.3.0 the invoices cannot be stored ({type(exc.orig).__name__})")
        except Exception:
            log.exception("email: storing failed; asking the sender to retry", extra=ident)
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
        skipped = f"; not readable: {_names(mail.unreadable)}" if mail.unreadable else ""
        return _accepted(results, "stored", skipped)

    def _refusal(self, mail: ParsedMail, raw: bytes) -> str | None:
        """The 5xx reply for a mail that is refused as a whole, or None."""
        smtp = self.smtp
        if not mail.invoices:
            if mail.unreadable:
                first = mail.unreadable[0]
                return _reply(
                    f"550 5.6.0 {first.name}: not a readable invoice ({first.code}: "
                    f"{first.reason}); nothing was stored"
                )
            return NO_INVOICE
        if len(mail.invoices) > smtp.max_invoices:
            return (
                f"552 5.3.4 {len(mail.invoices)} invoices in one message; at most "
                f"{smtp.max_invoices}, nothing was stored"
            )
        needed = stored_bytes(mail, raw)
        if needed > smtp.max_stored_bytes:
            return (
                f"552 5.3.4 storing this message takes {needed} bytes; at most "
                f"{smtp.max_stored_bytes}, nothing was stored"
            )
        return None


def _names(unreadable: list[Unreadable]) -> str:
    return ", ".join(f"{u.name} ({u.code})" for u in unreadable)


def _reply(text: str) -> str:
    """One SMTP reply line: printable, within the line limit."""
    text = "".join(c if " " <= c <= "~" else "?" for c in text)
    return text if len(text) <= MAX_REPLY else text[: MAX_REPLY - 3] + "..."


def _accepted(results: list[Any], what: str, tail: str = "") -> str:
    reply = f"250 2.0.0 OK {len(results)} document(s) {what}:"
    for r in results:
        # A document that ran out of validation time says so (issue 14), others their status.
        # A mail stored before ("already stored") answers with its stored documents, no report.
        report = getattr(r, "report", None)
        timeout = report is not None and report.status == "validation-timeout"
        item = f" {r.document_id} ({r.status}{': validation-timeout' if timeout else ''})"
        if len(reply) + len(item) > MAX_REPLY:
            return _reply(reply + " ..." + tail)
        reply += item
    return _reply(reply + tail)


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


def _hang_up(ref: weakref.ref[SMTP]) -> None:
    session = ref()
    if session is not None and session.transport is not None:
        log.info("email: session closed at smtp.max_session_seconds")
        session.transport.close()


class _Busy(asyncio.Protocol):
    """Answers a connection over ``smtp.max_sessions`` with 421 and hangs up (RFC 5321 4.2.3).

    Each session can hold a whole message (``max_message_bytes``) in memory while it is being
    stored: 16 concurrent 26 MB mails took the process to 1.5 GB before this limit.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(b"421 4.3.2 too many connections; try again later\r\n")
        transport.close()


class SmtpChannel:
    """The e-mail inbound channel: ``await start()`` listens, ``await stop()`` drains and closes.

    ``port`` is the bound port once started (useful with port 0 in tests).
    """

    def __init__(
        self,
        settings: Settings,
        intake: Intake,
        drain_timeout: float = 30.0,
        messages: MessageLog | None = None,
        bounces: Bounces | None = None,
    ) -> None:
        self.settings = settings
        if messages is None and isinstance(intake, IntakePipeline):
            messages = MessageLog(intake.db)
        self.handler = SmtpHandler(
            intake,
            ParseLimits(settings.validation.max_bytes, settings.validation.max_depth),
            settings.smtp,
            messages,
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

    def _protocol(self) -> asyncio.Protocol:
        live = sum(1 for s in self._sessions if s.transport is not None)
        if live >= self.settings.smtp.max_sessions:
            log.warning("email: session refused, %d sessions open", live)
            return _Busy()
        session = SMTP(
            self.handler,
            data_size_limit=self.settings.smtp.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=self._hostname,
            ident="einvoice-gateway",
            tls_context=self._tls,
            timeout=self.settings.smtp.timeout,
            require_starttls=self._tls is not None and self.settings.smtp.require_tls,
            loop=asyncio.get_running_loop(),
        )
        self._sessions.add(session)
        # smtp.timeout bounds each silence; this bounds the whole session (a client dripping
        # one line per timeout would otherwise hold a session, and its buffer, for hours). A
        # mail cut off while being stored is stored; its retry is answered "already stored".
        loop = asyncio.get_running_loop()
        loop.call_later(self.settings.smtp.max_session_seconds, _hang_up, weakref.ref(session))
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
