"""``gateway reporting``: the Peppol reporting rows, and the official TSR/EUSR reports.

- ``export``: the rows (TSR/EUSR input) of a period; operators run it for the whole access point
  (all tenants); tenants use ``GET /v1/admin/reporting`` for their own rows.
- ``tsr`` / ``eusr --month YYYY-MM [--output FILE] [--send]``: build the report from the rows,
  validate it (pinned XSD + Schematron), store it, optionally queue it for OpenPeppol.
- ``list [--month]``: stored reports, their validation and delivery.
- ``schedule``: what the monthly schedule does once (day 1-15: last month, once per month).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import sys
from collections.abc import AsyncIterator
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    rep = sub.add_parser("reporting", help="Peppol reporting data").add_subparsers(
        dest="reporting_cmd", metavar="CMD"
    )
    p = rep.add_parser("export", help="rows exchanged in [--from, --to) as JSON, CSV or summary")
    p.add_argument("--from", dest="start", metavar="DATE", help="ISO date/time (inclusive)")
    p.add_argument("--to", dest="end", metavar="DATE", help="ISO date/time (exclusive)")
    p.add_argument("--tenant", help="only this tenant's rows")
    p.add_argument("--format", choices=("json", "csv", "summary"), default="json")
    p.set_defaults(handler=lambda a: asyncio.run(_export(a)))
    for kind, title in (
        ("tsr", "Transaction Statistics Report 1.0"),
        ("eusr", "End User Statistics Report 1.1"),
    ):
        p = rep.add_parser(kind, help=f"build, validate and store the {title} of a month")
        p.add_argument("--month", required=True, metavar="YYYY-MM")
        p.add_argument("--output", metavar="FILE", help="also write the XML here ('-' = stdout)")
        p.add_argument(
            "--send", action="store_true", help="queue it for OpenPeppol over AS4 (if valid)"
        )
        p.set_defaults(handler=lambda a, kind=kind: asyncio.run(_report(a, kind)))
    p = rep.add_parser("list", help="stored reports with their validation and delivery (JSON)")
    p.add_argument("--month", metavar="YYYY-MM")
    p.set_defaults(handler=lambda a: asyncio.run(_list(a)))
    p = rep.add_parser("schedule", help="run the monthly schedule once (day 1-15, last month)")
    p.set_defaults(handler=lambda a: asyncio.run(_schedule(a)))


async def _report(args: argparse.Namespace, kind: str) -> int:
    from gateway.reporting import month_bounds

    try:
        month_bounds(args.month)
    except ValueError as exc:
        from gateway.cli import UsageError

        raise UsageError(str(exc)) from exc
    async with _services(args, send=args.send) as service:
        record = await service.generate(kind, args.month, origin="cli")
        if args.output == "-":
            sys.stdout.buffer.write(record.xml)
        elif args.output:
            with open(args.output, "wb") as fh:
                fh.write(record.xml)
        if args.send and record.valid:
            await service.send(record)
        listed = await service.list(args.month)
        entry = next(r for r in listed if r["id"] == record.id)
        print(json.dumps(entry, indent=2), file=sys.stderr if args.output == "-" else sys.stdout)
        return 0 if record.valid else 1


async def _list(args: argparse.Namespace) -> int:
    async with _services(args) as service:
        json.dump(await service.list(args.month), sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


async def _schedule(args: argparse.Namespace) -> int:
    async with _services(args, send=True) as service:
        done = await service.run_schedule()
        json.dump([{"kind": r.kind, "month": r.month, "valid": r.valid} for r in done], sys.stdout)
        sys.stdout.write("\n")
    return 0


@contextlib.asynccontextmanager
async def _services(args: argparse.Namespace, *, send: bool = False) -> AsyncIterator[Any]:
    """A :class:`ReportingService` on the configured database with an in-process validator,
    and (``send``) the outbound service whose queue carries the report."""
    from gateway.config import load_settings
    from gateway.reporting.wiring import reporting_service
    from gateway.store import Database, upgrade

    settings = load_settings(args.config)
    db = Database.from_settings(settings)
    if db.is_sqlite:
        await upgrade(db.engine)
    outbound = None
    try:
        service, outbound = await reporting_service(settings, db, with_outbound=send)
        yield service
    finally:
        if outbound is not None:
            await outbound.aclose()
        await db.dispose()


async def _export(args: argparse.Namespace) -> int:
    from gateway.as4 import REPORT_COLUMNS as COLUMNS
    from gateway.as4 import export_rows as export
    from gateway.as4 import parse_when, summarise
    from gateway.config import load_settings
    from gateway.store import Database

    settings = load_settings(args.config)
    db = Database.from_settings(settings)
    try:
        rows = await export(db, parse_when(args.start), parse_when(args.end), args.tenant)
    finally:
        await db.dispose()
    out: Any = sys.stdout
    if args.format == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    else:
        data = summarise(rows) if args.format == "summary" else rows
        json.dump(data, out, indent=2)
        out.write("\n")
    return 0
