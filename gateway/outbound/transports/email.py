"""The ``email`` transport: the invoice XML, a PDF and extra attachments in one mail.

Addresses come from the endpoint (``mailto:a@x,b@y``): a ``[[routes]]`` entry with
``transport = "email"`` and ``to``, or the buyer's electronic address when its scheme is
``EM`` (see :mod:`gateway.outbound.routing`). What goes into the mail: :mod:`gateway.mail.mailer`
(the client's own PDF, a multipart part stored with the document, or the gateway's rendering).

The Message-ID is the queue item's message id, so every retry sends the same mail and a DSN
(bounce) can be matched to it; 4xx and connection problems retry, 5xx fail at once
(:mod:`gateway.mail.relay`).
"""

from __future__ import annotations

from gateway.mail import InvoiceMailer, MailPermanent, MailTransient
from gateway.mail import mail_addresses as _addresses
from gateway.outbound.errors import PermanentError, TransientError
from gateway.outbound.messages import DeliveryResult, Endpoint, OutboundMessage


def mail_addresses(url: str) -> list[str]:
    try:
        return _addresses(url)
    except ValueError as exc:
        raise PermanentError(str(exc), "bad-address") from exc


class EmailTransport:
    name = "email"

    def __init__(self, mailer: InvoiceMailer) -> None:
        self.mailer = mailer

    async def send(self, item: OutboundMessage, endpoint: Endpoint) -> DeliveryResult:
        to = mail_addresses(endpoint.url)
        try:
            reply, message_id = await self.mailer.send(
                document_id=item.id,
                raw=item.payload,
                to=to,
                message_id=item.message_id,
                headers={"X-Gateway-Attempt": str(item.attempt)},
            )
        except MailPermanent as exc:
            raise PermanentError(exc.message, exc.code) from exc
        except MailTransient as exc:
            raise TransientError(exc.message, exc.code) from exc
        return DeliveryResult(
            status=250, detail=reply[:500], extra={"to": ", ".join(to), "message_id": message_id}
        )

    async def aclose(self) -> None:
        return None
