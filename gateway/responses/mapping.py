"""The response-code table (``config/invoice-response-mapping.toml``) as typed data.

Peppol's code lists: each response code's text and the canonical status it gives the sales
invoice, and the texts of reason and action codes. Kept apart from the sequencing rules
(:mod:`gateway.responses.rules`: in which order codes may come) and from vocabulary: the names a
tenant sees, and which of its moves send which code with which texts, are its status profile's
(``[[inbound.responses]]``, :mod:`gateway.lifecycle.profile`). An older file's ``[emit]`` /
``[emit_reason]`` tables are still read: they become what profiles without a table send.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.lifecycle import RESPONSE_CODES, ResponseRule
from gateway.resources import data_folder

DEFAULT_FILE = "invoice-response-mapping.toml"
#: Every Peppol T111 response code must be mapped (UNCL4343 subset).
REQUIRED_CODES = RESPONSE_CODES
PARTIAL_REASON = "PPD"


class MappingError(ValueError):
    """The mapping file is missing something; the message names it."""


@dataclass(frozen=True)
class ResponseCode:
    code: str
    name: str
    status: str
    description: str = ""
    partial_status: str | None = None


@dataclass(frozen=True)
class Mapping:
    codes: dict[str, ResponseCode]
    reason_codes: dict[str, str]
    action_codes: dict[str, str]
    #: inbound status -> response code to send
    emit: dict[str, str] = field(default_factory=dict)
    #: response code -> status reason code sent with it
    emit_reason: dict[str, str] = field(default_factory=dict)

    def response_rules(self) -> dict[str, ResponseRule]:
        """The ``[emit]`` table as profile rules (an older mapping file's, see the module)."""
        return {s: ResponseRule(c, self.emit_reason.get(c)) for s, c in self.emit.items()}

    def status_for(self, code: str, partial: bool) -> str:
        entry = self.codes[code]
        if partial and entry.partial_status:
            return entry.partial_status
        return entry.status

    @property
    def statuses(self) -> tuple[str, ...]:
        """Every status an Invoice Response can produce, in code order."""
        out: list[str] = []
        for code in REQUIRED_CODES:
            entry = self.codes[code]
            for status in (entry.status, entry.partial_status):
                if status and status not in out:
                    out.append(status)
        return tuple(out)

    def code_of(self, status: str) -> tuple[str, bool] | None:
        """(response code, partial) that produces ``status``, or None."""
        for entry in self.codes.values():
            if entry.status == status:
                return entry.code, False
            if entry.partial_status == status:
                return entry.code, True
        return None

    def describe(self, list_id: str | None, code: str) -> str | None:
        """Text of a status reason or action code (the list decides which table)."""
        if list_id == "OPStatusAction":
            return self.action_codes.get(code)
        if list_id == "OPStatusReason":
            return self.reason_codes.get(code)
        return self.reason_codes.get(code) or self.action_codes.get(code)


def load_mapping(path: str | Path | None = None) -> Mapping:
    """Load the table from ``path`` (default: the one shipped in ``config/``)."""
    source = Path(path) if path else data_folder("config") / DEFAULT_FILE
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MappingError(f"invoice response mapping not found: {source}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{source} is not valid TOML: {exc}") from exc
    return parse_mapping(raw, str(source))


def parse_mapping(raw: dict[str, Any], where: str = "mapping") -> Mapping:
    table = raw.get("response_codes") or {}
    codes: dict[str, ResponseCode] = {}
    for code in REQUIRED_CODES:
        entry = table.get(code)
        if not isinstance(entry, dict) or not isinstance(entry.get("status"), str):
            raise MappingError(f"{where}: [response_codes.{code}] needs a status")
        codes[code] = ResponseCode(
            code=code,
            name=str(entry.get("name", code)),
            status=entry["status"],
            description=str(entry.get("description", "")),
            partial_status=entry.get("partial_status"),
        )
    unknown = set(table) - set(REQUIRED_CODES)
    if unknown:
        raise MappingError(f"{where}: unknown response codes {', '.join(sorted(unknown))}")
    emit = {str(k): str(v) for k, v in (raw.get("emit") or {}).items()}
    bad = {v for v in emit.values() if v not in codes}
    if bad:
        raise MappingError(f"{where}: [emit] uses unknown codes {', '.join(sorted(bad))}")
    return Mapping(
        codes=codes,
        reason_codes={str(k): str(v) for k, v in (raw.get("reason_codes") or {}).items()},
        action_codes={str(k): str(v) for k, v in (raw.get("action_codes") or {}).items()},
        emit=emit,
        emit_reason={str(k): str(v) for k, v in (raw.get("emit_reason") or {}).items()},
    )
