"""Reading KoSIT's VARL report (``rep:report``): its recommendation and HTML explanation."""

from __future__ import annotations

from lxml import etree

REP = "http://www.xoev.de/de/validator/varl/1"
HTML = "http://www.w3.org/1999/xhtml"


def parse(report: str) -> etree._Element:
    return etree.fromstring(report.encode("utf-8"), etree.XMLParser(resolve_entities=False))


def recommendation(report: str) -> str | None:
    """``accept`` or ``reject`` as the report's assessment says (None if it has none)."""
    found = parse(report).find(f"{{{REP}}}assessment/*")
    return etree.QName(found).localname if found is not None else None


def html_explanation(report: str) -> str:
    """The HTML page inside ``rep:assessment/*/rep:explanation`` (KoSIT's ``-h``), serialised."""
    html = parse(report).find(f"{{{REP}}}assessment/*/{{{REP}}}explanation/{{{HTML}}}html")
    if html is None:
        return ""
    return "<!DOCTYPE html>\n" + etree.tostring(html, encoding="unicode", method="html")
