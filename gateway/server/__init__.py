"""The gateway server: app factory (:func:`create_app`), /health, /metrics, ``gateway serve``.

App keys (see :mod:`gateway.server.appkeys`): ``INTAKE`` (the shared
:class:`~gateway.inbound.intake.IntakePipeline`, also under the string key ``"intake"``),
``DB``, ``FORWARDER``, ``SETTINGS``, ``METRICS``.
"""

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy: the API handlers import gateway.server.appkeys, and the app factory imports the
    # API; importing the factory eagerly here would make the two packages import each other.
    if name == "create_app":
        from gateway.server.app import create_app

        return create_app
    raise AttributeError(name)
