"""Inbound AS4: unpack, authenticate, de-duplicate, decrypt, decompress, deliver, receipt.

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
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from lxml import etree

from gateway.as4 import mime, ns, sbdh
from gateway.as4.compression import DecompressionError, gunzip_capped
from gateway.as4.envelope import XmlRefused, parse_soap, parse_timestamp
from gateway.as4.errors import (
    EbmsError,
    RecipientNotServiced,
    failed_authentication,
    failed_decryption,
    invalid_header,
    not_serviced,
)
from gateway.as4.identity import Identity, common_name, fingerprint
from gateway.as4.receipt import build_error, build_receipt, repeat_receipt
from gateway.as4.store import SeenStore
from gateway.as4.trust import TrustStore, UntrustedCertificate
from gateway.as4.wssec import (
    DecryptionError,
    SignatureBudget,
    SignatureError,
    VerifiedSignature,
    decrypt_attachments,
    digest_b64,
    find_signature,
    index_ids,
    q,
    verify,
)
from gateway.documents import ParseLimits
from gateway.store import FieldRejected

log = logging.getLogger(__name__)

SOAP_HEADERS = {"Content-Type": "application/soap+xml; charset=UTF-8"}
#: Bodies larger than this are processed in a worker thread to keep the event loop responsive.
_THREAD_THRESHOLD = 256 * 1024


#: Room for the SBDH around the business document when capping decompression at the
#: validation limit (a Peppol SBDH is ~2 KB; the business scopes can add a few more).
SBDH_ALLOWANCE = 64 * 1024


@dataclass(frozen=True)
class As4Limits:
    max_message_bytes: int = 50 * 1024 * 1024
    max_decompressed_bytes: int = 100 * 1024 * 1024
    clock_skew_seconds: float = 300.0
    signature: SignatureBudget = field(default_factory=SignatureBudget)

    @classmethod
    def from_settings(cls, as4: Any, validation: Any | None = None) -> As4Limits:
        """``validation`` caps decompression: a payload larger than the validator accepts would
        only be stored as ``too-large`` (issue 14: a trusted peer's 104 KB message inflated to a
        94 MB document and 583 MB of memory), so it is refused while inflating instead."""
        cap = as4.max_decompressed_bytes
        if validation is not None:
            cap = min(cap, validation.max_bytes + SBDH_ALLOWANCE)
        budget = SignatureBudget(
            max_references=as4.max_signature_references,
            max_c14n_bytes=2 * as4.max_message_bytes,
        )
        return cls(as4.max_message_bytes, cap, as4.clock_skew_seconds, budget)


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


@dataclass
class _Opened:
    root: etree._Element
    user_message: etree._Element
    message_id: str
    attachments: dict[str, bytes]
    signer: x509.Certificate
    signature_element: etree._Element
    from_party: str
    to_party: str
    timestamp: datetime
    #: set by :meth:`As4Receiver._verify`, once the signer is trusted
    verified: VerifiedSignature | None = None

    @property
    def signature(self) -> VerifiedSignature:
        assert self.verified is not None, "signature used before it was verified"
        return self.verified


def _eb(el: etree._Element, path: str) -> str:
    parts = "/".join(f"{{{ns.EB}}}{p}" for p in path.split("/"))
    return (el.findtext(parts) or "").strip()


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
            opened = await self._run(self._open, body, content_type, size=len(body))
            message_id = opened.message_id
            await self._authorise(opened)
            await self._run(self._verify, opened, size=len(body))
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

    # -- stage 1: structure + the signer's certificate (synchronous, CPU only) ----------------
    def _open(self, body: bytes, content_type: str) -> _Opened:
        try:
            packaged = mime.parse(body, content_type)
        except mime.MimeError as exc:
            raise EbmsError("EBMS:0007", str(exc)) from exc
        try:
            root = parse_soap(packaged.soap, self.limits.max_message_bytes)
        except XmlRefused as exc:
            raise invalid_header(f"SOAP part refused: {exc.message}") from exc
        if root.tag != q(ns.S12, "Envelope"):
            raise invalid_header("not a SOAP 1.2 envelope")
        messaging = root.find(f"{{{ns.S12}}}Header/{{{ns.EB}}}Messaging")
        if messaging is None:
            raise invalid_header("no eb:Messaging header")
        ums = messaging.findall(q(ns.EB, "UserMessage"))
        if len(ums) != 1:
            raise invalid_header(f"expected one eb:UserMessage, found {len(ums)}")
        um = ums[0]
        message_id = _eb(um, "MessageInfo/MessageId")
        if not message_id:
            raise invalid_header("eb:MessageId missing")
        try:
            timestamp = parse_timestamp(_eb(um, "MessageInfo/Timestamp"))
        except ValueError as exc:
            raise invalid_header("eb:Timestamp missing or invalid") from exc
        from_party = _eb(um, "PartyInfo/From/PartyId")
        to_party = _eb(um, "PartyInfo/To/PartyId")
        if not from_party or not to_party:
            raise invalid_header("eb:PartyInfo incomplete")
        security = root.find(f"{{{ns.S12}}}Header/{{{ns.WSSE}}}Security")
        if security is None:
            raise EbmsError("EBMS:0103", "message has no wsse:Security header")
        try:
            sig, cert = find_signature(security)
        except SignatureError as exc:
            raise failed_authentication(str(exc)) from exc
        attachments = {cid: part.body for cid, part in packaged.attachments.items()}
        return _Opened(
            root, um, message_id, attachments, cert, sig, from_party, to_party, timestamp
        )

    # -- stage 3: signature and references, bounded (synchronous, CPU only) -------------------
    def _verify(self, opened: _Opened) -> None:
        root, um = opened.root, opened.user_message
        try:
            ids = index_ids(root)
            verified = verify(opened.signature_element, opened.signer, ids, self.limits.signature)
        except SignatureError as exc:
            raise failed_authentication(str(exc)) from exc
        skew = timedelta(seconds=self.limits.clock_skew_seconds)
        if opened.timestamp - datetime.now(UTC) > skew:
            raise EbmsError(
                "EBMS:0003", "eb:Timestamp is in the future beyond the allowed clock skew"
            )
        messaging = root.find(f"{{{ns.S12}}}Header/{{{ns.EB}}}Messaging")
        body_el = root.find(q(ns.S12, "Body"))
        needed = {
            messaging.get(ns.WSU_ID) if messaging is not None else None,
            body_el.get(ns.WSU_ID) if body_el is not None else None,
        }
        if None in needed or not needed <= verified.covered_ids:
            raise failed_authentication("signature does not cover eb:Messaging and soap:Body")
        hrefs = [
            p.get("href", "") for p in um.iterfind(f"{{{ns.EB}}}PayloadInfo/{{{ns.EB}}}PartInfo")
        ]
        if not hrefs:
            raise invalid_header("no eb:PayloadInfo/PartInfo")
        for href in hrefs:
            if not href.startswith("cid:"):
                raise EbmsError("EBMS:0011", f"payload reference {href!r} is not a MIME attachment")
            if href[4:] not in opened.attachments:
                raise EbmsError("EBMS:0011", f"payload {href} is not in the message")
            if href[4:] not in verified.attachment_digests:
                raise failed_authentication(f"signature does not cover payload {href}")
        opened.verified = verified

    # -- stage 2: trust + addressing (async: revocation may do I/O) --------------------------
    async def _authorise(self, opened: _Opened) -> None:
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

    # -- stage 4: decrypt, decompress, SBDH, deliver, receipt ------------------------------------
    def _decrypt(self, opened: _Opened) -> bytes:
        security = opened.root.find(f"{{{ns.S12}}}Header/{{{ns.WSSE}}}Security")
        assert security is not None
        try:
            plain = decrypt_attachments(security, self.identity.private_key, opened.attachments)
        except DecryptionError as exc:
            raise failed_decryption() from exc
        for cid, expected in opened.signature.attachment_digests.items():
            content = plain.get(cid, opened.attachments.get(cid))
            if digest_b64(content or b"") != expected:
                raise failed_authentication(f"attachment digest mismatch for cid:{cid}")
        first = next(
            p.get("href", "")[4:]
            for p in opened.user_message.iterfind(f"{{{ns.EB}}}PayloadInfo/{{{ns.EB}}}PartInfo")
        )
        if first not in plain:
            raise EbmsError("EBMS:0103", "payload is not encrypted")
        compression = opened.user_message.find(
            f"{{{ns.EB}}}PayloadInfo/{{{ns.EB}}}PartInfo/{{{ns.EB}}}PartProperties/{{{ns.EB}}}Property[@name='CompressionType']"
        )
        data = plain[first]
        if compression is not None and (compression.text or "").strip() == "application/gzip":
            try:
                data = gunzip_capped(data, self.limits.max_decompressed_bytes)
            except DecompressionError as exc:
                raise EbmsError("EBMS:0303", str(exc)) from exc
        return data

    async def _accept(self, opened: _Opened, size: int, *, recheck: bool = True) -> bytes:
        if recheck:
            stored = await self.seen_store.seen(opened.message_id)
            if stored is not None:
                return self._repeat(stored, opened)
        sbd = await self._run(self._decrypt, opened, size=size)
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
            conversation_id=_eb(um, "CollaborationInfo/ConversationId"),
            from_party=opened.from_party,
            to_party=opened.to_party,
            service=_eb(um, "CollaborationInfo/Service"),
            action=_eb(um, "CollaborationInfo/Action"),
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

    def _repeat(self, stored: bytes, opened: _Opened) -> bytes:
        return repeat_receipt(stored, self.identity, opened.message_id, opened.signature.references)
