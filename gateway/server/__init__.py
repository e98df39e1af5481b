"""The gateway server: app factory (:func:`create_app`), /health, /metrics, ``gateway serve``.

App keys and every HTTP helper live in :mod:`gateway.web`; this package only wires the app.
"""

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy: the factory imports every package's routes; `gateway --help` and the CLI commands
    # that only touch the store should not pay for that.
    if name == "create_app":
        from gateway.server.app import create_app

        return create_app
    raise AttributeError(name)
