"""The on-disk cache of prepared stylesheets and their analyses: a hit gives exactly what a
build gives, and a damaged, partial, foreign or outdated entry is never used but rebuilt."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from gateway.validation.speedups import Analyses, base64_values, prepared_stylesheet
from gateway.validation.speedups.cache import MAGIC

STYLESHEET = "xrechnung-3.0.2/XRechnung-UBL-validation.xslt"

MAIN_XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t"
    xmlns="urn:t" elementFormDefault="qualified">
  <xs:include schemaLocation="types.xsd"/>
  <xs:element name="Doc"><xs:complexType><xs:sequence>
    <xs:element name="Blob" type="BlobType"/></xs:sequence></xs:complexType></xs:element>
</xs:schema>"""
TYPES_XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t"
    xmlns="urn:t" elementFormDefault="qualified">
  <xs:simpleType name="BlobType"><xs:restriction base="xs:{base}"/></xs:simpleType>
</xs:schema>"""


@pytest.fixture()
def stylesheet(installed_data_dir: Path, tmp_path: Path) -> Path:
    """A private copy of a published stylesheet (tests change it)."""
    copy = tmp_path / "rules" / "XRechnung-UBL-validation.xslt"
    copy.parent.mkdir()
    shutil.copy(installed_data_dir / "artefacts" / STYLESHEET, copy)
    return copy


def _entries(folder: Path, kind: str) -> list[Path]:
    return sorted(folder.glob(f"{kind}-*.pickle"))


def test_a_hit_gives_what_a_build_gives(stylesheet: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    first = Analyses(folder)
    built, reads = first.prepared(stylesheet), first.reads(stylesheet)
    assert first.events == [
        ("prepared", "built"),
        ("prepared", "stored"),
        ("reads", "built"),
        ("reads", "stored"),
    ]
    second = Analyses(folder)
    assert second.prepared(stylesheet) == built == prepared_stylesheet(stylesheet)
    assert second.reads(stylesheet) == reads
    assert second.events == [("prepared", "hit"), ("reads", "hit")]
    assert built.native, "the stylesheet has native checks: the pickle carries them"
    assert not list(folder.glob(".tmp-*")), "no temporary file is left behind"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b[:-1] + bytes([b[-1] ^ 1]), id="flipped-byte"),
        pytest.param(lambda b: b"", id="empty"),
        pytest.param(lambda b: b"garbage" + b, id="foreign-header"),
        pytest.param(
            lambda b: MAGIC + hashlib.sha256(b"not a pickle").digest() + b"not a pickle",
            id="valid-digest-bad-payload",
        ),
    ],
)
def test_a_damaged_entry_is_rebuilt(stylesheet: Path, tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "cache"
    good = Analyses(folder).prepared(stylesheet)
    [entry] = _entries(folder, "prepared")
    entry.write_bytes(damage(entry.read_bytes()))
    again = Analyses(folder)
    assert again.prepared(stylesheet) == good
    assert again.events == [("prepared", "built"), ("prepared", "stored")]
    third = Analyses(folder)
    assert third.prepared(stylesheet) == good
    assert third.events == [("prepared", "hit")], "the rebuilt entry is whole again"


def test_a_changed_stylesheet_is_never_served_from_the_cache(
    stylesheet: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "cache"
    before = Analyses(folder).prepared(stylesheet)
    text = stylesheet.read_text(encoding="utf-8")
    assert text.count(">BR-DE-1</xsl:attribute>") == 1
    stylesheet.write_text(text.replace(">BR-DE-1<", ">BR-DE-1-CHANGED<"), encoding="utf-8")
    after = Analyses(folder)
    changed = after.prepared(stylesheet)
    assert after.events[0] == ("prepared", "built")
    assert changed != before and ">BR-DE-1-CHANGED<" in changed.text
    assert changed == prepared_stylesheet(stylesheet)
    assert len(_entries(folder, "prepared")) == 2


def test_a_changed_included_schema_document_invalidates_the_base64_facts(tmp_path: Path) -> None:
    schemas, folder = tmp_path / "xsd", tmp_path / "cache"
    schemas.mkdir()
    main = schemas / "main.xsd"
    main.write_text(MAIN_XSD, encoding="utf-8")
    (schemas / "types.xsd").write_text(TYPES_XSD.format(base="base64Binary"), encoding="utf-8")
    first = Analyses(folder).base64(main)
    assert first.names == {"{urn:t}Blob"}
    hit = Analyses(folder)
    assert hit.base64(main) == first and hit.events == [("base64", "hit")]
    # The main document is unchanged: only the recorded source hashes can notice this.
    (schemas / "types.xsd").write_text(TYPES_XSD.format(base="string"), encoding="utf-8")
    base64_values._facts.cache_clear()  # the reader's own in-memory memo of parsed documents
    changed = Analyses(folder)
    assert changed.base64(main).names == frozenset()
    assert changed.events[0] == ("base64", "built")


def test_an_unwritable_folder_only_means_no_cache(stylesheet: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    analyses = Analyses(blocker / "cache")
    assert analyses.prepared(stylesheet) == prepared_stylesheet(stylesheet)
    assert analyses.events == [("prepared", "built")]


def test_memory_only_without_a_folder(stylesheet: Path) -> None:
    analyses = Analyses(None)
    assert analyses.prepared(stylesheet) is analyses.prepared(stylesheet)
    assert analyses.events == [("prepared", "built")]
