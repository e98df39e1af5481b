"""JSON Schemas of the management API (the OpenAPI description is built from them)."""

from __future__ import annotations

from typing import Any

from gateway.web import TIME

TEXT_OR_NULL: dict[str, Any] = {"type": ["string", "null"]}
STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}


def extended(base: dict[str, Any], required: str, **properties: Any) -> dict[str, Any]:
    """``base`` with one more required property (e.g. the secret of a key just made)."""
    return {
        **base,
        "required": [*base["required"], required],
        "properties": {**base["properties"], **properties},
    }


KEY: dict[str, Any] = {
    "type": "object",
    "required": ["id", "tenant", "scopes", "operator", "revoked"],
    "properties": {
        "id": {"type": "string"},
        "tenant": {"type": "string"},
        "scopes": STRINGS,
        "operator": {"type": "boolean"},
        "label": TEXT_OR_NULL,
        "created_at": TIME,
        "revoked_at": TIME,
        "revoked": {"type": "boolean"},
    },
}
NEW_KEY: dict[str, Any] = {
    "type": "object",
    "required": ["key", "secret"],
    "properties": {
        "key": KEY,
        "secret": {"type": "string", "description": "The API key; shown this once."},
    },
}
PARTICIPANT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "tenant"],
    "properties": {"id": {"type": "string"}, "tenant": {"type": "string"}, "created_at": TIME},
}
ADDED_PARTICIPANT = extended(
    PARTICIPANT,
    "routed",
    routed={
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "document_id": {"type": "string"},
                "from_status": {"type": "string"},
                "to_status": {"type": "string"},
                "duplicate_of": TEXT_OR_NULL,
            },
        },
    },
)
WEBHOOK: dict[str, Any] = {
    "type": "object",
    "required": ["tenant", "url", "events", "secret_set"],
    "properties": {
        "tenant": {"type": "string"},
        "url": TEXT_OR_NULL,
        "events": {"type": ["array", "null"], "items": {"type": "string"}},
        "secret_set": {"type": "boolean"},
    },
}
WEBHOOK_SET = extended(
    WEBHOOK,
    "secret",
    secret={"type": "string", "description": "The HMAC signing secret; shown this once."},
)
WEBHOOK_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "description": "http(s):// webhook or mailto: address"},
        "secret": {"type": "string", "minLength": 16, "maxLength": 128},
        "events": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
}
WEBHOOK_TEST: dict[str, Any] = {
    "type": "object",
    "required": ["delivered", "status", "error", "event", "url"],
    "properties": {
        "delivered": {"type": "boolean"},
        "status": {"type": ["integer", "null"]},
        "error": TEXT_OR_NULL,
        "duration_ms": {"type": "number"},
        "delivery": {"type": "string"},
        "event": {"type": "string"},
        "url": {"type": "string"},
    },
}
REDELIVERY: dict[str, Any] = {
    "type": "object",
    "required": ["delivery", "redelivers", "tenant", "event", "state"],
    "properties": {
        "delivery": {"type": "integer"},
        "redelivers": {"type": "integer"},
        "tenant": {"type": "string"},
        "document_id": {"type": "string"},
        "event": {"type": "string"},
        "url": {"type": "string"},
        "state": {"type": "string"},
    },
}
TENANT_ROW: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "created_at": TIME,
        "participants": {"type": "integer"},
        "active_keys": {"type": "integer"},
        "webhook_url": TEXT_OR_NULL,
    },
}
TENANT: dict[str, Any] = {
    "type": "object",
    "required": ["name", "participants", "keys", "webhook", "settings"],
    "properties": {
        "name": {"type": "string"},
        "created_at": TIME,
        "participants": STRINGS,
        "keys": {"type": "array", "items": KEY},
        "webhook": WEBHOOK,
        "settings": {"type": "object"},
    },
}
SETTINGS_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status_profile": {
            "type": "object",
            "properties": {"inbound": {"type": "string"}, "outbound": {"type": "string"}},
        },
        "webhook_content": {"type": "boolean"},
        "email_trust": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"sender": {"type": "string"}, "participant": {"type": "string"}},
                "required": ["sender"],
            },
        },
    },
}
