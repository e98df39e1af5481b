"""``gateway validate --kosit-config DIR``: the KoSIT validator's command line, on our pipeline.

KoSIT ``-s scenarios.xml`` / ``-r repository`` / ``-o dir`` / ``-p`` / ``-h`` / ``-D -H -P``
are ``--kosit-config`` / ``--kosit-repository`` / ``--output-dir`` / ``--format kosit`` (to
standard output) / ``--format kosit-html`` / ``--daemon --host --port``. Exit status as for
every ``gateway validate``: 0 all accepted, 1 any not, 2 usage or configuration errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gateway.cli import UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    k = p.add_argument_group("KoSIT mode (a KoSIT validator configuration instead of ours)")
    k.add_argument(
        "--kosit-config",
        metavar="DIR",
        type=Path,
        help="KoSIT configuration: a folder with scenarios.xml (or the file itself)",
    )
    k.add_argument(
        "--kosit-repository",
        metavar="DIR",
        type=Path,
        help="where the configuration's resources are (default: the scenarios.xml folder)",
    )
    k.add_argument(
        "--output-dir",
        metavar="DIR",
        type=Path,
        help="write DIR/<file name without extension>-report.xml (or .html) per input",
    )
    k.add_argument("--daemon", action="store_true", help="answer KoSIT's HTTP daemon contract")
    k.add_argument("--host", default="localhost", help="daemon address (default localhost)")
    k.add_argument("--port", type=int, default=8080, help="daemon port (default 8080)")


def run_cli(args: argparse.Namespace, settings: Any, inputs: list[tuple[str, bytes]]) -> int:
    from gateway.validation.kosit import ConfigError, load_config

    if not args.kosit_config:
        raise UsageError("--daemon, --output-dir and --format kosit* need --kosit-config DIR")
    try:
        config = load_config(args.kosit_config, args.kosit_repository)
    except ConfigError as exc:
        print(f"gateway: error: {exc}", file=sys.stderr)
        return 2
    if args.daemon:
        from gateway.validation.kosit.daemon import serve

        return serve(config, settings, args.host, args.port, args.jobs)
    if not inputs:
        raise UsageError("no files given (see gateway validate --help)")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    from gateway.validation.cli import validate_all

    reports = validate_all(settings, inputs, None, args.jobs, config)
    _write(args, inputs, reports)
    return 0 if all(r.accepted for r in reports) else 1


def _write(args: argparse.Namespace, inputs: list[tuple[str, bytes]], reports: list) -> None:  # type: ignore[type-arg]
    from gateway.validation.kosit.varl import html_explanation
    from gateway.validation.render import html_report, text_report

    if args.format in ("kosit", "kosit-html"):
        html = args.format == "kosit-html"
        for (name, _), report in zip(inputs, reports, strict=True):
            body = html_explanation(report.kosit_report) if html else report.kosit_report
            if args.output_dir:
                args.output_dir.mkdir(parents=True, exist_ok=True)
                out = args.output_dir / f"{Path(name).stem}-report.{'html' if html else 'xml'}"
                out.write_text(body, encoding="utf-8")
                print(f"{name}: {_verdict(report)} -> {out}", file=sys.stderr)
            else:
                print(body, flush=True)
    elif args.format == "html":
        print(html_report(zip([n for n, _ in inputs], reports, strict=True)))
    else:
        for (name, _), report in zip(inputs, reports, strict=True):
            if args.format == "json":
                data = report.to_dict()
                data.pop("kosit_report", None)
                print(json.dumps({"file": name, **data}, ensure_ascii=False), flush=True)
            else:
                print(text_report(name, report), flush=True)


def _verdict(report: Any) -> str:
    return "accepted" if report.accepted else report.status
