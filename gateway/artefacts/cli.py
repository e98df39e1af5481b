"""``gateway artefacts install|list``."""

from __future__ import annotations

import argparse
import json
import sys

from gateway.config import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("artefacts", help="install and list validation artefacts (XSD, Schematron)")
    asub = p.add_subparsers(dest="artefacts_command", metavar="ACTION", required=True)
    inst = asub.add_parser(
        "install", help="install every pinned artefact from a folder, zip or URL"
    )
    inst.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="SOURCE",
        help="folder laid out like shared/artefacts, a zip of one, or an http(s) URL of such a zip",
    )
    inst.set_defaults(handler=_install)
    lst = asub.add_parser("list", help="show installed artefacts, versions and checksums")
    lst.add_argument("--verify", action="store_true", help="re-hash every installed file")
    lst.add_argument("--files", action="store_true", help="list every file with its sha256")
    lst.add_argument("--format", choices=["text", "json"], default="text")
    lst.set_defaults(handler=_list)


def _install(args: argparse.Namespace) -> int:
    from gateway.artefacts import ArtefactError, install_artefacts

    settings = load_settings(args.config)
    try:
        info = install_artefacts(args.source, settings.artefacts_dir)
    except ArtefactError as exc:
        print(f"gateway: error: {exc}", file=sys.stderr)
        return 1
    n = sum(len(b["files"]) for b in info["bundles"])
    print(f"installed {n} files in {len(info['bundles'])} bundles into {settings.artefacts_dir}")
    for b in info["bundles"]:
        print(f"  {b['id']:<20} {b['version']:<10} {b['publisher']}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from gateway.artefacts import installed_info

    settings = load_settings(args.config)
    info = installed_info(settings.artefacts_dir, verify=args.verify)
    if info is None:
        print(
            f"no artefacts installed in {settings.artefacts_dir}; "
            "run: gateway artefacts install --from SOURCE",
            file=sys.stderr,
        )
        return 1
    if args.format == "json":
        print(json.dumps(info, indent=2))
    else:
        print(f"installed {info['installed_at']} from {info['source']}")
        for b in info["bundles"]:
            state = ""
            if args.verify:
                state = "  verified" if b["verified"] else f"  CORRUPT: {', '.join(b['problems'])}"
            print(
                f"{b['id']:<20} {b['version']:<10} {len(b['files']):>3} files  {b['publisher']}{state}"
            )
            if args.files:
                for rel, sha in b["files"].items():
                    print(f"    {sha}  {rel}")
    bad = args.verify and not all(b["verified"] for b in info["bundles"])
    return 1 if bad else 0
