"""Outbound AS4: POST one UserMessage, verify the receipt, classify failures for the queue."""

from __future__ import annotations

from typing import Any

import aiohttp
from cryptography import x509

from gateway.as4 import errors
from gateway.as4.errors import As4PermanentError, As4TransientError, ReceiptInvalid
from gateway.as4.identity import Identity
from gateway.as4.message import OutboundMessage, build_user_message
from gateway.as4.receipt import Receipt, Signal, verify_receipt
from gateway.as4.sbdh import Sbdh
from gateway.as4.trust import TrustStore, UntrustedCertificate

#: ebMS codes for which a later retry can succeed (transport trouble at the receiver).
TRANSIENT_CODES = frozenset({"EBMS:0005", "EBMS:0006"})
MAX_ANSWER_BYTES = 10 * 1024 * 1024


def classify(signal: Signal, http_status: int) -> errors.As4SendError:
    """Turn an error signal into a typed send error."""
    first = signal.errors[0]
    message = f"receiver refused with {first.code} {first.short_description}: {first.detail}"
    kind: type[errors.As4SendError] = As4PermanentError
    if first.code in TRANSIENT_CODES or http_status >= 500:
        kind = As4TransientError
    return kind(message, ebms_code=first.code, detail=first.detail, http_status=http_status)


class As4Sender:
    """Sends SBDs to receiving access points. One instance per process (shares a session)."""

    def __init__(
        self,
        identity: Identity,
        trust: TrustStore | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        user_agent: str = "einvoice-gateway-as4",
    ) -> None:
        self.identity = identity
        self.trust = trust
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.user_agent = user_agent
        self._session = session
        self._own_session = session is None

    @classmethod
    def from_settings(
        cls, settings: Any, session: aiohttp.ClientSession | None = None
    ) -> As4Sender:
        """Identity and trust from ``Settings.as4``; timeout from ``Settings.outbound``."""
        as4 = settings.as4
        return cls(
            Identity.from_settings(as4),
            TrustStore.from_settings(as4),
            session=session,
            timeout=settings.outbound.request_timeout,
        )

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
            self._own_session = True
        return self._session

    async def aclose(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        if self.trust is not None:
            await self.trust.aclose()

    async def send(
        self,
        url: str,
        receiver_cert: x509.Certificate,
        sbd: bytes,
        *,
        message_id: str,
        receiver_party_id: str | None = None,
        conversation_id: str | None = None,
        header: Sbdh | None = None,
    ) -> Receipt:
        """Deliver ``sbd`` (an SBD with the Peppol SBDH) and return the verified receipt.

        ``header`` (the :class:`Sbdh` the SBD was wrapped with) saves re-parsing the SBD.

        Raises :class:`As4TransientError` (retry) or :class:`As4PermanentError` (give up).
        Retries must pass the same ``message_id`` and the same ``sbd`` bytes.
        """
        if self.trust is not None:
            try:
                await self.trust.validate(receiver_cert)
            except UntrustedCertificate as exc:
                # Refused before anything leaves: a revoked (or untrusted) receiver for good,
                # an unestablished revocation status (hard-fail) until the responder answers.
                kind = As4TransientError if exc.transient else As4PermanentError
                raise kind(
                    f"receiver certificate is not trusted: {exc}", detail="receiver-certificate"
                ) from exc
        message = build_user_message(
            self.identity,
            receiver_cert,
            sbd,
            message_id=message_id,
            header=header,
            receiver_party_id=receiver_party_id,
            conversation_id=conversation_id,
        )
        return await self.post(url, receiver_cert, message)

    async def post(
        self, url: str, receiver_cert: x509.Certificate, message: OutboundMessage
    ) -> Receipt:
        session = await self._http()
        headers = {**message.headers, "User-Agent": self.user_agent}
        try:
            async with session.post(
                url, data=message.body, headers=headers, timeout=self.timeout
            ) as resp:
                status = resp.status
                answer = await resp.content.read(MAX_ANSWER_BYTES + 1)
                content_type = resp.headers.get("Content-Type", "")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise As4TransientError(f"could not reach {url}: {exc!r}") from exc
        if len(answer) > MAX_ANSWER_BYTES:
            raise As4TransientError("answer exceeds the size limit", http_status=status)
        if "xml" not in content_type.lower() or not answer.strip():
            kind = (
                As4TransientError
                if status >= 500 or status in (408, 429) or status < 300
                else As4PermanentError
            )
            raise kind(f"HTTP {status} without an ebMS signal", http_status=status)
        try:
            signal = verify_receipt(answer, message.message_id, message.signed, receiver_cert)
        except ReceiptInvalid as exc:
            exc.http_status = status
            raise
        if signal.errors:
            raise classify(signal, status)
        if status >= 300:
            raise As4TransientError(f"HTTP {status} with a receipt", http_status=status)
        return signal
