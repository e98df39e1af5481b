"""The gateway server: app factory (:func:`create_app`), /health, /metrics, ``gateway serve``.

App keys (see :mod:`gateway.server.appkeys`): ``INTAKE`` (the shared
:class:`~gateway.inbound.intake.IntakePipeline`, also under the string key ``"intake"``),
``DB``, ``FORWARDER``, ``SETTINGS``, ``METRICS``.
"""

from gateway.server.app import create_app

__all__ = ["create_app"]
