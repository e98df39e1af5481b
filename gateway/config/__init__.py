"""Settings: one typed tree, read from a TOML file and overridden by ``GATEWAY_*`` variables.

Why a single loader: every command (``serve``, ``validate``, ``keys`` ...) must see exactly the
same configuration, so an operator can reason about one file plus the environment.
"""

from gateway.config.loader import ConfigError, load_settings
from gateway.config.settings import (
    As4Settings,
    EmailOutSettings,
    FolderSettings,
    HttpSettings,
    LogSettings,
    OutboundSettings,
    Route,
    Settings,
    SmtpSettings,
    ValidationSettings,
    WebhookSettings,
)

__all__ = [
    "As4Settings",
    "ConfigError",
    "EmailOutSettings",
    "FolderSettings",
    "HttpSettings",
    "LogSettings",
    "OutboundSettings",
    "Route",
    "Settings",
    "SmtpSettings",
    "ValidationSettings",
    "WebhookSettings",
    "load_settings",
]
