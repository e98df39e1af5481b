"""``gateway validate``: validate files like the KoSIT validator does, from the command line.

Exit status: 0 when every file is accepted, 1 when any is not, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.cli import UsageError
from gateway.config import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="validate UBL/CII documents (XSD + Schematron, KoSIT-style report)",
        description="Validate e-invoice documents. Exit 0 if all accepted, 1 if any rejected, 2 on usage errors.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="XML files to validate")
    p.add_argument("--scenario", metavar="ID", help="use this scenario instead of detecting one")
    p.add_argument(
        "--format",
        choices=["text", "json", "html", "kosit", "kosit-html"],
        default="text",
        help="text (default), json (one JSON object per file per line), html, or with "
        "--kosit-config: kosit (KoSIT's XML report per file) or kosit-html (its HTML part)",
    )
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes (default 1)")
    p.add_argument("--list-scenarios", action="store_true", help="list the scenarios and exit")
    from gateway.validation.kosit import add_arguments

    add_arguments(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gateway.validation.kosit import run_cli
    from gateway.validation.scenarios import load_scenarios

    if args.kosit_config or args.daemon or args.format.startswith("kosit") or args.output_dir:
        return run_cli(args, load_settings(args.config), _read_inputs(args.files))
    if args.list_scenarios:
        for s in load_scenarios():
            if args.format == "json":
                print(
                    json.dumps(
                        {
                            "id": s.id,
                            "name": s.name,
                            "root": s.root,
                            "customization_id": list(s.customization_id),
                            "schema": s.schema,
                            "schematron": [layer.file for layer in s.schematron],
                        }
                    )
                )
            else:
                print(f"{s.id:<38} {s.name}")
        return 0
    if not args.files:
        raise UsageError("no files given (see gateway validate --help)")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    known = {s.id for s in load_scenarios()}
    if args.scenario and args.scenario not in known:
        raise UsageError(
            f"unknown scenario {args.scenario!r}; see gateway validate --list-scenarios"
        )
    inputs = _read_inputs(args.files)
    settings = load_settings(args.config)
    reports = validate_all(settings, inputs, args.scenario, args.jobs)
    if args.format == "html":
        from gateway.validation.render import html_report

        print(html_report(zip([n for n, _ in inputs], reports, strict=True)))
    else:
        from gateway.validation.render import text_report

        for (name, _), report in zip(inputs, reports, strict=True):
            if args.format == "json":
                print(
                    json.dumps({"file": name, **report.to_dict()}, ensure_ascii=False), flush=True
                )
            else:
                print(text_report(name, report), flush=True)
    return 0 if all(r.accepted for r in reports) else 1


def _read_inputs(files: list[str]) -> list[tuple[str, bytes]]:
    inputs: list[tuple[str, bytes]] = []
    for name in files:
        try:
            inputs.append((name, Path(name).read_bytes()))
        except OSError as exc:
            raise UsageError(f"cannot read {name}: {exc.strerror}") from exc
    return inputs


def validate_all(settings, inputs, scenario, jobs, kosit=None):  # type: ignore[no-untyped-def]
    """Validate ``inputs`` in this process (one job) or on ``jobs`` workers; with ``kosit`` (a
    loaded KoSIT configuration) in KoSIT mode. Reports in input order."""
    from gateway.documents import ParseLimits
    from gateway.validation import ArtefactsMissing, Engine

    limits = ParseLimits(settings.validation.max_bytes, settings.validation.max_depth)
    stand_ins = settings.validation.stand_ins
    names = [Path(name).name for name, _ in inputs]
    try:
        if jobs == 1 or len(inputs) == 1:
            if kosit is not None:
                from gateway.validation.kosit import KositEngine

                engine = KositEngine(kosit, limits=limits, stand_ins=stand_ins)
            else:
                engine = Engine(
                    settings.artefacts_dir,
                    limits=limits,
                    stand_ins=stand_ins,
                    one_shot=len(inputs) == 1,
                )
            return [
                engine.validate(data, scenario, name)
                for (_, data), name in zip(inputs, names, strict=True)
            ]
        from gateway.validation import Validator  # here: one file needs no pool (asyncio, ssl)

        mode = {"kosit_config": kosit.path, "kosit_repository": kosit.repository} if kosit else {}
        with Validator(
            settings.artefacts_dir,
            jobs=min(jobs, len(inputs)),  # a worker only for work there is
            limits=limits,
            warm=False,
            stand_ins=stand_ins,
            batch=True,
            **mode,
        ) as pool:
            return pool.map([(data, scenario) for _, data in inputs], names)
    except ArtefactsMissing as exc:
        print(f"gateway: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
