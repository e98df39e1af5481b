"""The operator console: server-rendered pages at ``/console`` (aiohttp-jinja2), no CDN.

A sub-application mounted by the app factory with :func:`setup`. Sign-in with an API key
(``admin``: its tenant; ``read``: its tenant, read-only; ``operator``: every tenant, with a
switch), a server-side session stored hashed (:mod:`.sessions`), CSRF on every form and HTML
error pages (:mod:`.guard`). Pages read through the other packages' faces: documents through
the API's view functions (``gateway.api``), so the console shows exactly what the API answers;
actions go through the same functions as the API (``gateway.admin``, ``gateway.lifecycle``,
the outbound queue, the forwarder).

The console's routes are HTML, not API: they are left out of ``/v1/openapi.json``
(``gateway.web.openapi.EXCLUDED_PREFIXES``), which the console renders at ``/console/api``.
"""

from gateway.console.routes import setup

__all__ = ["setup"]
