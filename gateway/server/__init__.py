"""The gateway server: app factory (:func:`create_app`), /health, /metrics, ``gateway serve``.

:func:`inbound_channels` is the built-in channel registry ``create_app(channels=...)`` takes
by default: register a kind on it to add a channel.

App keys and every HTTP helper live in :mod:`gateway.web`; this package only wires the app.
"""

from typing import Any

__all__ = ["create_app", "inbound_channels"]


def __getattr__(name: str) -> Any:
    # Lazy: the factory imports every package's routes; `gateway --help` and the CLI commands
    # that only touch the store should not pay for that.
    if name == "create_app":
        from gateway.server.app import create_app

        return create_app
    if name == "inbound_channels":
        from gateway.server.wiring import inbound_channels

        return inbound_channels
    raise AttributeError(name)
