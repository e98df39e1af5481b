"""Locate the project's data folders (``validation-rules/``, ``schemas/``, ``config/``).

They live at the repository top level (so operators can read and review them) and are copied
into ``gateway/_data`` when a wheel is built; this finds whichever exists.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_folder(name: str) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"data folder {name!r} not found next to the gateway package")
