"""Prometheus text exposition without a client library: counters, one histogram, DB gauges.

Why hand-rolled: we need three metric types and the text format is tiny and stable; owning it
keeps the process free of a global registry that tests and multiple apps would share.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable

Labels = tuple[tuple[str, str], ...]

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt_labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


class Counter:
    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help = name, help_text
        self.values: dict[Labels, float] = defaultdict(float)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.values[tuple(sorted(labels.items()))] += amount

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for labels, value in sorted(self.values.items()):
            yield f"{self.name}{_fmt_labels(labels)} {value:g}"


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...] = _BUCKETS) -> None:
        self.name, self.help, self.buckets = name, help_text, buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        running = 0
        for bound, n in zip(self.buckets, self.counts, strict=False):
            running += n
            yield f'{self.name}_bucket{{le="{bound:g}"}} {running}'
        yield f'{self.name}_bucket{{le="+Inf"}} {self.count}'
        yield f"{self.name}_sum {self.sum:.6f}"
        yield f"{self.name}_count {self.count}"


def gauge(name: str, help_text: str, rows: Iterable[tuple[Labels, float]]) -> list[str]:
    out = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    out += [f"{name}{_fmt_labels(labels)} {value:g}" for labels, value in rows]
    return out


class Metrics:
    """Process-level metrics of one app; also the intake observer."""

    def __init__(self) -> None:
        self.intake = Counter(
            "gateway_intake_total", "Documents taken in, by channel and resulting status."
        )
        self.duplicates = Counter(
            "gateway_duplicates_total", "Documents detected as duplicates, by channel."
        )
        self.validation = Histogram(
            "gateway_validation_seconds", "Validation latency per document (seconds)."
        )
        self.http = Counter("gateway_http_requests_total", "HTTP requests by route and status.")
        self.status_changes = Counter(
            "gateway_status_changes_total",
            "Document status changes made by the lifecycle, by direction, new status and source.",
        )

    def observe(self, channel: str, status: str, validation_seconds: float) -> None:
        self.intake.inc(channel=channel, status=status)
        if status == "duplicate":
            self.duplicates.inc(channel=channel)
        self.validation.observe(validation_seconds)

    def moved(self, direction: str, status: str, source: str) -> None:
        """The lifecycle's observer: one count per status change."""
        self.status_changes.inc(direction=direction, status=status, source=source)

    def render(self, extra: Iterable[str] = ()) -> str:
        lines: list[str] = []
        for metric in (
            self.intake,
            self.duplicates,
            self.validation,
            self.http,
            self.status_changes,
        ):
            lines.extend(metric.render())
        lines.extend(extra)
        return "\n".join(lines) + "\n"
