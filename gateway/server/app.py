"""The application factory: one place that wires store, validation, intake, forwarding, API.

``create_app`` builds every long-lived object synchronously (so they can live under typed app
keys before the app is frozen); the cleanup contexts then start them in order and stop them in
reverse: migrations (SQLite) -> validator pool -> forwarder -> outbound queue -> inbound
channels (``gateway.server.wiring.inbound_channels``: REST, SMTP, AS4, folders), and on
shutdown the channels first (nothing new comes in), then the queue, forwarding, validator and
the engine.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from gateway.admin import setup_admin
from gateway.channels import Channel, ChannelContext, ChannelRegistry
from gateway.config import Settings
from gateway.console import setup as setup_console
from gateway.forwarding import Forwarder
from gateway.france import setup as setup_france
from gateway.france import setup_flow_api
from gateway.inbound import IntakePipeline
from gateway.lifecycle import Lifecycle
from gateway.observability import (
    Metrics,
    SnapshotRows,
    handler_args,
    log_status_change,
    metrics_endpoint,
)
from gateway.outbound import OUTBOUND, as4_delivered_to
from gateway.outbound import setup as setup_outbound
from gateway.owed import OWED, Sweeps
from gateway.rendering import setup as setup_rendering
from gateway.reporting import setup as setup_reporting
from gateway.responses import setup as setup_responses
from gateway.server.health import CHANNELS, WARMING
from gateway.server.health import setup as setup_health
from gateway.server.wiring import inbound_channels
from gateway.store import Database, pending_heads, repo, upgrade, warm_in_background
from gateway.transports import invoice_mailer, outbound_service
from gateway.web import (
    AUTH_LIMITER,
    BODY_BUDGET,
    DB,
    FORWARDER,
    INTAKE,
    KEY_CACHE,
    LIFECYCLE,
    METRICS,
    SETTINGS,
    BodyBudget,
    FailureLimiter,
    KeyCache,
    auth_middleware,
    budget_middleware,
    edge_middleware,
    metrics_middleware,
    openapi_handler,
    problem_middleware,
)

log = logging.getLogger(__name__)


class _PendingValidator:
    """Placeholder until the real validator pool has started (startup replaces it)."""

    async def validate(
        self, raw: bytes, scenario: str | None = None, *, tenant: str | None = None, **_: Any
    ) -> Any:
        raise RuntimeError("validator not started")


def create_app(
    settings: Settings,
    *,
    validator: Any | None = None,
    channels: ChannelRegistry | None = None,
) -> web.Application:
    """The gateway's aiohttp application. Pass ``validator`` to share one pool (tests, bench),
    ``channels`` to use another set of inbound channels than :func:`inbound_channels`."""
    http = settings.http
    app = web.Application(
        middlewares=[
            metrics_middleware,
            problem_middleware,
            budget_middleware,
            edge_middleware,
            auth_middleware,
        ],
        client_max_size=http.max_body_bytes + 64 * 1024,
        # keepalive_timeout also bounds the time to send a request's headers: aiohttp closes
        # a connection that has not completed a request when it fires (slow loris).
        handler_args={**handler_args(), "keepalive_timeout": http.header_timeout},
    )
    db = Database.from_settings(settings)
    # Per app: the status models and profiles, and the only writer of document statuses.
    lifecycle = Lifecycle(profiles_dir=settings.lifecycle.profiles_dir or None)
    metrics = Metrics(
        max_tenant_labels=settings.metrics.max_tenant_labels,
        snapshot_seconds=settings.metrics.snapshot_seconds,
    )
    forwarder = Forwarder(
        db, settings.webhooks, lifecycle, mailer=invoice_mailer(settings, db), observer=metrics
    )
    lifecycle.attach(events=forwarder, observer=metrics)
    lifecycle.on_move(log_status_change)  # one JSON line per status change, after commit
    intake = IntakePipeline(
        db, validator or _PendingValidator(), forwarder, metrics, lifecycle=lifecycle
    )
    app[SETTINGS] = settings
    app[DB] = db
    app[FORWARDER] = forwarder
    app[METRICS] = metrics
    app[LIFECYCLE] = lifecycle
    app[KEY_CACHE] = KeyCache(negative_ttl=http.unknown_key_cache_seconds)
    app[AUTH_LIMITER] = FailureLimiter(http.auth_failures_per_minute, 60.0)
    app[BODY_BUDGET] = BodyBudget(http.max_bodies_bytes, http.body_timeout)
    app[INTAKE] = intake
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app["intake"] = intake  # plain key for channels written against the string contract
    app.cleanup_ctx.append(_lifecycle(own_validator=validator is None))
    # After the intake lifecycle: the outbound service borrows its validator pool at startup.
    setup_outbound(app, outbound_service(settings, db, lifecycle=lifecycle))
    app[OUTBOUND].worker.observer = metrics  # outbound attempts by transport and result
    # Owed work (CDAR, Invoice Responses): one recovery pass + sweep loop, after the validator
    # and the queue it pays through have started; features register their outboxes.
    app[OWED] = Sweeps()
    app.cleanup_ctx.append(app[OWED].running)
    responses = setup_responses(app)  # after outbound: sends Invoice Responses through its queue
    responses.served_by = as4_delivered_to  # AS4 responses must come from the invoice's AP
    responses.observer = metrics  # Invoice Response outcomes
    france = setup_france(app)  # CDAR lifecycle messages (France), after the Invoice Responses
    france.served_by = as4_delivered_to  # like Invoice Responses: from the invoice's AP
    setup_flow_api(app)  # /afnor/flow-service: the AFNOR XP Z12-013 Flow API (own description)
    # Inbound channels (REST, SMTP, AS4, folders): they may mount routes and feed the intake
    # and the outbound queue; started last, stopped first.
    registry = channels if channels is not None else inbound_channels()
    app[CHANNELS] = registry.build(ChannelContext(app, settings, db, intake, app[OUTBOUND]))
    app.cleanup_ctx.append(_channels_lifecycle)
    # Peppol reports travel through the outbound queue over AS4.
    setup_reporting(app, app[OUTBOUND], lambda: intake.validator)
    setup_health(app)  # /health (readiness), /health/ready, /health/live
    setup_admin(app)  # /v1/admin tenants, participants, keys, webhooks, settings
    app.router.add_get("/metrics", metrics_endpoint)
    app.router.add_get("/v1/openapi.json", openapi_handler)
    metrics.snapshot.loader = _snapshot_loader(db, app[OUTBOUND].queue)
    setup_rendering(app)
    setup_console(app)  # /console: the operator console (HTML pages, own session auth)
    return app


async def _channels_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Start the channels after everything they feed; stop them first, in reverse order."""
    started: list[Channel] = []
    try:
        for channel in app[CHANNELS]:
            await channel.start()
            started.append(channel)
        log.info("channels started", extra={"channels": [c.name for c in started]})
        yield
    finally:
        for channel in reversed(started):
            await channel.stop()


