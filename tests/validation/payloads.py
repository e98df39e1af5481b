"""Documents that used to cost validation quadratic time (issue 14 item 1, issue 18 item 6).

Built from corpus files at run time (nothing from ``../shared`` is copied into the repo), so the
tests and ``bench/bounded.py`` measure the same payloads the issues describe:

- :func:`empty_notes`: ``base-example.xml`` with ``<cbc:Note></cbc:Note>`` repeated N times
  before ``cbc:BuyerReference`` (one PEPPOL-EN16931-R008 finding per note);
- :func:`bad_unit_codes`: N invoice lines whose quantity has an unknown unit code;
- :func:`peppol_lines`: a valid Peppol BIS invoice with N lines, each with a line period inside
  the invoice period (what made PEPPOL-EN16931-R110/R111 quadratic);
- :func:`xrechnung_lines`: the XRechnung suite's 03.01a invoice with its lines repeated to N.
"""

from __future__ import annotations

import re

from tests.conftest import SHARED

BASE = SHARED / "corpus" / "peppol-bis-examples" / "base-example.xml"
XRECHNUNG_LINES = (
    SHARED / "corpus/xrechnung-testsuite/business-cases/standard/03.01a-INVOICE_ubl.xml"
)

_LINE = """<cac:InvoiceLine>
<cbc:ID>{i}</cbc:ID>
<cbc:InvoicedQuantity unitCode="{unit}">1</cbc:InvoicedQuantity>
<cbc:LineExtensionAmount currencyID="EUR">10</cbc:LineExtensionAmount>
<cac:InvoicePeriod><cbc:StartDate>2017-11-02</cbc:StartDate><cbc:EndDate>2017-11-29</cbc:EndDate></cac:InvoicePeriod>
<cac:Item><cbc:Name>item {i}</cbc:Name>
<cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>25.0</cbc:Percent>
<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory></cac:Item>
<cac:Price><cbc:PriceAmount currencyID="EUR">10</cbc:PriceAmount></cac:Price>
</cac:InvoiceLine>
"""


def base_example() -> bytes:
    return BASE.read_bytes()


def empty_notes(n: int, *, schema_valid: bool = False) -> bytes:
    """``base-example.xml`` with ``n`` empty ``cbc:Note`` elements before BuyerReference (the
    issue's payload: out of schema order, so ``xmlschema`` checks it too), or with
    ``schema_valid`` where the schema allows notes (only the rules see them)."""
    text = BASE.read_text(encoding="utf-8")
    marker = "<cbc:DocumentCurrencyCode>" if schema_valid else "<cbc:BuyerReference>"
    return text.replace(marker, "<cbc:Note></cbc:Note>" * n + marker, 1).encode()


def peppol_lines(n: int, unit: str = "DAY") -> bytes:
    """A Peppol BIS invoice with ``n`` lines (each with a line period) and consistent totals:
    valid with ``unit="DAY"``, one finding per line with an unknown unit code."""
    text = BASE.read_text(encoding="utf-8")
    head, _, _ = text.partition("<cac:InvoiceLine>")
    period = (
        "<cac:InvoicePeriod><cbc:StartDate>2017-11-01</cbc:StartDate>"
        "<cbc:EndDate>2017-11-30</cbc:EndDate></cac:InvoicePeriod>\n"
    )
    head = re.sub(r"(<cbc:BuyerReference>[^<]*</cbc:BuyerReference>\s*)", r"\1" + period, head)
    net = 10 * n
    exclusive = net + 25  # the document-level charge of base-example
    tax = exclusive * 0.25
    totals = {
        "LineExtensionAmount": net,
        "TaxExclusiveAmount": exclusive,
        "TaxInclusiveAmount": exclusive + tax,
        "PayableAmount": exclusive + tax,
        "TaxableAmount": exclusive,
        "TaxAmount": tax,
    }
    for name, value in totals.items():
        head = re.sub(
            rf'(<cbc:{name} currencyID="EUR">)[^<]*(</cbc:{name}>)',
            lambda m, v=value: f"{m.group(1)}{v:.2f}{m.group(2)}",
            head,
        )
    lines = "".join(_LINE.format(i=i + 1, unit=unit) for i in range(n))
    return (head + lines + "</Invoice>\n").encode()


def bad_unit_codes(n: int) -> bytes:
    return peppol_lines(n, unit="XX9")


def attachment_invoice(megabytes: float) -> bytes:
    """The XRechnung suite's 01.15a invoice with its PDF attachment replaced by
    ``megabytes`` MB of base64 (valid base64 of pseudo-random bytes)."""
    import base64
    import random

    text = SHARED / "corpus/xrechnung-testsuite/business-cases/standard/01.15a-INVOICE_ubl.xml"
    raw = random.Random(7).randbytes(int(megabytes * 1_000_000 * 3 / 4))
    body = base64.b64encode(raw).decode()
    return re.sub(
        r"(<cbc:EmbeddedDocumentBinaryObject[^>]*>)[^<]*(<)",
        lambda m: m.group(1) + body + m.group(2),
        text.read_text(encoding="utf-8"),
        count=1,
    ).encode()


def xrechnung_lines(n: int) -> bytes:
    """The XRechnung suite's 03.01a invoice (line periods) with its lines repeated to ``n``,
    each with its own line id (the totals no longer add up: a handful of findings)."""
    text = XRECHNUNG_LINES.read_text(encoding="utf-8")
    first = text.index("<cac:InvoiceLine>")
    last = text.rindex("</cac:InvoiceLine>") + len("</cac:InvoiceLine>")
    lines = re.findall(r"<cac:InvoiceLine>.*?</cac:InvoiceLine>", text[first:last], re.S)
    out = []
    for i in range(n):
        line = lines[i % len(lines)]
        out.append(re.sub(r"<cbc:ID>[^<]*</cbc:ID>", f"<cbc:ID>L{i + 1}</cbc:ID>", line, count=1))
    return (text[:first] + "\n".join(out) + text[last:]).encode()


def warm_up(validator: object) -> None:
    """Every worker of ``validator`` has validated a document (compiled, first run done):
    wait until all are up, then give each one, so none is left cold."""
    import time

    deadline = time.monotonic() + 180
    while any(w["state"] != "idle" for w in validator.health()["workers"]):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.05)
    workers = len(validator.health()["workers"])  # type: ignore[attr-defined]
    validator.map([(base_example(), None)] * workers)  # type: ignore[attr-defined]
    assert all(w["documents"] for w in validator.health()["workers"])  # type: ignore[attr-defined]


#: A 1.3 MB schema-valid invoice of 60,000 empty notes: seconds of rule work on a loaded
#: machine, 1.1-1.2 s on a quiet fast one. Tests of the validation deadline give it
#: :data:`HOSTILE_DEADLINE`, well under that (1.5 s, as they had, let it finish in time).
HOSTILE = empty_notes(60_000, schema_valid=True)
HOSTILE_DEADLINE = 0.5
