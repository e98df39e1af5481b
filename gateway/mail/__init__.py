"""Outgoing e-mail: invoice mails (XML + PDF + attachments), the relay client, DSN bounces.

Shared by the ``email`` transport of the outbound queue and by e-mail forwarding of received
invoices, so both build the same mail and talk to the relay the same way.

Public surface:
- :func:`invoice_mail` - one ``EmailMessage`` with the XML, a PDF and extra attachments.
- :class:`Relay` - ``await relay.send(message)`` through ``[email_out]`` (aiosmtplib), raising
  :class:`MailTransient` / :class:`MailPermanent` by the SMTP reply class.
- :class:`InvoiceMailer` - a stored document as one mail (XML, its PDF or the rendering, the
  other stored files), for the ``email`` transport and e-mail forwarding; :func:`mail_addresses`.
- :class:`Bounce`, :func:`parse_bounce` - RFC 3464 delivery status notifications.
- :class:`MailPart`.
"""

from gateway.mail.build import MailPart, invoice_mail, message_id_header
from gateway.mail.dsn import Bounce, parse_bounce
from gateway.mail.mailer import InvoiceMailer, mail_addresses
from gateway.mail.relay import MailPermanent, MailTransient, Relay

__all__ = [
    "Bounce",
    "InvoiceMailer",
    "MailPart",
    "MailPermanent",
    "MailTransient",
    "Relay",
    "invoice_mail",
    "mail_addresses",
    "message_id_header",
    "parse_bounce",
]
