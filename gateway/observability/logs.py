"""JSON logging on the standard library.

Why stdlib and not a framework: every library we use (aiohttp, SQLAlchemy, alembic) already logs
through ``logging``; one formatter makes all of it machine-readable. Secrets never reach the
formatter because callers log ids and fingerprints, and :func:`redact` masks anything that slips
through under a well-known key.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_SECRET_KEYS = {"authorization", "api_key", "key", "password", "secret", "token", "hmac_secret"}
_STD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def redact(data: dict[str, Any]) -> dict[str, Any]:
    """Copy of ``data`` with values under secret-looking keys masked."""
    return {k: ("***" if k.lower() in _SECRET_KEYS else v) for k, v in data.items()}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = {k: v for k, v in vars(record).items() if k not in _STD_ATTRS}
        out.update(redact(extra))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
