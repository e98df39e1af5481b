"""HTTP access and error logging that never writes a secret or a raw request line.

aiohttp's defaults leak in two ways (both seen in the field): its access log writes the request
line, so a key sent as ``?api_key=`` is in every log file; and when a header line is malformed
(a key file with Windows line endings leaves a ``\\r`` after the key) its error log writes the
parser's message, which quotes the whole ``Authorization`` line. So:

* :class:`AccessLogger` logs method, path, status, size and time as fields; the query string
  only as parameter names with values of credential-like names masked, control characters and
  non-UTF-8 bytes escaped;
* :class:`ServerLogger` is what aiohttp's request handler logs through: malformed requests
  become one warning with the error class and status (never the parser's message, never a
  traceback); real failures keep their traceback.

Both are installed with the app (``handler_args``), so every runner (``gateway serve``, test
servers) uses them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import BaseRequest, StreamResponse

ACCESS = logging.getLogger("gateway.http.access")
SERVER = logging.getLogger("gateway.http.server")

#: Query parameter names whose values are never logged.
SECRET_NAMES = frozenset({"api_key", "apikey", "key", "token", "access_token", "auth"})
_UNSAFE = re.compile(r"[^\x20-\x7e\u00a0-\ud7ff\ue000-\ufffd]")


def printable(text: str, limit: int = 300) -> str:
    """``text`` cut to ``limit`` with control characters and surrogates as ``\\xNN`` escapes."""
    cut = text[:limit] + ("..." if len(text) > limit else "")
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}", cut)


def safe_query(request: BaseRequest) -> str:
    parts = []
    for name, value in request.query.items():
        shown = "***" if name.lower() in SECRET_NAMES else value
        parts.append(f"{printable(name, 50)}={printable(shown, 100)}")
    return "&".join(parts)


class AccessLogger(AbstractAccessLogger):
    """One line per request with fields, never the raw request line."""

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(ACCESS, log_format)

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        path = printable(request.path)
        query = safe_query(request)
        self.logger.info(
            '%s "%s %s%s" %s',
            request.remote,
            request.method,
            path,
            f"?{query}" if query else "",
            response.status,
            extra={
                "remote": request.remote,
                "method": request.method,
                "path": path,
                "status": response.status,
                "bytes": response.body_length,
                "duration_ms": round(time * 1000, 2),
            },
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


class ServerLogger:
    """Stands in for aiohttp's ``aiohttp.server`` logger in its request handler."""

    def __init__(self, logger: logging.Logger = SERVER) -> None:
        self.logger = logger

    def debug(self, msg: str, *args: Any, **kw: Any) -> None:
        self.logger.debug(msg, *args, **_without_bad_request(kw))

    def warning(self, msg: str, *args: Any, **kw: Any) -> None:
        self.logger.warning(msg, *args, **_without_bad_request(kw))

    def exception(self, msg: str, *args: Any, **kw: Any) -> None:
        exc = kw.get("exc_info")
        if isinstance(exc, HttpProcessingError):
            self.logger.warning(
                "malformed request refused (%s, status %s)",
                type(exc).__name__,
                exc.code,
                extra={"error": type(exc).__name__, "status": exc.code},
            )
            return
        self.logger.exception(msg, *args, **kw)

    def isEnabledFor(self, level: int) -> bool:
        return self.logger.isEnabledFor(level)


def _without_bad_request(kw: dict[str, Any]) -> dict[str, Any]:
    if isinstance(kw.get("exc_info"), HttpProcessingError):
        return {k: v for k, v in kw.items() if k != "exc_info"}
    return kw


def handler_args() -> dict[str, Any]:
    """What ``web.Application(handler_args=...)`` needs for the loggers above."""
    return {"access_log_class": AccessLogger, "logger": ServerLogger()}
