"""A tenant's Invoice Response settings kept in the store: trusted e-mail senders.

``email_trust`` is a list of ``{"sender": address, "participant": id}`` (``participant``
optional: empty means the address may speak for any participant). An e-mailed response from a
listed address is applied when the mail carries a valid DKIM signature of the address's domain
(:mod:`gateway.responses.dkim`); everything else from e-mail is held for an admin. It is set
through ``PUT /v1/admin/settings`` (the lifecycle's tenant settings, registered by
:func:`gateway.responses.api.setup`) and ``gateway responses email-trust``; the older
``[[responses.email_trust]]`` config entries still count too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.responses.matching import normalise
from gateway.responses.models import ResponseSettings
from gateway.store import repo, utcnow

KEY = "email_trust"
USAGE = (
    'email_trust is a list of {"sender": "billing@buyer.example", "participant": "0088:123"} '
    "(participant optional)."
)
MAX_RULES = 200


def parse_rules(value: Any) -> list[dict[str, str]]:
    """Checked, normalised rules; ValueError with :data:`USAGE` when ``value`` is not that."""
    if not isinstance(value, list) or len(value) > MAX_RULES:
        raise ValueError(USAGE)
    out: list[dict[str, str]] = []
    for rule in value:
        if not isinstance(rule, dict) or set(rule) - {"sender", "participant"}:
            raise ValueError(USAGE)
        sender, participant = rule.get("sender"), rule.get("participant") or ""
        if not isinstance(sender, str) or not isinstance(participant, str):
            raise ValueError(USAGE)
        sender = sender.strip().lower()
        local, at, domain = sender.partition("@")
        if not (local and at and "." in domain) or len(sender) > 300 or len(participant) > 300:
            raise ValueError(f"{sender!r} is not an e-mail address. {USAGE}")
        entry = {"sender": sender, "participant": normalise(participant) or ""}
        if entry not in out:
            out.append(entry)
    return out


async def email_trust_of(session: AsyncSession, tenant: str) -> list[dict[str, str]]:
    row = await session.get(ResponseSettings, tenant)
    return list(row.email_trust or []) if row is not None else []


async def set_email_trust(session: AsyncSession, tenant: str, value: Any) -> list[dict[str, str]]:
    """Replace the tenant's trusted senders (ValueError for a bad ``value``)."""
    rules = parse_rules(value)
    (await settings_row(session, tenant)).email_trust = rules
    await session.flush()
    return rules


async def settings_row(session: AsyncSession, tenant: str) -> ResponseSettings:
    """The tenant's row (made, with its tenant, when missing), stamped as changed now."""
    await repo.ensure_tenant(session, tenant)
    row = await session.get(ResponseSettings, tenant)
    if row is None:
        row = ResponseSettings(tenant=tenant, emit_responses=False)
        session.add(row)
    row.updated_at = utcnow()
    return row
