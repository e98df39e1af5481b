"""The Flow API's webhooks: subscriptions (``/v1/webhooks``) and signed callbacks.

A subscription belongs to the key's tenant (no other tenant sees or deletes it), is listed, made
and deleted with an ``admin`` key only (a ``read`` key must not send the tenant's invoices to a
URL of its choice; the same scope as our own webhook routes), and filters on
flow types, direction and acknowledgement status. Each new flow and each change of one (a
status move) of the tenant becomes, for every matching subscription, a row of our webhook
delivery table in the transaction that made the change: the forwarder
(:class:`gateway.forwarding.Forwarder`) delivers it with its retries, attempt rows and metrics,
in the standard's format (:meth:`FlowEvents.render`): the ``Flow`` JSON as it was at the event,
``Afnor-Signature`` = base64(HMAC-SHA256(signing key, SHA-256 hex of ``body@timestamp``)) and
``Afnor-Signature-Timestamp`` (epoch seconds), made fresh for each attempt.

A received lifecycle message is announced once the France package has judged it (its
acknowledgement says what became of it), in the transaction of that decision (the lifecycle's
``touch`` of its document, which also moves its ``updatedAt``), and again when it is decided
later (it waited for its invoice to leave the queue, then applied). One the package does not
judge (e.g. an invalid message) is announced after the intake commit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from typing import Any

from aiohttp import web
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.forwarding import DestinationRefused, Forwarder, Rendered, check_destination
from gateway.france.flow import lookup
from gateway.france.flow.api import ACK_STATUSES, TAG, principal
from gateway.france.flow.errors import error
from gateway.france.flow.mapping import IN, OUT, Mapping, load_mapping
from gateway.france.flow.models import FlowWebhook
from gateway.france.flow.spec import FLOW_TYPES
from gateway.france.models import RECEIVED, CdarRecord
from gateway.lifecycle import Lifecycle, Moved
from gateway.responses import PENDING
from gateway.store import Database, Document, WebhookDelivery, iso
from gateway.web import DB, SETTINGS, operation, read_json

EVENT = "afnor.flow"
#: Subscriptions send the tenant's flows to a URL outside: like the tenant's own webhook
#: (``/v1/admin/tenants/{tenant}/webhook``), they take the admin scope, also to list them.
ADMIN_SCOPE = "admin"
SIGNATURE, TIMESTAMP = "Afnor-Signature", "Afnor-Signature-Timestamp"
MAX_WEBHOOKS = 20
MAX_URL = 2000
OBJ: dict[str, Any] = {"type": "object"}


def signature(key: str, body: bytes, timestamp: int) -> str:
    """XP Z12-013's callback signature of ``body`` at ``timestamp`` with the base64 ``key``."""
    fingerprint = hashlib.sha256(body + b"@" + str(timestamp).encode()).hexdigest()
    mac = hmac.new(base64.b64decode(key), fingerprint.encode("ascii"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def verify(key: str, body: bytes, timestamp: str, given: str, tolerance: float = 300) -> bool:
    """What a receiver checks: the signature, in constant time, made within ``tolerance``."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(time.time() - ts) > tolerance:
        return False
    return hmac.compare_digest(signature(key, body, ts), given)


# --- subscriptions -------------------------------------------------------------------------------


def view(row: FlowWebhook, *, with_key: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "webhookId": row.id,
        "createdAt": iso(row.created_at),
        "callbackUrl": row.callback_url,
    }
    if row.flow_types is not None:
        out["flowTypes"] = row.flow_types
    if row.flow_direction:
        out["flowDirection"] = row.flow_direction
    if row.ack_status:
        out["ackStatus"] = row.ack_status
    if with_key:
        out["signingKey"] = row.signing_key
    return out


@operation(
    "AFNOR Flow API: the key's tenant's webhooks", tag=TAG, scope=ADMIN_SCOPE, responses={200: OBJ}
)
async def list_webhooks(request: web.Request) -> web.Response:
    who = principal(request, ADMIN_SCOPE)
    async with request.app[DB].read() as s:
        rows = list(
            await s.scalars(
                select(FlowWebhook)
                .where(FlowWebhook.tenant == who.tenant)
                .order_by(FlowWebhook.created_at, FlowWebhook.id)
            )
        )
    # ``webhookIds``: the standard's response names it as required (next to ``webhooks``).
    body = {
        "count": len(rows),
        "webhooks": [view(r) for r in rows],
        "webhookIds": [r.id for r in rows],
    }
    return web.json_response(body)


@operation(
    "AFNOR Flow API: subscribe a callback URL (returns its signing key once)",
    tag=TAG,
    scope=ADMIN_SCOPE,
    body=OBJ,
    responses={201: OBJ},
    errors=(400,),
)
async def create_webhook(request: web.Request) -> web.Response:
    who = principal(request, ADMIN_SCOPE)
    payload = await read_json(request)
    url = payload.get("callbackUrl")
    if (
        not isinstance(url, str)
        or not url.startswith(("http://", "https://"))
        or len(url) > MAX_URL
        or any(c.isspace() or ord(c) < 32 for c in url)
    ):
        raise error(400, "INVALID_CALLBACK_URL", "callbackUrl: an http(s) URL, no spaces.")
    types = payload.get("flowTypes")
    if types is not None and (
        not isinstance(types, list) or any(t not in FLOW_TYPES for t in types)
    ):
        raise error(400, "INVALID_FLOW_TYPE", "flowTypes: a list of FlowType values.")
    direction = payload.get("flowDirection")
    if direction is not None and direction not in (IN, OUT):
        raise error(400, "INVALID_FLOW_DIRECTION", "flowDirection: In or Out.")
    ack = payload.get("ackStatus")
    if ack is not None and ack not in ACK_STATUSES:
        raise error(400, "INVALID_ACK_STATUS", "ackStatus: Pending, Ok or Error.")
    if not request.app[SETTINGS].webhooks.allow_private_destinations:
        # Before the write transaction (a slow DNS answer must not hold the database); every
        # delivery checks again (DNS rebinding).
        try:
            await check_destination(url)
        except DestinationRefused as exc:
            raise error(400, "CALLBACK_URL_REFUSED", exc.detail) from exc
    row = FlowWebhook(
        id=str(uuid.uuid4()),
        tenant=who.tenant,
        callback_url=url,
        flow_types=list(dict.fromkeys(types)) if types is not None else None,
        flow_direction=direction,
        ack_status=ack,
        signing_key=base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
    )
    async with request.app[DB].write() as s:
        count = await s.scalar(
            select(func.count()).select_from(FlowWebhook).where(FlowWebhook.tenant == who.tenant)
        )
        if (count or 0) >= MAX_WEBHOOKS:
            raise error(400, "TOO_MANY_WEBHOOKS", f"At most {MAX_WEBHOOKS} webhooks per tenant.")
        s.add(row)
        await s.flush()
        body = view(row, with_key=True)
    body = {k: body[k] for k in ("webhookId", "signingKey", "createdAt")}
    return web.json_response(body, status=201)


@operation(
    "AFNOR Flow API: unsubscribe", tag=TAG, scope=ADMIN_SCOPE, responses={204: None}, errors=(404,)
)
async def delete_webhook(request: web.Request) -> web.Response:
    who = principal(request, ADMIN_SCOPE)
    uid = request.match_info["webhookUid"]
    async with request.app[DB].write() as s:
        gone = await s.execute(
            delete(FlowWebhook).where(FlowWebhook.id == uid, FlowWebhook.tenant == who.tenant)
        )
    if not gone.rowcount:  # type: ignore[attr-defined]
        raise error(404, "MISSING_RESOURCE", f"No webhook {uid}.")
    return web.Response(status=204)


# --- events ---------------------------------------------------------------------------------------


class FlowEvents:
    """Writes the callbacks of flow events and renders them for the forwarder."""

    def __init__(
        self, db: Database, lifecycle: Lifecycle, forwarder: Forwarder, m: Mapping | None = None
    ) -> None:
        self.db = db
        self.lifecycle = lifecycle
        self.forwarder = forwarder
        self.mapping = m or load_mapping()

    def attach(self, intake: Any) -> None:
        self.lifecycle.on_start(self.on_start)
        self.lifecycle.on_move(self.on_move)
        self.lifecycle.on_touch(self.on_touch)
        intake.after_store.append(self.after_store)
        self.forwarder.add_format(EVENT, self.render)

    def _received_lifecycle(self, doc: Any) -> bool:
        return doc.kind in self.mapping.lifecycle_kinds and doc.direction == "inbound"

    async def on_start(self, session: AsyncSession, doc: Document) -> None:
        """A new flow (a received lifecycle message waits until it was judged)."""
        if doc.tenant is None or doc.kind not in self.mapping.flow_kinds:
            return
        if not self._received_lifecycle(doc):
            await self._emit(session, doc, doc.report)

    async def on_move(self, session: AsyncSession, moved: Moved) -> None:
        if moved.tenant is None or moved.kind not in self.mapping.flow_kinds:
            return
        doc = await session.scalar(select(Document).where(Document.id == moved.document_id))
        if doc is not None:
            report = await session.scalar(
                select(Document.report).where(Document.id == moved.document_id)
            )
            await self._emit(session, doc, report)

    async def on_touch(self, session: AsyncSession, doc: Document) -> None:
        """A received lifecycle message was decided (now or later): its flow changed."""
        if doc.tenant is not None and self._received_lifecycle(doc):
            report = await session.scalar(select(Document.report).where(Document.id == doc.id))
            await self._emit(session, doc, report)

    async def after_store(self, result: Any) -> None:
        """Intake hook (after the France package's): a received lifecycle message that the
        package did not judge (the ones it judged were announced with the decision). Others
        return before any transaction (the result names kind and direction): a write
        transaction per stored document cost ~12% of REST ingest's server CPU."""
        if result.tenant is None or not self._received_lifecycle(result):
            return
        async with self.db.write() as s:
            doc = await s.scalar(select(Document).where(Document.id == result.document_id))
            if doc is None or not self._received_lifecycle(doc):
                return
            judged = await s.scalar(
                select(CdarRecord.seq).where(
                    CdarRecord.document_id == doc.id,
                    CdarRecord.direction == RECEIVED,
                    CdarRecord.state != PENDING,
                )
            )
            if judged is None:
                await self._emit(s, doc, result.report.to_dict())

    async def _emit(self, session: AsyncSession, doc: Document, report: Any) -> None:
        hooks = await _tenant_webhooks(session, doc.tenant)
        if not hooks:
            return
        (flow,) = await lookup.flows(session, self.mapping, [doc], reports={doc.id: report})
        added = False
        for hook in hooks:
            if _wanted(hook, flow):
                session.add(
                    WebhookDelivery(
                        document_id=doc.id,
                        tenant=doc.tenant,
                        url=hook.callback_url,
                        event=EVENT,
                        payload={"webhook": hook.id, "flow": flow},
                    )
                )
                added = True
        if added:
            self.lifecycle.after_commit(session, lambda: self.forwarder.wake(queued=True))

    async def render(self, session: AsyncSession, delivery: WebhookDelivery) -> Rendered | None:
        payload = delivery.payload or {}
        hook = await session.get(FlowWebhook, payload.get("webhook") or "")
        if hook is None or hook.tenant != delivery.tenant:
            return None
        key = hook.signing_key

        def headers(body: bytes) -> dict[str, str]:
            ts = int(time.time())
            return {SIGNATURE: signature(key, body, ts), TIMESTAMP: str(ts)}

        body = json.dumps(payload.get("flow") or {}, ensure_ascii=False).encode()
        return Rendered(body, headers)


_WEBHOOKS = "afnor_webhooks"


async def _tenant_webhooks(session: AsyncSession, tenant: str | None) -> list[FlowWebhook]:
    """``tenant``'s webhooks, read once per transaction (kept in ``session.info``).

    Why: the intake stores documents in batches; a query per document made SQLAlchemy flush
    each document's pending rows separately (autoflush) instead of in one statement per table,
    and cost a round trip each. Webhooks are not written in the intake's transaction, and one
    committed meanwhile elsewhere races the batch either way.
    """
    transaction = session.sync_session.get_transaction()
    held = session.info.get(_WEBHOOKS)
    if held is None or held[0] is not transaction:
        held = session.info[_WEBHOOKS] = (transaction, {})
    cache: dict[str | None, list[FlowWebhook]] = held[1]
    if tenant not in cache:
        with session.no_autoflush:
            rows = await session.scalars(select(FlowWebhook).where(FlowWebhook.tenant == tenant))
            cache[tenant] = list(rows)
    return cache[tenant]


def _wanted(hook: FlowWebhook, flow: dict[str, Any]) -> bool:
    return (
        (hook.flow_types is None or flow["flowType"] in hook.flow_types)
        and (not hook.flow_direction or flow["flowDirection"] == hook.flow_direction)
        and (not hook.ack_status or flow["acknowledgement"]["status"] == hook.ack_status)
    )
