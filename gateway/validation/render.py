"""Human renderings of reports: a terminal summary and a standalone HTML page."""

from __future__ import annotations

import html
from collections.abc import Iterable

from gateway.validation.report import ValidationReport


def text_report(name: str, report: ValidationReport) -> str:
    verdict = "ACCEPTED" if report.accepted else report.status.upper()
    head = f"{name}: {verdict}"
    if report.scenario:
        head += f" ({report.scenario})"
    c = report.counts()
    head += (
        f" - {c['fatal'] + c['error']} errors, {c['warning']} warnings, {c['information']} notes"
    )
    lines = [head]
    if report.reason:
        lines.append(f"  reason: {report.reason}")
    for f in report.findings:
        where = f" line {f.line}" if f.line else ""
        lines.append(f"  [{f.severity}] {f.rule} ({f.source}){where}: {f.message}")
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h2{margin-top:2em}.ok{color:#1a7f37}.bad{color:#cf222e}
table{border-collapse:collapse;width:100%;font-size:0.9em}
td,th{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}
.fatal,.error{background:#ffebe9}.warning{background:#fff8c5}.information{background:#ddf4ff}
code{font-size:0.85em;word-break:break-all}
"""


def html_report(items: Iterable[tuple[str, ValidationReport]]) -> str:
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Validation report</title>",
        f"<style>{_CSS}</style></head><body><h1>Validation report</h1>",
    ]
    for name, r in items:
        cls = "ok" if r.accepted else "bad"
        verdict = "accepted" if r.accepted else r.status
        parts.append(
            f"<h2>{html.escape(name)}: <span class='{cls}'>{html.escape(verdict)}</span></h2>"
        )
        meta = [
            f"scenario: <b>{html.escape(r.scenario or '-')}</b> {html.escape(r.scenario_name or '')}"
        ]
        if r.artefacts:
            meta.append(
                "artefacts: "
                + ", ".join(f"{html.escape(k)} {html.escape(v)}" for k, v in r.artefacts.items())
            )
        if r.reason:
            meta.append("reason: " + html.escape(r.reason))
        if r.timings.get("total") is not None:
            meta.append(f"time: {r.timings['total']:.1f} ms")
        parts.append("<p>" + "<br>".join(meta) + "</p>")
        if r.findings:
            parts.append(
                "<table><tr><th>severity</th><th>rule</th><th>source</th><th>line</th><th>message</th><th>location</th></tr>"
            )
            for f in r.findings:
                parts.append(
                    f"<tr class='{f.severity}'><td>{f.severity}</td><td>{html.escape(f.rule)}</td>"
                    f"<td>{html.escape(f.source)}</td><td>{f.line or ''}</td>"
                    f"<td>{html.escape(f.message)}</td><td><code>{html.escape(f.location or '')}</code></td></tr>"
                )
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
