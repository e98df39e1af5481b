"""Inbound AS4: unpack, authenticate, de-duplicate, decrypt, decompress, deliver, receipt.

The checks of one message on its own (structure, signature, payload) are
:mod:`gateway.as4.unpack`; this module is the receiving process around them: trust and
addressing, duplicates (per MessageId, one at a time), delivery to the intake and the receipt.
``As4Receiver.handle`` is transport-agnostic (bytes in, status/headers/bytes out) so an aiohttp
handler is three lines and tests can drive it with a real server or directly.
Order matters: authentication runs before the duplicate check, so a forged copy of a known
MessageId gets an error, never the stored receipt; nothing is delivered or remembered unless
every check passed. Within authentication, who is talking comes first: the signing certificate
is taken from the BinarySecurityToken and checked against the trust anchors (chain, validity,
revocation) before the signature value is verified and before any reference is canonicalised,
so an unknown key costs a parse and a certificate check, not a digest of everything it signed
(issue 14: 66 s of CPU for a 5.3 MB request referencing its body 600 times, now refused in
milliseconds). A trusted peer is bounded too: see :class:`SignatureBudget`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.as4 import ns, sbdh
from gateway.as4.errors import (
    EbmsError,
    RecipientNotServiced,
    failed_authentication,
    not_serviced,
)
from gateway.as4.identity import Identity, common_name, fingerprint
from gateway.as4.receipt import build_error, build_receipt, repeat_receipt
from gateway.as4.store import SeenStore
from gateway.as4.trust import TrustStore, UntrustedCertificate
from gateway.as4.unpack import (
    As4Limits,
    Opened,
    decrypt_payload,
    eb,
    open_message,
    verify_message,
)
from gateway.documents import ParseLimits
from gateway.store import FieldRejected

log = logging.getLogger(__name__)

SOAP_HEADERS = {"Content-Type": "application/soap+xml; charset=UTF-8"}
#: Bodies larger than this are processed in a worker thread to keep the event loop responsive.
_THREAD_THRESHOLD = 256 * 1024


@dataclass
class InboundMeta:
    """Everything the intake, MLS and Peppol reporting need about one received message."""

    message_id: str
    conversation_id: str
    from_party: str  # sending AP (C2) seat id
    to_party: str  # us (C3)
    service: str
    action: str
    timestamp: datetime
    received_at: datetime
    sbdh: sbdh.Sbdh
    signer_subject: str
    signer_fingerprint: str
    duplicate_instance: bool = False
    #: The signed receipt we will answer with: built before delivery, so the channel can
    #: commit it with the document (it is sent only after that commit).
    receipt: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": "as4",
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "from_party": self.from_party,
            "to_party": self.to_party,
            "service": self.service,
            "action": self.action,
            "timestamp": self.timestamp.isoformat(),
            "received_at": self.received_at.isoformat(),
            "sbdh": self.sbdh.to_dict(),
            "signer_subject": self.signer_subject,
            "signer_fingerprint": self.signer_fingerprint,
        }


#: The gateway intake: ``await deliver(business_document, meta)``; raise RecipientNotServiced to refuse.
Deliver = Callable[[bytes, InboundMeta], Awaitable[object]]


class As4Receiver:
    def __init__(
        self,
        identity: Identity,
        trust: TrustStore,
        limits: As4Limits,
        seen_store: SeenStore,
        deliver: Deliver,
    ) -> None:
        self.identity = identity
        self.trust = trust
        self.limits = limits
        self.seen_store = seen_store
        self.deliver = deliver
        self._locks: dict[str, asyncio.Lock] = {}

    @classmethod
    def from_settings(cls, settings: Any, seen_store: SeenStore, deliver: Deliver) -> As4Receiver:
        """Identity, trust anchors/intermediates and limits from ``Settings.as4``."""
        as4 = settings.as4
        return cls(
            Identity.from_settings(as4),
            TrustStore.from_settings(as4),
            As4Limits.from_settings(as4, settings.validation),
            seen_store,
            deliver,
        )

    async def aclose(self) -> None:
        await self.trust.aclose()

    async def handle(self, body: bytes, content_type: str) -> tuple[int, dict[str, str], bytes]:
        message_id: str | None = None
        try:
            if len(body) > self.limits.max_message_bytes:
                raise EbmsError(
                    "EBMS:0004",
                    f"message is {len(body)} bytes; the limit is {self.limits.max_message_bytes}",
                    http_status=413,
                )
            opened = await self._run(open_message, body, content_type, self.limits, size=len(body))
            message_id = opened.message_id
            await self._authorise(opened)
            await self._run(verify_message, opened, self.limits, size=len(body))
            stored = await self.seen_store.seen(message_id)
            if stored is not None:
                log.info("as4 duplicate message %s answered with its stored receipt", message_id)
                return 200, dict(SOAP_HEADERS), self._repeat(stored, opened)
            lock = self._locks.setdefault(message_id, asyncio.Lock())
            # Only a copy that had to wait for another one needs to look at the store again.
            recheck = lock.locked()
            try:
                async with lock:
                    answer = await self._accept(opened, len(body), recheck=recheck)
                    return 200, dict(SOAP_HEADERS), answer
            finally:
                if not lock.locked():
                    self._locks.pop(message_id, None)
        except EbmsError as exc:
            log.info("as4 message %s refused: %s %s", message_id, exc.code, exc.detail)
            return exc.http_status, dict(SOAP_HEADERS), build_error(exc, message_id, self.identity)
        except Exception:
            log.exception("as4 message %s: unexpected failure", message_id)
            error = EbmsError(
                "EBMS:0004", "internal error at the receiving access point", http_status=500
            )
            return 500, dict(SOAP_HEADERS), build_error(error, message_id, self.identity)

    async def _run(self, fn: Callable[..., Any], *args: Any, size: int) -> Any:
        if size > _THREAD_THRESHOLD:
            return await asyncio.to_thread(fn, *args)
        return fn(*args)

    # -- stage 2 (between open_message and verify_message): trust + addressing (async:
    # revocation may do I/O) -------------------------------------------------------------
    async def _authorise(self, opened: Opened) -> None:
        cert = opened.signer
        try:
            await self.trust.validate(cert)
        except UntrustedCertificate as exc:
            error = failed_authentication(f"signing certificate rejected: {exc}")
            if exc.transient:  # hard-fail on an unreachable responder: the sender retries
                error.http_status = 503
            raise error from exc
        if common_name(cert) != opened.from_party:
            raise failed_authentication("signing certificate does not name the eb:From party")
        if opened.to_party != self.identity.party_id:
            raise EbmsError(
                "EBMS:0010", f"message is addressed to {opened.to_party}, not to this access point"
            )

    # -- stage 4: decrypt (gateway.as4.unpack), SBDH, deliver, receipt -----------------------
    async def _accept(self, opened: Opened, size: int, *, recheck: bool = True) -> bytes:
        if recheck:
            stored = await self.seen_store.seen(opened.message_id)
            if stored is not None:
                return self._repeat(stored, opened)
        sbd = await self._run(
            decrypt_payload, opened, self.identity.private_key, self.limits, size=size
        )
        try:
            header, document = sbdh.unwrap(
                sbd, ParseLimits(max_bytes=self.limits.max_decompressed_bytes)
            )
        except sbdh.SbdhError as exc:
            raise EbmsError("EBMS:0004", f"SBDH: {exc}") from exc
        props = {
            p.get("name"): ((p.text or "").strip(), p.get("type"))
            for p in opened.user_message.iterfind(
                f"{{{ns.EB}}}MessageProperties/{{{ns.EB}}}Property"
            )
        }
        if (
            props.get("originalSender", ("",))[0] != header.sender
            or props.get("finalRecipient", ("",))[0] != header.receiver
        ):
            raise EbmsError("EBMS:0003", "originalSender/finalRecipient do not match the SBDH")
        um = opened.user_message
        receipt = build_receipt(self.identity, opened.message_id, opened.signature.references)
        meta = InboundMeta(
            message_id=opened.message_id,
            conversation_id=eb(um, "CollaborationInfo/ConversationId"),
            from_party=opened.from_party,
            to_party=opened.to_party,
            service=eb(um, "CollaborationInfo/Service"),
            action=eb(um, "CollaborationInfo/Action"),
            timestamp=opened.timestamp,
            received_at=datetime.now(UTC),
            sbdh=header,
            signer_subject=opened.signature.signer.subject.rfc4514_string(),
            signer_fingerprint=fingerprint(opened.signature.signer),
            receipt=receipt,
        )
        instance_key = f"{header.sender}|{header.instance_id}"
        meta.duplicate_instance = await self.seen_store.seen_instance(instance_key)
        if not meta.duplicate_instance:
            try:
                await self.deliver(document, meta)
            except RecipientNotServiced as exc:
                raise not_serviced() from exc
            except EbmsError:
                raise
            except FieldRejected as exc:
                # Permanent: the same document can never be stored, so no 503 to retry on.
                raise EbmsError("EBMS:0004", f"the document cannot be stored: {exc}") from exc
            except Exception as exc:
                log.exception("as4 intake failed for %s", opened.message_id)
                raise EbmsError(
                    "EBMS:0004",
                    "temporary failure at the receiving access point; retry later",
                    http_status=503,
                ) from exc
        on_record = await self.seen_store.remember(opened.message_id, instance_key, receipt)
        return receipt if on_record == receipt else self._repeat(on_record, opened)

    def _repeat(self, stored: bytes, opened: Opened) -> bytes:
        return repeat_receipt(stored, self.identity, opened.message_id, opened.signature.references)
