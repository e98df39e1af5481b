"""Fill a store through the real intake, for capacity tests (``bench/ingest.py --prefill``).

Why: "flat cost as the store grows" can only be shown on a store of millions of documents, and
validating each copy (10 ms in Saxon) would make filling 1M take hours. Everything after
validation is the real code path: identification of every copy, the intake's record, the
duplicate claims, the group-commit writer and its transactions. Only the Schematron verdict is
reused: each copy is one of a few validated templates with another invoice number, so its
findings are the template's (numbers are free text for every rule of the pinned scenarios).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from lxml import etree

from gateway.documents import identify, parse_xml
from gateway.inbound.intake import IntakePipeline, Submission
from gateway.store import Database
from gateway.validation import ValidationReport


def renumber(raw: bytes, number: str) -> bytes:
    """``raw`` with its document number (UBL ``cbc:ID``, CII ``ram:ID``) set to ``number``."""
    tree = parse_xml(raw)
    node = _number_node(tree.getroot())
    if node is None:
        raise ValueError("document has no number element to rewrite")
    node.text = number
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def _number_node(root: etree._Element) -> etree._Element | None:
    ubl = root.find("{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}ID")
    if ubl is not None:
        return ubl
    return root.find(
        "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}ExchangedDocument/"
        "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}ID"
    )


class _Replay:
    """The validator the fill's intake sees: the template's verdict, this copy's identity."""

    def __init__(self) -> None:
        self.pending: dict[bytes, ValidationReport] = {}

    async def validate(
        self, raw: bytes, scenario: str | None = None, *, tenant: str | None = None, **_: object
    ) -> ValidationReport:
        return self.pending.pop(raw)


async def fill(
    db: Database,
    templates: Iterable[tuple[bytes, ValidationReport]],
    count: int,
    *,
    tenant: str,
    prefix: str = "FILL",
    concurrency: int = 64,
    progress: Callable[[int], Any] | None = None,
) -> int:
    """Store ``count`` renumbered copies of ``templates`` for ``tenant``; returns how many."""
    pool = list(templates)
    if not pool:
        raise ValueError("no templates to fill with")
    replay = _Replay()
    intake = IntakePipeline(db, replay)
    done = 0
    next_index = 0

    async def one(i: int) -> None:
        raw_t, report_t = pool[i % len(pool)]
        raw = renumber(raw_t, f"{prefix}-{i}")
        info = identify(parse_xml(raw)).to_dict()
        replay.pending[raw] = dataclasses.replace(report_t, document=info)
        await intake.submit(Submission(raw=raw, channel="api", tenant=tenant))

    async def worker() -> None:
        nonlocal done, next_index
        while next_index < count:
            i, next_index = next_index, next_index + 1
            await one(i)
            done += 1
            if progress is not None and done % 1000 == 0:
                progress(done)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return done
