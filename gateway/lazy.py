"""Names a package face exports but imports only when first used.

Why: some faces export a route module's ``setup`` or an optional channel, whose imports reach
the web toolkit (which imports those packages' cores) or load heavy libraries; importing them
with the face would make cycles or slow every command. ``__getattr__ = lazy(__name__, {...})``
in the face imports them on first use instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that takes each name of ``names`` (name ->
    module holding it) from its module when first asked for."""

    def attribute(name: str) -> Any:
        home = names.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home), name)

    return attribute
