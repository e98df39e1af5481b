"""``gateway serve``: run the HTTP API (and the SMTP channel when ``smtp.port`` is set)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the gateway server (REST API, SMTP, forwarding)")
    p.add_argument("--host", help="override http.host")
    p.add_argument("--port", type=int, help="override http.port")
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from gateway.config import load_settings
    from gateway.observability import configure_logging
    from gateway.server.app import create_app

    overrides: dict[str, dict[str, object]] = {"http": {}}
    if args.host:
        overrides["http"]["host"] = args.host
    if args.port is not None:
        overrides["http"]["port"] = args.port
    settings = load_settings(args.config, overrides=overrides)
    configure_logging(settings.log.level, settings.log.format)
    app = create_app(settings)
    # run_app handles SIGINT/SIGTERM: stops accepting, finishes in-flight requests (up to the
    # shutdown timeout), then runs the cleanup context in reverse.
    web.run_app(
        app,
        host=settings.http.host,
        port=settings.http.port,
        # The access log class comes with the app (gateway.observability.httplog): fields,
        # never the raw request line (a key in a query string must not reach a log file).
        shutdown_timeout=30.0,
        print=None,
    )
    return 0
