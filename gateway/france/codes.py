"""France's lifecycle codes (``codes.toml``) as typed data: labels, who emits them, the
canonical sales status each moves, the Peppol Invoice Response equivalent, and emission.

Kept apart from the sequencing rules (:mod:`gateway.france.rules`): the table says what a code
*is*; the rules say which may follow which.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CODES_FILE = Path(__file__).resolve().parent / "codes.toml"
EMITTERS = frozenset({"issuer-platform", "receiver-platform", "buyer", "seller", "platform"})
#: MDT-77: transmission statuses (platforms) and processing statuses (parties).
TYPE_CODES = frozenset({"305", "23"})


class CodesError(ValueError):
    """The codes table is inconsistent; the message names the entry."""


@dataclass(frozen=True)
class Code:
    code: str
    label: str
    by: str
    type_code: str
    status_code: str | None = None
    mandatory: bool = False
    sales: str | None = None
    t111: str | None = None
    reason_required: bool = False
    default_reason: str | None = None
    final: bool = False

    @property
    def name(self) -> str:
        """``205 Approuvée``: how the French profile and the history name it."""
        return f"{self.code} {self.label}"


@dataclass(frozen=True)
class Codes:
    codes: dict[str, Code]
    #: canonical inbound status set by the tenant -> the code sent to the invoice's seller
    emit: dict[str, str]

    def get(self, code: str | None) -> Code | None:
        return self.codes.get(code or "")

    def for_t111(self, t111: str) -> list[Code]:
        """The CDAR codes a Peppol Invoice Response code stands for (first = the one sent)."""
        return [c for c in self.codes.values() if c.t111 == t111]


def parse_codes(raw: dict[str, Any], where: str = "codes") -> Codes:
    codes: dict[str, Code] = {}
    for code, entry in (raw.get("codes") or {}).items():
        try:
            item = Code(code=str(code), **entry)
        except TypeError as exc:
            raise CodesError(f"{where}: [codes.{code}]: {exc}") from exc
        if item.by not in EMITTERS or item.type_code not in TYPE_CODES:
            raise CodesError(f"{where}: [codes.{code}]: unknown emitter or type code")
        codes[item.code] = item
    emit = {str(k): str(v) for k, v in (raw.get("emit") or {}).items()}
    unknown = sorted(set(emit.values()) - set(codes))
    if unknown:
        raise CodesError(f"{where}: [emit] uses unknown codes {', '.join(unknown)}")
    return Codes(codes, emit)


@cache
def load_codes(path: Path = CODES_FILE) -> Codes:
    return parse_codes(tomllib.loads(path.read_text(encoding="utf-8")), str(path))
