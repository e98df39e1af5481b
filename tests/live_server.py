"""A gateway on a real loopback port in a thread of its own, and schemathesis against it.

Shared by the tests that fuzz an API from its OpenAPI description (ours in ``tests/web``, the
AFNOR Flow API's in ``tests/france``): schemathesis calls the server synchronously with
``requests``, so the server runs its own event loop in a thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from aiohttp import web


class LiveServer:
    """The gateway on a loopback port, in a thread with its own event loop."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.runner = web.AppRunner(self.app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.ready.set()
        self.loop.run_forever()

    def start(self) -> LiveServer:
        self.thread.start()
        assert self.ready.wait(120)
        return self

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def stop(self) -> None:
        self.call(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


def fuzz(
    description: dict[str, Any],
    base: str,
    headers: dict[str, str],
    wanted: Callable[[Any], bool],
    seconds: float,
    max_examples: int = 8,
) -> int:
    """Run schemathesis from ``description`` against ``base`` on the operations ``wanted(op)``
    selects; returns how many ran (no 5xx; status codes, content types and bodies as
    described). Bounded: operations not started after ``seconds`` are skipped."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_dict(description)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    session = requests.Session()
    deadline = time.monotonic() + seconds  # bounded: the default suite must stay quick
    failures: list[str] = []
    ran = 0
    for op in [r.ok() for r in schema.get_all_operations()]:
        if not wanted(op) or time.monotonic() > deadline:
            continue

        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def run(case: Any) -> None:
            case.call_and_validate(
                base_url=base, session=session, headers=headers, checks=checks, timeout=30
            )

        ran += 1
        try:
            run()
        except Exception as exc:  # collect all, report together
            failures.append(f"{op.label}: {str(exc)[:600]}")
    assert not failures, "\n\n".join(failures)
    return ran
