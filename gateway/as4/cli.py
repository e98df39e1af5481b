"""``gateway reporting export``: the Peppol reporting rows (TSR/EUSR input) of a period.

Operators run it for the whole access point (all tenants); tenants use
``GET /v1/admin/reporting`` for their own rows.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
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


async def _export(args: argparse.Namespace) -> int:
    from gateway.as4.reporting import COLUMNS, export, parse_when, summarise
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
