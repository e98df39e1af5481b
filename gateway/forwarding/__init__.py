"""Forwarding of accepted originals to tenants: signed webhooks with retries, and a pull inbox."""

from gateway.forwarding.signing import SIGNATURE_HEADER, sign, verify
from gateway.forwarding.webhook import Forwarder, mark_forwarded

__all__ = ["SIGNATURE_HEADER", "Forwarder", "mark_forwarded", "sign", "verify"]
