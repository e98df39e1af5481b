"""Does the channel a received Invoice Response came over prove who sent it?

A status that the counterpart sets (Invoice Responses; the same principle guards MLS) is only
applied when the channel proves that the response comes from the party it names as its sender:

- ``as4``: the sending access point signed the message (the receiver verified its Peppol
  certificate) and the SBDH names the response's sender participant as the sender;
- ``api``: the submitting tenant owns the response's sender participant;
- ``local`` (emitted by another tenant of this gateway): the emitting tenant owns it;
- ``email``: proves nothing by itself. A tenant may trust listed sender addresses whose mail
  carries a valid DKIM signature of the From domain; everything else is held for an admin.

The verdict is one of *proven* (apply), *held* (keep and list for an admin, who may apply it
with ``POST /v1/admin/responses/{id}/apply``) or *refused* (the channel proves somebody else
sent it: a tenant speaking for a participant it does not own). Held and refused responses never
take the de-duplication key, so a forged copy cannot block the real response later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lifecycle import COUNTERPART, SOURCE_INVOICE_RESPONSE, Cause
from gateway.responses.matching import normalise
from gateway.responses.models import InvoiceResponseRecord
from gateway.store import Document, repo

PROVEN, HELD, REFUSED = "proven", "held", "refused"


@dataclass(frozen=True)
class Verdict:
    outcome: str  # proven | held | refused
    #: A sentence for the history and the admin list: what the channel proved, and who sent it.
    how: str
    #: Who submitted it, as the channel knows it (tenant/key, AP certificate, mail address).
    submitted_by: dict[str, Any]

    @property
    def proven(self) -> bool:
        return self.outcome == PROVEN


async def judge(
    session: AsyncSession, doc: Document, sender: str | None, *, email_trust: Any = None
) -> Verdict:
    """The verdict on response document ``doc`` whose payload names ``sender``."""
    meta = doc.meta or {}
    if not sender:
        return Verdict(HELD, "the response names no sender participant", {})
    if doc.channel == "as4":
        return _as4(meta.get("as4") or {}, sender)
    if doc.channel == "api":
        return await _tenant_owns(session, doc.tenant, meta.get("api_key"), sender, "api")
    if doc.channel == "local":
        verdict = await _tenant_owns(
            session, meta.get("from_tenant"), meta.get("from_key"), sender, "local"
        )
        if meta.get("from_actor"):
            verdict.submitted_by["actor"] = meta["from_actor"]
        return verdict
    if doc.channel == "email":
        return await _email(session, doc, sender, email_trust)
    return Verdict(
        HELD,
        f"the {doc.channel} channel does not prove the sender {sender}",
        {"channel": doc.channel},
    )


def _as4(as4: dict[str, Any], sender: str) -> Verdict:
    who = {
        "channel": "as4",
        "sending_ap": as4.get("from_party"),
        "certificate": as4.get("signer_subject"),
        "certificate_sha256": as4.get("signer_fingerprint"),
        "sbdh_sender": (as4.get("sbdh") or {}).get("sender"),
    }
    if not as4.get("signer_fingerprint"):
        return Verdict(HELD, "the AS4 message carries no verified signer", who)
    sbdh_sender = normalise(who["sbdh_sender"])
    if sbdh_sender != sender:
        return Verdict(
            REFUSED,
            f"access point {who['sending_ap']} sent it for {sbdh_sender}, "
            f"but the response claims to come from {sender}",
            who,
        )
    return Verdict(PROVEN, f"AS4 from access point {who['sending_ap']} on behalf of {sender}", who)


async def _tenant_owns(
    session: AsyncSession, tenant: str | None, key: str | None, sender: str, channel: str
) -> Verdict:
    who = {"channel": channel, "tenant": tenant, "key": key}
    by = f"tenant {tenant}" + (f" (key {key})" if key else "")
    if not tenant:
        return Verdict(HELD, f"the {channel} submission names no tenant", who)
    owner = await repo.tenant_for_participant(session, sender)
    if owner == tenant:
        return Verdict(PROVEN, f"{channel} submission by {by}, which owns {sender}", who)
    outcome = REFUSED if channel == "local" else HELD
    return Verdict(
        outcome,
        f"{channel} submission by {by}, which does not own the sender participant {sender}",
        who,
    )


async def _email(session: AsyncSession, doc: Document, sender: str, email_trust: Any) -> Verdict:
    mail = (doc.meta or {}).get("email") or {}
    envelope = mail.get("envelope") or {}
    who = {
        "channel": "email",
        "from": mail.get("from"),
        "mail_from": envelope.get("mail_from"),
        "peer": envelope.get("peer"),
    }
    if email_trust is not None:
        verdict = await email_trust(session, doc, sender, who)
        if verdict is not None:
            return verdict
    return Verdict(
        HELD,
        f"e-mail from {who['from'] or who['mail_from'] or 'an unknown sender'} does not prove "
        f"that {sender} sent it",
        who,
    )


# --- how the history and the admin list name who brought a response in -----------------------


def actor_of(rec: InvoiceResponseRecord | Any, prefix: str = "imr") -> str:
    """``imr:<sender>``, then who brought it in (channel proof) and who vouched for it (any
    record with ``sender`` and ``details``: France's CDAR records use prefix ``cdar``)."""
    d = rec.details or {}
    parts = [f"{prefix}:{rec.sender}"]
    proof = (d.get("proof") or {}).get("submitted_by") or {}
    if proof:
        parts.append(_who(proof))
    if d.get("vouched_by"):
        parts.append(f"vouched for by {d['vouched_by']['actor']}")
    return " ".join(parts)[:200]


def _who(by: dict[str, Any]) -> str:
    channel = by.get("channel")
    if channel == "as4":
        return f"via as4 ap:{by.get('sending_ap')}"
    if channel == "email":
        return f"via email from {by.get('from') or by.get('mail_from')}"
    bits = [f"via {channel}"]
    if by.get("tenant"):
        bits.append(f"tenant:{by['tenant']}")
    if by.get("key"):
        bits.append(f"key:{by['key']}")
    if by.get("actor"):
        bits.append(f"({by['actor']})")
    return " ".join(bits)


def cause_of(rec: InvoiceResponseRecord) -> Cause:
    """The history's cause of an applied response: the tenant and key that brought it in (or
    vouched for it), the responding party as actor."""
    return cause_of_proof(SOURCE_INVOICE_RESPONSE, actor_of(rec), rec.details or {})


def cause_of_proof(source: str, actor: str, details: dict[str, Any]) -> Cause:
    """A counterpart message's cause from its stored ``proof`` (and ``vouched_by``) details."""
    by = (details.get("proof") or {}).get("submitted_by") or {}
    tenant, key = by.get("tenant"), by.get("key")
    if details.get("vouched_by"):
        tenant, key = details["vouched_by"].get("tenant"), details["vouched_by"].get("key")
    return Cause(source, role=COUNTERPART, actor=actor, tenant=tenant, key_id=key)


def submitter(verdict: Verdict) -> str:
    return _who(verdict.submitted_by)[:200] if verdict.submitted_by else "unknown"


def proof_of(verdict: Verdict) -> dict[str, Any]:
    return {"outcome": verdict.outcome, "how": verdict.how, "submitted_by": verdict.submitted_by}


async def wrong_access_point(
    session: AsyncSession, served_by: Any, details: dict[str, Any], invoice_id: str
) -> str | None:
    """Why a message that came over AS4 cannot be from the invoice's buyer (None: it can).

    The invoice went to the access point that the buyer's SMP named; its answer (an Invoice
    Response, a CDAR) must come back from that access point, when the invoice went by AS4 and
    ``served_by(session, invoice_id)`` knows which one it was."""
    by = (details.get("proof") or {}).get("submitted_by") or {}
    if by.get("channel") != "as4" or served_by is None:
        return None
    served = await served_by(session, invoice_id)
    if not served or served == by.get("sending_ap"):
        return None
    return (
        f"not applied: sales invoice {invoice_id} was delivered to access point {served}, "
        f"but this message came from access point {by.get('sending_ap')}"
    )
