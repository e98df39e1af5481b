"""Repository functions: the only place that knows how rows are queried and written.

Every function takes an open :class:`AsyncSession` (inside ``Database.write()`` or ``read()``)
so callers decide the transaction boundaries; nothing here commits. A few single-statement
lookups also take the :class:`~gateway.store.Database` itself, which runs them as point reads
outside any transaction (:mod:`gateway.store.lookups`: the per-message paths).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.store.blobs import get_blob
from gateway.store.models import (
    ApiKey,
    Attachment,
    DeliveryAttempt,
    Document,
    DocumentClaim,
    Participant,
    StatusChange,
    Tenant,
    WebhookDelivery,
    utcnow,
)

SCOPES = ("submit", "read", "status", "admin")
#: The service provider's scope: acts across tenants (routing stranded documents, management).
#: Only ``gateway keys create --operator`` grants it; tenant scopes, ``admin`` included, never
#: imply it.
OPERATOR = "operator"
KEY_PREFIX = "gw_"


class NotFound(LookupError):
    pass


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


# --- tenants and keys -----------------------------------------------------------------------


async def ensure_tenant(session: AsyncSession, name: str) -> Tenant:
    tenant = await session.get(Tenant, name)
    if tenant is None:
        tenant = Tenant(name=name)
        session.add(tenant)
        await session.flush()
    return tenant


async def create_api_key(
    session: AsyncSession,
    tenant: str,
    scopes: Sequence[str],
    label: str | None = None,
    *,
    operator: bool = False,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext (shown once, never stored).

    The secret has 256 bits of entropy, so a plain SHA-256 is enough to make the stored value
    useless to a thief; a slow password hash would only slow every request down.
    ``operator=True`` adds the cross-tenant :data:`OPERATOR` scope; nothing else can grant it,
    so a tenant's own key management (admin scope) can never mint one.
    """
    unknown = set(scopes) - set(SCOPES)
    if unknown or not (scopes or operator):
        hint = " (the operator scope comes only with --operator)" if OPERATOR in unknown else ""
        raise ValueError(
            f"scopes must be among {', '.join(SCOPES)}; got {', '.join(scopes) or 'none'}{hint}"
        )
    if operator:
        scopes = [*scopes, OPERATOR]
    await ensure_tenant(session, tenant)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        id=key_id,
        tenant=tenant,
        secret_sha256=sha256_hex(secret),
        scopes=" ".join(sorted(set(scopes))),
        label=label,
    )
    session.add(key)
    await session.flush()
    return key, f"{KEY_PREFIX}{key_id}_{secret}"


async def verify_api_key(session: AsyncSession, presented: str) -> ApiKey | None:
    """The active key matching ``presented``, or None (constant-time secret comparison)."""
    if not presented.startswith(KEY_PREFIX):
        return None
    key_id, _, secret = presented[len(KEY_PREFIX) :].partition("_")
    if not key_id or not secret:
        return None
    key = await session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_sha256, sha256_hex(secret)):
        return None
    return key


async def list_api_keys(session: AsyncSession, tenant: str | None = None) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.tenant, ApiKey.created_at)
    if tenant:
        stmt = stmt.where(ApiKey.tenant == tenant)
    return list(await session.scalars(stmt))