def warm_note(warm: list[str]) -> str:
    """What ``[validation] warm`` means for the first documents' latency (the start-up line
    says it, so an operator who sees a slow first request knows why and what to set)."""
    if "*" in warm:
        return 'every scenario compiled at start ([validation] warm = ["*"]): no first-use wait'
    which = f"scenarios other than {', '.join(warm)} are" if warm else "every scenario is"
    # Without warm, workers start lazily: the first document a worker is started for waits too.
    lazy = "" if warm else ", plus the worker's own start when one is started for it"
    return (
        f"{which} compiled on first use (that document waits about 1 s, once per worker{lazy}); "
        '[validation] warm = ["*"] compiles them all at start for flat latency'
    )


def _lifecycle(*, own_validator: bool) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings, db, intake, forwarder = app[SETTINGS], app[DB], app[INTAKE], app[FORWARDER]
        await _prepare_schema(db)
        # A restarted server on a big store reads its lookup indexes once, in the background.
        warming = asyncio.create_task(warm_in_background(db), name="store-indexes")
        app[WARMING].task = warming
        validator = None
        if own_validator:
            from gateway.validation import Validator

            validator = await asyncio.to_thread(Validator.from_settings, settings)
            intake.validator = validator
        await forwarder.start()
        warm = list(settings.validation.warm)
        log.info(
            "gateway started; validation: %s",
            warm_note(warm),
            extra={
                "database": db.engine.dialect.name,
                "validation_warm": warm,
                "first_document": warm_note(warm),
            },
        )
        try:
            yield
        finally:
            warming.cancel()
            await asyncio.gather(warming, return_exceptions=True)
            await forwarder.stop()
            if validator is not None:
                await validator.aclose()
            await db.dispose()
            log.info("gateway stopped")

    return ctx


async def _prepare_schema(db: Database) -> None:
    if db.is_sqlite:
        await upgrade(db.engine)
        return
    pending = await pending_heads(db.engine)
    if pending:
        raise RuntimeError(
            f"database schema is not current (pending: {', '.join(pending)}); "
            "run `gateway db upgrade` first"
        )


def _snapshot_loader(db: Database, queue: Any) -> Any:
    """What /metrics reports from the database, read off the request path (see Snapshot)."""

    async def load() -> SnapshotRows:
        async with db.read() as s:
            documents = await repo.count_documents(s)
            deliveries = await repo.count_deliveries(s)
        stats = await queue.stats()
        return SnapshotRows(
            documents=documents,
            deliveries=deliveries,
            queue_depth=dict(stats.depth),
            oldest_pending_seconds=stats.oldest_pending_age,
            oldest_due_seconds=stats.oldest_due_age,
        )

    return load
