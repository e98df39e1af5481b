"""E-mail trust for Invoice Responses: listed senders with a valid DKIM signature.

E-mail proves nothing about its sender by itself (anyone can write any ``From``). A tenant may
name the addresses its counterparts send responses from (its ``email_trust`` setting, see
:mod:`gateway.responses.settings`, or ``[[responses.email_trust]]`` in config with ``tenant``,
``sender`` and optionally the ``participant`` id that address speaks for); a
response from such an address is applied when the stored original message carries a DKIM
signature that verifies (dkimpy, RFC 6376) and whose signing domain ``d=`` is the From address's
domain (or a parent of it: relaxed alignment as in DMARC). Anything else stays ``held``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from email.utils import parseaddr
from typing import Any

import dkim
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.responses.settings import email_trust_of
from gateway.responses.trust import HELD, PROVEN, Verdict
from gateway.store import Attachment, Document, repo

ORIGINAL_MESSAGE = "original-message.eml"
#: ``dnsfunc(name: bytes, timeout: int) -> bytes`` as dkimpy calls it (TXT record text).
DnsFunc = Callable[..., bytes]


class DkimTrust:
    """``email_trust`` callable of :func:`gateway.responses.trust.judge`."""

    def __init__(self, rules: Sequence[Any], dnsfunc: DnsFunc | None = None) -> None:
        self.rules = list(rules)
        self.dnsfunc = dnsfunc  # None: dkimpy's own DNS lookup (dnspython)

    async def __call__(
        self, session: AsyncSession, doc: Document, sender: str, who: dict[str, Any]
    ) -> Verdict | None:
        address = parseaddr(who.get("from") or "")[1].lower()
        listed = [(r.sender, r.participant) for r in self.rules if r.tenant == doc.tenant]
        if doc.tenant is not None:  # the tenant's own list (PUT /v1/admin/settings)
            listed += [
                (r["sender"], r["participant"]) for r in await email_trust_of(session, doc.tenant)
            ]
        rules = [p for s, p in listed if address and s.strip().lower() == address]
        if not rules:
            return None
        if not any(not p or p.strip().lower() == sender for p in rules):
            return Verdict(HELD, f"{address} is trusted by {doc.tenant}, but not for {sender}", who)
        original = await session.scalar(
            select(Attachment).where(
                Attachment.document_id == doc.id, Attachment.filename == ORIGINAL_MESSAGE
            )
        )
        # The bytes are the mail's shared blob (stored once per message), read through repo.
        raw = await repo.attachment_data(session, original) if original is not None else None
        # dkimpy is synchronous (its DNS lookup too): keep it off the event loop.
        domain = await asyncio.to_thread(verified_domain, raw, self.dnsfunc) if raw else None
        mail_domain = address.rpartition("@")[2]
        if domain is None:
            return Verdict(HELD, f"e-mail from {address} has no valid DKIM signature", who)
        if not (mail_domain == domain or mail_domain.endswith("." + domain)):
            return Verdict(
                HELD, f"e-mail from {address} is DKIM-signed by {domain}, not its own domain", who
            )
        return Verdict(
            PROVEN,
            f"e-mail from {address} (trusted by tenant {doc.tenant}) with a valid DKIM "
            f"signature of {domain}",
            {**who, "dkim_domain": domain},
        )


def verified_domain(message: bytes, dnsfunc: DnsFunc | None = None) -> str | None:
    """The signing domain of the first valid DKIM signature of ``message`` (None: none)."""
    checker = dkim.DKIM(message)
    try:
        ok = checker.verify(dnsfunc=dnsfunc) if dnsfunc else checker.verify()
    except dkim.DKIMException:
        return None
    if not ok or checker.domain is None:
        return None
    return checker.domain.decode("ascii", "replace").lower()
