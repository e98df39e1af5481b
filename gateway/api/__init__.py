"""The ``/v1`` document API: submit, list, read and change documents; the pull inbox.

Its HTTP helpers (auth, problems, bodies, parameters) come from :mod:`gateway.web`.
"""

from gateway.api.routes import setup_routes

__all__ = ["setup_routes"]
