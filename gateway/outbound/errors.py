"""The two ways a delivery step can fail, and why the distinction drives the whole queue.

A :class:`TransientError` means "try again later" (receiver down, timeout, 5xx, DNS hiccup);
a :class:`PermanentError` means "this will never work as submitted" (unknown receiver, 4xx,
no usable endpoint) and fails the item at once so an operator sees a clear reason instead of
a day of pointless retries. Every error carries a stable ``code`` for the status history.
"""

from __future__ import annotations


class DeliveryError(Exception):
    code = "delivery-error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class TransientError(DeliveryError):
    """Retry later with backoff."""

    code = "transient"


class PermanentError(DeliveryError):
    """Fail now; retrying cannot help."""

    code = "permanent"
