"""Whether ``[as4]`` is switched on: an identity (key, certificate) and trust anchors.

Half a configuration is an error, not "off": an operator who set a key but forgot the trust
anchors must hear about it at start-up, not discover that AS4 silently never ran.
"""

from __future__ import annotations

from typing import Any

from gateway.config import ConfigError


def configured(as4: Any) -> bool:
    parts = {
        "key_file": as4.key_file,
        "cert_file": as4.cert_file,
        "trust_anchors": as4.trust_anchors,
    }
    if not any(parts.values()):
        return False
    missing = [k for k, v in parts.items() if not v]
    if missing:
        raise ConfigError(f"[as4] is incomplete: set {', '.join(missing)} (or none of them)")
    return True
