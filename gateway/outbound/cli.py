"""``gateway send`` and ``gateway outbound run|show|requeue|stats``.

``gateway outbound run`` is a delivery-only process (no HTTP): several of them, on one
PostgreSQL, share the queue; ``gateway serve`` runs the same worker inside the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("send", help="validate a document and queue it for sending")
    p.add_argument("file", type=Path, help="XML document")
    p.add_argument("--to", metavar="SCHEME:ID", help="receiver (default: the document's)")
    p.add_argument("--tenant", default="default", help="tenant that sends (default: default)")
    p.add_argument("--idempotency-key", help="submit at most once per key")
    p.add_argument(
        "--reissue", action="store_true", help="send again although this invoice was sent before"
    )
    p.add_argument("--wait", action="store_true", help="deliver now and wait for the outcome")
    p.add_argument("--timeout", type=float, default=120.0, help="with --wait (seconds)")
    p.set_defaults(handler=lambda a: _run(_send(a)))

    out = sub.add_parser("outbound", help="outbound queue").add_subparsers(
        dest="outbound_cmd", metavar="CMD"
    )
    p = out.add_parser("run", help="run delivery workers until SIGTERM (no HTTP)")
    p.set_defaults(handler=lambda a: _run(_worker(a)))
    p = out.add_parser("show", help="an item with its attempts (JSON)")
    p.add_argument("id")
    p.set_defaults(handler=lambda a: _run(_show(a)))
    p = out.add_parser("requeue", help="queue a failed item again")
    p.add_argument("id")
    p.set_defaults(handler=lambda a: _run(_requeue(a)))
    p = out.add_parser("stats", help="queue depth and age (JSON)")
    p.set_defaults(handler=lambda a: _run(_stats(a)))


def _run(coro: Any) -> int:
    return int(asyncio.run(coro) or 0)


def _service(args: argparse.Namespace, validator: Any = None) -> Any:
    from gateway.config import load_settings
    from gateway.forwarding import WebhookEvents
    from gateway.lifecycle import Lifecycle
    from gateway.observability import configure_logging
    from gateway.store import Database
    from gateway.transports import outbound_service

    settings = load_settings(args.config)
    configure_logging(settings.log.level, settings.log.format)
    # Webhook events of deliveries are written as rows; a serving gateway delivers them.
    lifecycle = Lifecycle(events=WebhookEvents())
    return outbound_service(settings, Database.from_settings(settings), validator, lifecycle)


async def _migrated(service: Any) -> None:
    from gateway.store import upgrade

    if service.db.is_sqlite:
        await upgrade(service.db.engine)


async def _send(args: argparse.Namespace) -> int:
    from gateway.outbound.api import item_dict
    from gateway.outbound.duplicates import DuplicateOutbound
    from gateway.outbound.service import SubmissionRefused
    from gateway.validation import Validator

    service = _service(args)
    await _migrated(service)
    validator = await asyncio.to_thread(Validator.from_settings, service.settings)
    service.validator = validator
    try:
        try:
            result = await service.submit(
                args.tenant,
                args.file.read_bytes(),
                receiver=args.to,
                idempotency_key=args.idempotency_key,
                actor="cli",
                channel="cli",
                reissue=args.reissue,
            )
        except DuplicateOutbound as exc:
            out = {"code": "duplicate-outbound", "detail": str(exc), "original_id": exc.original_id}
            print(json.dumps(out, indent=2), file=sys.stderr)
            return 1
        except SubmissionRefused as exc:
            out = {"code": exc.code, "detail": exc.detail}
            if exc.report is not None:
                out["report"] = exc.report.to_dict()
            print(json.dumps(out, indent=2), file=sys.stderr)
            return 1
        item_id = result.item.document_id
        if args.wait:
            await service.setup_discovery()
            await service.worker.drain(timeout=args.timeout)
        found = await service.queue.get(item_id)
        assert found is not None
        print(json.dumps(item_dict(*found), indent=2))
        return 0 if found[0].state in ("delivered", "queued") or not args.wait else 1
    finally:
        await validator.aclose()
        await service.aclose()
        await service.db.dispose()


async def _worker(args: argparse.Namespace) -> int:
    service = _service(args)
    await _migrated(service)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    await stop.wait()
    await service.aclose()
    await service.db.dispose()
    return 0


async def _show(args: argparse.Namespace) -> int:
    from gateway.outbound.api import item_dict

    service = _service(args)
    try:
        found = await service.queue.get(args.id)
        if found is None:
            print(f"gateway: no outbound item {args.id}", file=sys.stderr)
            return 1
        print(json.dumps(item_dict(*found), indent=2))
        return 0
    finally:
        await service.db.dispose()


async def _requeue(args: argparse.Namespace) -> int:
    from gateway.outbound.queue import NotRequeueable

    service = _service(args)
    try:
        item = await service.queue.requeue(args.id, actor="cli")
    except (LookupError, NotRequeueable) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 1
    finally:
        await service.db.dispose()
    print(json.dumps({"id": item.document_id, "status": item.state}))
    return 0


async def _stats(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        stats = await service.queue.stats()
    finally:
        await service.db.dispose()
    print(
        json.dumps(
            {
                "depth": stats.depth,
                "oldest_pending_seconds": stats.oldest_pending_age,
                "oldest_due_seconds": stats.oldest_due_age,
            },
            indent=2,
        )
    )
    return 0
