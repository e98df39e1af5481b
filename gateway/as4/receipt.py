"""ebMS signals: signed non-repudiation receipts, error signals, and their verification.

The receipt echoes the ds:Reference elements of the message signature (digests of eb:Messaging,
soap:Body and every attachment) inside ebbp:NonRepudiationInformation and is itself signed, so
the sender holds proof that *exactly what it signed* was received.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from gateway.as4 import ns
from gateway.as4.envelope import Skeleton, XmlRefused, new_message_id, parse_soap, parse_timestamp
from gateway.as4.errors import EbmsError, ReceiptInvalid
from gateway.as4.identity import Identity
from gateway.as4.wssec import (
    Ref,
    SignatureError,
    add_bst,
    find_signature,
    index_ids,
    q,
    sign,
    sub,
    verify,
)


def build_receipt(
    identity: Identity, ref_to_message_id: str, references: list[etree._Element]
) -> bytes:
    """A signed NRR receipt for a message whose signature had ``references``."""
    sk = Skeleton()
    sm = sub(sk.messaging, ns.EB, "SignalMessage")
    sk.message_info(sm, new_message_id(), ref_to_message_id)
    receipt = sub(sm, ns.EB, "Receipt")
    nri = sub(receipt, ns.EBBP, "NonRepudiationInformation")
    for ref in references:
        part = sub(nri, ns.EBBP, "MessagePartNRInformation")
        part.append(copy.deepcopy(ref))
    add_bst(sk.security, identity.certificate_der, sk.bst_id)
    sign(sk.security, identity.private_key, sk.bst_id, [sk.messaging, sk.body])
    return sk.tostring()


def build_error(
    error: EbmsError, ref_to_message_id: str | None, identity: Identity | None
) -> bytes:
    """An eb:Error signal; signed when we have an identity (always, in the gateway)."""
    sk = Skeleton()
    sm = sub(sk.messaging, ns.EB, "SignalMessage")
    sk.message_info(sm, new_message_id(), ref_to_message_id)
    attrs = {
        "category": error.category,
        "errorCode": error.code,
        "origin": "ebMS",
        "severity": error.severity,
        "shortDescription": error.short_description,
    }
    if ref_to_message_id:
        attrs["refToMessageInError"] = ref_to_message_id
    err = sub(sm, ns.EB, "Error", **attrs)
    sub(
        err,
        ns.EB,
        "Description",
        error.detail,
        **{"{http://www.w3.org/XML/1998/namespace}lang": "en"},
    )
    sub(err, ns.EB, "ErrorDetail", error.detail)
    if identity is not None:
        add_bst(sk.security, identity.certificate_der, sk.bst_id)
        sign(sk.security, identity.private_key, sk.bst_id, [sk.messaging, sk.body])
    return sk.tostring()


@dataclass
class SignalError:
    code: str
    severity: str
    short_description: str
    detail: str


@dataclass
class Signal:
    """A parsed answer to a UserMessage: a receipt or a list of errors."""

    message_id: str
    ref_to_message_id: str | None
    timestamp: datetime | None
    raw: bytes
    errors: list[SignalError] = field(default_factory=list)
    acknowledged: list[Ref] = field(default_factory=list)
    is_receipt: bool = False
    signed_by: x509.Certificate | None = None


#: The public name for a verified receipt returned by ``As4Sender.send``.
Receipt = Signal


def parse_signal(data: bytes, max_bytes: int = 10 * 1024 * 1024) -> tuple[Signal, etree._Element]:
    try:
        root = parse_soap(data, max_bytes)
    except XmlRefused as exc:
        raise ReceiptInvalid(f"answer is not readable XML: {exc.message}") from exc
    sm = root.find(f"{{{ns.S12}}}Header/{{{ns.EB}}}Messaging/{{{ns.EB}}}SignalMessage")
    if sm is None:
        raise ReceiptInvalid("answer carries no eb:SignalMessage")
    ts = sm.findtext(f"{{{ns.EB}}}MessageInfo/{{{ns.EB}}}Timestamp")
    try:
        timestamp = parse_timestamp(ts) if ts else None
    except ValueError:
        timestamp = None
    signal = Signal(
        message_id=(sm.findtext(f"{{{ns.EB}}}MessageInfo/{{{ns.EB}}}MessageId") or "").strip(),
        ref_to_message_id=(
            sm.findtext(f"{{{ns.EB}}}MessageInfo/{{{ns.EB}}}RefToMessageId") or ""
        ).strip()
        or None,
        timestamp=timestamp,
        raw=data,
    )
    for err in sm.iterfind(q(ns.EB, "Error")):
        signal.errors.append(
            SignalError(
                code=err.get("errorCode", ""),
                severity=err.get("severity", "failure"),
                short_description=err.get("shortDescription", ""),
                detail=(
                    err.findtext(q(ns.EB, "ErrorDetail"))
                    or err.findtext(q(ns.EB, "Description"))
                    or ""
                ).strip(),
            )
        )
    receipt = sm.find(q(ns.EB, "Receipt"))
    if receipt is not None:
        signal.is_receipt = True
        signal.acknowledged = [Ref.from_element(r) for r in receipt.iter(q(ns.DS, "Reference"))]
    return signal, root


def repeat_receipt(
    stored: bytes, identity: Identity, message_id: str, references: list[etree._Element]
) -> bytes:
    """The answer to a repeat of a message we already have: the stored receipt when the copy
    is the same message (a replay: its signature covers the same digests), else a receipt for
    this copy. A sender that rebuilt the message under the same MessageId after losing our
    receipt (new timestamp, new signature, like our own queue's retries) could not verify the
    stored one, which acknowledges other digests, and would retry forever. Nothing is delivered
    again either way."""
    try:
        signal, _ = parse_signal(stored)
    except (ReceiptInvalid, ValueError):  # not ours to judge: answer what we have
        return stored
    if set(signal.acknowledged) == {Ref.from_element(r) for r in references}:
        return stored
    return build_receipt(identity, message_id, references)


def verify_receipt(
    data: bytes, message_id: str, signed: list[Ref], expected_signer: x509.Certificate
) -> Signal:
    """Check a receipt proves delivery of what we sent; raise :class:`ReceiptInvalid` if not.

    Error signals are returned unverified (the caller turns them into typed errors).
    """
    signal, root = parse_signal(data)
    if signal.errors:
        return signal
    if not signal.is_receipt:
        raise ReceiptInvalid("signal is neither a receipt nor an error")
    if signal.ref_to_message_id != message_id:
        raise ReceiptInvalid(f"receipt refers to {signal.ref_to_message_id!r}, not {message_id!r}")
    security = root.find(f"{{{ns.S12}}}Header/{{{ns.WSSE}}}Security")
    if security is None:
        raise ReceiptInvalid("receipt is not signed")
    try:
        sig, cert = find_signature(security)
        if cert.public_bytes(serialization.Encoding.DER) != expected_signer.public_bytes(
            serialization.Encoding.DER
        ):
            raise ReceiptInvalid(
                f"receipt is signed by {cert.subject.rfc4514_string()}, not the receiver"
            )
        ids = index_ids(root)
        verified = verify(sig, cert, ids)
    except SignatureError as exc:
        raise ReceiptInvalid(f"receipt signature: {exc}") from exc
    messaging = root.find(f"{{{ns.S12}}}Header/{{{ns.EB}}}Messaging")
    if messaging is None or messaging.get(ns.WSU_ID) not in verified.covered_ids:
        raise ReceiptInvalid("receipt signature does not cover eb:Messaging")
    acknowledged, sent = set(signal.acknowledged), set(signed)
    if acknowledged != sent:
        missing = sorted(r.uri for r in sent - acknowledged)
        extra = sorted(r.uri for r in acknowledged - sent)
        raise ReceiptInvalid(
            f"receipt digests differ from what we signed (missing {missing}, unexpected {extra})"
        )
    signal.signed_by = cert
    return signal
