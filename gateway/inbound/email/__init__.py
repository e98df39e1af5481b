"""E-mail inbound channel: an SMTP listener that turns invoice attachments into documents.

UBL/CII XML attachments, XML sent as the mail text, the CII XML inside Factur-X/ZUGFeRD PDFs
and invoices in forwarded messages each become one intake submission with channel ``email``;
the rest of the mail (addresses, subject, Message-ID, other attachments, the original
message) travels with every document.
"""

from gateway.inbound.email.channel import SmtpChannel, SmtpHandler
from gateway.inbound.email.mime import InvoicePart, ParsedMail, Part, parse_mail

__all__ = ["InvoicePart", "ParsedMail", "Part", "SmtpChannel", "SmtpHandler", "parse_mail"]
