"""``gateway render FILE [--format html|pdf] [--lang de|en] [-o OUT]``: an invoice people can read.

Exit status: 0 rendered, 1 the document cannot be rendered (message says why), 2 usage errors.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gateway.cli import UsageError
from gateway.config import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render",
        help="render a UBL/CII invoice or credit note as HTML or PDF (KoSIT visualization)",
        description="Render an invoice with the installed XRechnung visualization stylesheets.",
    )
    p.add_argument("file", metavar="FILE", help="UBL Invoice, UBL CreditNote or CII XML")
    p.add_argument("--format", choices=["html", "pdf"], default="html", help="default html")
    p.add_argument("--lang", choices=["de", "en"], default="de", help="labels (default de)")
    p.add_argument("-o", "--output", metavar="OUT", help="write here (default: standard output)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gateway.documents import ParseLimits
    from gateway.rendering import NotRenderable, Renderer

    settings = load_settings(args.config)
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    if args.format == "pdf" and not args.output and sys.stdout.isatty():
        raise UsageError("a PDF is not for the terminal: give -o FILE or redirect the output")
    limits = ParseLimits(settings.validation.max_bytes, settings.validation.max_depth)
    renderer = Renderer(settings.artefacts_dir, limits)
    try:
        rendering = asyncio.run(renderer.render(path.read_bytes(), args.format, args.lang))
    except NotRenderable as exc:
        print(f"gateway: {path}: {exc.code}: {exc.detail}", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_bytes(rendering.body)
    else:
        sys.stdout.buffer.write(rendering.body)
        sys.stdout.buffer.flush()
    return 0
