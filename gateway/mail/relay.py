"""The relay client: aiosmtplib with STARTTLS, implicit TLS or (tests) plain SMTP, and auth.

Why aiosmtplib: a maintained asyncio SMTP client (STARTTLS, AUTH, SMTPUTF8, timeouts) that
runs on the gateway's own loop; the standard library's ``smtplib`` would block it.

Reply classes decide the outcome, as RFC 5321 means them: 4xx replies and connection problems
are transient (the relay is busy, greylisting, down), 5xx replies are permanent (the relay or
the recipient's server refused the mail and will refuse it again).
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import aiosmtplib

from gateway.config import ConfigError, EmailOutSettings

SECURITY = ("starttls", "tls", "none")


class MailTransient(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class MailPermanent(MailTransient):
    pass


class Relay:
    def __init__(self, settings: EmailOutSettings, tls: ssl.SSLContext | None = None) -> None:
        if settings.security not in SECURITY:
            raise ConfigError(f"email_out.security must be one of {', '.join(SECURITY)}")
        if not settings.host or not settings.from_address:
            raise ConfigError("email_out needs host and from_address")
        self.settings = settings
        self.tls = tls or ssl.create_default_context(cafile=settings.ca_file or None)

    @property
    def sender(self) -> str:
        return self.settings.from_address

    async def send(self, message: EmailMessage, recipients: list[str]) -> str:
        """Send ``message`` to ``recipients``; the relay's final reply on success."""
        s = self.settings
        try:
            refused, reply = await aiosmtplib.send(
                message,
                sender=s.from_address,
                recipients=recipients,
                hostname=s.host,
                port=s.port,
                username=s.username or None,
                password=s.password or None,
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",  # required: never a silent downgrade
                tls_context=self.tls if s.security != "none" else None,
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            cls = MailPermanent if all(c >= 500 for c in codes) else MailTransient
            raise cls(f"{s.host} refused every recipient: {detail}", f"smtp-{min(codes)}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            cls = MailPermanent if exc.code >= 500 else MailTransient
            raise cls(f"{s.host} answered {exc.code} {exc.message}", f"smtp-{exc.code}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailTransient(
                f"{s.host}:{s.port}: {type(exc).__name__}: {exc}", "connection-failed"
            ) from exc
        if refused:
            # Some recipients were taken, so the mail is out; say who was not.
            partial = "; ".join(f"{k}: {v.code} {v.message}" for k, v in refused.items())
            return f"{reply} (refused: {partial})"
        return reply