async def revoke_api_key(session: AsyncSession, key_id: str) -> ApiKey:
    key = await session.get(ApiKey, key_id.removeprefix(KEY_PREFIX).split("_")[0])
    if key is None:
        raise NotFound(f"no API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


async def set_webhook(session: AsyncSession, tenant: str, url: str | None) -> str | None:
    """Set (or clear, with None) the tenant's webhook; returns the new signing secret."""
    row = await ensure_tenant(session, tenant)
    row.webhook_url = url
    row.webhook_secret = secrets.token_urlsafe(32) if url else None
    return row.webhook_secret


# --- participants -----------------------------------------------------------------------------


def normalise_participant(pid: str) -> str:
    """``scheme:id`` lower-cased (Peppol participant ids are case-insensitive)."""
    scheme, sep, ident = pid.strip().partition(":")
    if not sep or not scheme or not ident:
        raise ValueError(f"participant id must be SCHEME:ID, e.g. 0088:7300010000001: {pid!r}")
    return f"{scheme.strip().lower()}:{ident.strip().lower()}"


async def add_participant(session: AsyncSession, tenant: str, pid: str) -> Participant:
    pid = normalise_participant(pid)
    await ensure_tenant(session, tenant)
    existing = await session.get(Participant, pid)
    if existing is not None:
        if existing.tenant != tenant:
            raise ValueError(f"{pid} already belongs to tenant {existing.tenant}")
        return existing
    row = Participant(id=pid, tenant=tenant)
    session.add(row)
    await session.flush()
    return row


async def remove_participant(session: AsyncSession, pid: str) -> None:
    row = await session.get(Participant, normalise_participant(pid))
    if row is None:
        raise NotFound(f"no participant {pid}")
    await session.delete(row)


async def list_participants(session: AsyncSession, tenant: str | None = None) -> list[Participant]:
    stmt = select(Participant).order_by(Participant.tenant, Participant.id)
    if tenant:
        stmt = stmt.where(Participant.tenant == tenant)
    return list(await session.scalars(stmt))


#: Built once (building it per call cost more than running it as a point read).
_TENANT_OF = select(Participant.tenant).where(Participant.id == bindparam("pid"))


async def tenant_for_participant(reader: Any, pid: str | None) -> str | None:
    """The tenant that serves participant ``pid``. ``reader``: an open session, or the
    ``Database`` (a point read, no transaction: what the per-message paths use)."""
    if not pid:
        return None
    try:
        key = normalise_participant(pid)
    except ValueError:
        return None
    return await reader.scalar(_TENANT_OF, {"pid": key})


# --- documents --------------------------------------------------------------------------------


async def find_claim(
    session: AsyncSession, tenant: str, direction: str, claims: dict[str, str]
) -> tuple[str, str] | None:
    """(original id, claim kind) of the original holding one of ``claims``; sha256 wins."""
    if not claims:
        return None
    rows = await session.execute(
        select(DocumentClaim.kind, DocumentClaim.value, DocumentClaim.document_id).where(
            DocumentClaim.tenant == tenant,
            DocumentClaim.direction == direction,
            DocumentClaim.kind.in_(list(claims)),
            DocumentClaim.value.in_(list(claims.values())),
        )
    )
    found = {kind: doc_id for kind, value, doc_id in rows if claims.get(kind) == value}
    for kind in ("sha256", "business-key"):
        if kind in found:
            return found[kind], kind
    return None


def add_claims(session: AsyncSession, doc: Document, claims: dict[str, str]) -> None:
    for row in claim_rows(doc.tenant, doc.direction, doc.id, claims):
        session.add(DocumentClaim(**row))


def claim_rows(
    tenant: str | None, direction: str, document_id: str, claims: dict[str, str]
) -> list[dict[str, str]]:
    """The ``document_claims`` rows of an original's ``claims`` (kind -> value)."""
    assert tenant is not None
    return [
        {
            "tenant": tenant,
            "direction": direction,
            "kind": kind,
            "value": value,
            "document_id": document_id,
        }
        for kind, value in claims.items()
    ]


async def get_document(
    session: AsyncSession, doc_id: str, tenant: str | None, *, for_update: bool = False
) -> Document:
    """The document, only if it belongs to ``tenant`` (None = any tenant, for operators)."""
    stmt = select(Document).where(Document.id == doc_id)
    if tenant is not None:
        stmt = stmt.where(Document.tenant == tenant)
    if for_update:
        stmt = stmt.with_for_update()
    doc = await session.scalar(stmt)
    if doc is None:
        raise NotFound(f"no document {doc_id}")
    return doc


async def get_raw(session: AsyncSession, doc_id: str, tenant: str | None) -> tuple[bytes, str]:
    stmt = select(Document.raw, Document.content_type).where(Document.id == doc_id)
    if tenant is not None:
        stmt = stmt.where(Document.tenant == tenant)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound(f"no document {doc_id}")
    return row[0], row[1]


async def get_report(session: AsyncSession, doc_id: str) -> dict[str, Any]:
    return await session.scalar(select(Document.report).where(Document.id == doc_id)) or {}


async def list_documents(
    session: AsyncSession,
    tenant: str | None,
    *,
    status: str | None = None,
    channel: str | None = None,
    direction: str | None = None,
    number: str | None = None,
    seller: str | None = None,
    buyer: str | None = None,
    issued_from: str | None = None,
    issued_to: str | None = None,
    after_seq: int = 0,
    limit: int = 50,
) -> list[Document]:
    """Keyset page in arrival order: stable under concurrent inserts, cheap at any depth.

    ``tenant=None`` lists every tenant (operators). ``seller``/``buyer`` match the party key
    or the endpoint id exactly; ``issued_from``/``issued_to`` (``YYYY-MM-DD``, inclusive)
    compare the ISO issue date as text, which orders like the date."""
    stmt = select(Document).where(Document.seq > after_seq)
    if tenant is not None:
        stmt = stmt.where(Document.tenant == tenant)
    for column, value in (
        (Document.status, status),
        (Document.channel, channel),
        (Document.direction, direction),
        (Document.number, number),
    ):
        if value:
            stmt = stmt.where(column == value)
    if seller:
        stmt = stmt.where(or_(Document.seller_id == seller, Document.sender_endpoint == seller))
    if buyer:
        stmt = stmt.where(or_(Document.buyer_id == buyer, Document.receiver_endpoint == buyer))
    if issued_from:
        stmt = stmt.where(Document.issue_date >= issued_from)
    if issued_to:
        stmt = stmt.where(Document.issue_date <= issued_to)
    return list(await session.scalars(stmt.order_by(Document.seq).limit(limit)))


async def history(session: AsyncSession, doc_id: str) -> list[StatusChange]:
    stmt = select(StatusChange).where(StatusChange.document_id == doc_id)
    return list(await session.scalars(stmt.order_by(StatusChange.seq)))


def add_attachments(session: AsyncSession, doc_id: str, parts: Iterable[Any]) -> None:
    """Store files that came with a document (anything with filename, content_type, data)."""
    for part in parts:
        session.add(
            Attachment(
                document_id=doc_id,
                filename=part.filename,
                content_type=part.content_type,
                size=len(part.data),
                sha256=sha256_hex(part.data),
                data=part.data,
            )
        )


async def attachments(session: AsyncSession, doc_id: str) -> list[Attachment]:
    stmt = select(Attachment).where(Attachment.document_id == doc_id).order_by(Attachment.seq)
    return list(await session.scalars(stmt))


async def attachment_data(session: AsyncSession, att: Attachment) -> bytes:
    """The stored bytes of one attachment (deferred on the row, so loaded on request): inline
    on rows from before revision 0006, else the shared blob of that content."""
    inline = await session.scalar(select(Attachment.data).where(Attachment.seq == att.seq))
    if inline is not None:
        return bytes(inline)
    return await get_blob(session, att.sha256) or b""


async def deliveries(
    session: AsyncSession, doc_id: str
) -> list[tuple[WebhookDelivery, list[DeliveryAttempt]]]:
    rows = list(
        await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.document_id == doc_id)
            .order_by(WebhookDelivery.seq)
        )
    )
    out = []
    for d in rows:
        attempts = await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_seq == d.seq)
            .order_by(DeliveryAttempt.number)
        )
        out.append((d, list(attempts)))
    return out


async def count_documents(session: AsyncSession) -> list[tuple[str, str, str, int]]:
    """(direction, channel, status, count) for /metrics."""
    stmt = select(Document.direction, Document.channel, Document.status, func.count()).group_by(
        Document.direction, Document.channel, Document.status
    )
    return [tuple(r) for r in await session.execute(stmt)]  # type: ignore[misc]


async def count_deliveries(session: AsyncSession) -> list[tuple[str, int]]:
    stmt = select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
    return [(r[0], int(r[1])) for r in await session.execute(stmt)]
