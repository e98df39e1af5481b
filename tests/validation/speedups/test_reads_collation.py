"""The read analysis does not depend on the process locale (it once hung under C.UTF-8)."""

from __future__ import annotations

import locale
import threading

from lxml import etree

from gateway.validation.speedups.reads import stylesheet_reads

XSL = b"""<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:template match="/">
    <xsl:if test="count(distinct-values(('a', 'b', 'a'))) = 2"><ok/></xsl:if>
    <xsl:if test="count(distinct-values(('c', 'c'))) = 1"><ok/></xsl:if>
  </xsl:template>
</xsl:stylesheet>"""


def test_constant_distinct_values_under_a_utf8_locale() -> None:
    previous = locale.setlocale(locale.LC_COLLATE)
    try:
        locale.setlocale(locale.LC_COLLATE, "C.UTF-8")
        done: list[object] = []
        worker = threading.Thread(
            target=lambda: done.append(stylesheet_reads(etree.fromstring(XSL))), daemon=True
        )
        worker.start()
        worker.join(timeout=60)
        assert done, "the analysis hung (elementpath's collation lock)"
        assert done[0].unknown == ()  # both expressions were understood, not given up on
    finally:
        locale.setlocale(locale.LC_COLLATE, previous)
