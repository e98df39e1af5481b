"""Fill a store with millions of documents for capacity tests (``bench/ingest.py --prefill``).

Why: "flat cost as the store grows" can only be shown on a store of 1M-10M documents, and
neither validating each copy (10 ms in Saxon) nor the intake's per-document transaction path
(~3 ms) fills 10M in minutes. So each copy is one of a few validated templates with another
invoice number, and:

- its bytes are the template's serialisation with the number spliced in (the same bytes as
  :func:`renumber` gives, computed once per template);
- its identification is the template's with that number (numbers are free text for every rule
  of the pinned scenarios and for identification, which reads them from that one element); a
  sample of the copies, and the first of every template, is parsed and identified for real and
  must agree, or the fill stops;
- its record and claims come from the intake's one record builder
  (:func:`gateway.inbound.intake.build_record`), its first status and history row from the
  lifecycle (:meth:`Lifecycle.insert_started`), its claim rows from ``repo.claim_rows``;
- rows go in by thousands per transaction (``COPY`` on PostgreSQL, ``executemany`` on SQLite,
  :func:`gateway.store.insert_rows`).

The result is the store the intake would have built for the same documents (a test compares
them row by row), without its duplicate lookups: the copies are new by construction, and a copy
that is not (a second fill with the same prefix) fails on the claims' primary key.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from gateway.documents import DocumentInfo, identify, parse_xml
from gateway.inbound.intake import Submission, build_record
from gateway.inbound.storing import first_cause
from gateway.lifecycle import Lifecycle
from gateway.store import Database, DocumentClaim, insert_rows, repo
from gateway.validation import ValidationReport

#: Copies whose identification is checked by parsing them for real (1 in CHECK_EVERY).
CHECK_EVERY = 10_000


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


@dataclass(frozen=True)
class Template:
    """A validated document and what every renumbered copy of it shares."""

    head: bytes  # the serialised template up to its number ...
    tail: bytes  # ... and after it
    info: DocumentInfo
    report: ValidationReport

    @classmethod
    def of(cls, raw: bytes, report: ValidationReport) -> Template:
        marker = f"FILL{secrets.token_hex(8)}"
        data = renumber(raw, marker)
        head, _, tail = data.partition(marker.encode())
        if marker.encode() in tail:
            raise ValueError("the number marker occurs twice")
        return cls(head, tail, identify(parse_xml(data)), report)

    def copy(self, number: str) -> tuple[bytes, dict[str, Any]]:
        """The bytes and identification of the copy numbered ``number`` (plain ASCII, no
        markup characters: it is spliced in as it is)."""
        return self.head + number.encode() + self.tail, dataclasses.replace(
            self.info, number=number
        ).to_dict()


def _checked(raw: bytes, info: dict[str, Any]) -> None:
    real = identify(parse_xml(raw)).to_dict()
    if real != info:
        raise AssertionError(f"a filled copy is not what identification reads: {info['number']}")


async def fill(
    db: Database,
    templates: Iterable[tuple[bytes, ValidationReport]],
    count: int,
    *,
    tenant: str,
    prefix: str = "FILL",
    channel: str = "api",
    batch: int = 2000,
    start: int = 0,
    progress: Callable[[int], Any] | None = None,
    lifecycle: Lifecycle | None = None,
) -> int:
    """Store ``count`` copies of ``templates`` for ``tenant`` (numbered ``prefix-start`` ...);
    returns how many. ``progress(done)`` is called after every transaction."""
    pool = [Template.of(raw, report) for raw, report in templates]
    if not pool:
        raise ValueError("no templates to fill with")
    lifecycle = lifecycle or Lifecycle()
    cause = first_cause(channel, tenant)
    async with db.write() as session:
        await repo.ensure_tenant(session, tenant)
    done = 0
    while done < count:
        records: list[dict[str, Any]] = []
        claims: list[dict[str, str]] = []
        for i in range(start + done, start + min(count, done + batch)):
            template = pool[i % len(pool)]
            raw, info = template.copy(f"{prefix}-{i}")
            if i - start < len(pool) or i % CHECK_EVERY == 0:
                _checked(raw, info)
            report = dataclasses.replace(template.report, document=info)
            fields, held = build_record(Submission(raw, channel, tenant), report, tenant)
            records.append(fields)
            if held:
                claims += repo.claim_rows(tenant, fields["direction"], fields["id"], held)
        async with db.write() as session:
            await lifecycle.insert_started(session, records, [cause] * len(records))
            await insert_rows(session, DocumentClaim, claims)
        done += len(records)
        if progress is not None:
            progress(done)
    return done
