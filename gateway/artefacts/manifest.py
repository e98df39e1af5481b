"""The pinned artefact manifests, read from ``schemas/``, ``validation-rules/`` and ``rendering/``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field

from gateway.resources import data_folder

MANIFESTS = (
    ("schemas", "manifest.toml"),
    ("validation-rules", "manifest.toml"),
    ("rendering", "manifest.toml"),
)


@dataclass(frozen=True)
class Bundle:
    id: str
    name: str
    publisher: str
    version: str
    kind: str
    source: str
    licence: str
    #: relative path (as laid out in the source folder) -> pinned sha256
    files: dict[str, str] = field(default_factory=dict)


def load_manifest() -> list[Bundle]:
    bundles: list[Bundle] = []
    for folder, name in MANIFESTS:
        raw = tomllib.loads((data_folder(folder) / name).read_text(encoding="utf-8"))
        bundles += [Bundle(**b) for b in raw.get("bundle", [])]
    return bundles
