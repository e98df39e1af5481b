"""The face of ``gateway.store`` lists real names, and opening the store does not load Alembic.

(That no other package imports the store's modules is ``tests/web/test_toolkit_face.py``'s
check, for every package.)"""

from __future__ import annotations

import subprocess
import sys

import gateway.store as store


def test_face_lists_real_public_names() -> None:
    assert sorted(store.__all__) == sorted(set(store.__all__))
    for name in store.__all__:
        assert not name.startswith("_")
        assert getattr(store, name) is not None, name


def test_names_come_from_the_modules_that_define_them() -> None:
    """The face re-exports; it defines nothing of its own (one definition per name)."""
    from gateway.store import migrate, models, serialize

    assert store.Document is models.Document
    assert store.iso is serialize.iso
    assert store.upgrade is migrate.upgrade
    assert store.repo.__name__ == "gateway.store.repo"


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        store.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("the face invented a name")


def test_importing_the_store_loads_alembic_only_on_first_use() -> None:
    code = (
        "import sys, gateway.store as s\n"
        "print('alembic' in sys.modules)\n"
        "s.upgrade\n"
        "print('alembic' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    assert out == ["False", "True"]
