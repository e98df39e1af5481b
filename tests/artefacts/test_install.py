"""The artefact installer: folder, zip and URL sources; all-or-nothing on any problem."""

from __future__ import annotations

import http.server
import shutil
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.artefacts import ArtefactError, install_artefacts, installed_info, load_manifest
from gateway.cli import main
from tests.conftest import ARTEFACTS_SOURCE


def _zip_of(folder: Path, dest: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in folder.rglob("*"):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return dest


@pytest.fixture
def broken_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(ARTEFACTS_SOURCE, copy)
    for p in copy.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return copy


def test_manifest_pins_every_shared_file() -> None:
    """Every file of a shared folder that a bundle draws from is pinned; no file is pinned twice.

    ``../shared/artefacts`` grows (KoSIT configuration, reporting, France, visualization): a
    folder no bundle uses yet is not a runtime artefact, but a bundle never pins half a folder.
    """
    bundles = load_manifest()
    ids = [b.id for b in bundles]
    assert ids[:6] == [
        "ubl-2.1",
        "cii-d16b",
        "en16931-1.3.16",
        "peppol-bis-2026.5",
        "peppol-mls-1.0.1",
        "xrechnung-3.0.2",
    ]
    assert len(set(ids)) == len(ids)
    all_pins = [rel for b in bundles for rel in b.files]
    pinned = set(all_pins)
    assert len(pinned) == len(all_pins), "a file is pinned by two bundles"
    sums = {
        line.split()[1].removeprefix("./")
        for line in (ARTEFACTS_SOURCE / "SHA256SUMS").read_text().splitlines()
    }
    assert pinned <= sums, sorted(pinned - sums)[:5]
    used = {rel.split("/", 1)[0] for rel in pinned}
    unpinned_in_used = {rel for rel in sums - pinned if rel.split("/", 1)[0] in used}
    assert unpinned_in_used == set(), sorted(unpinned_in_used)[:5]
    assert "kosit-xrechnung-scenarios.reference.xml" not in pinned  # reference, not runtime


def test_install_from_folder_and_list(tmp_path: Path) -> None:
    target = tmp_path / "artefacts"
    info = install_artefacts(str(ARTEFACTS_SOURCE), target)
    assert len(info["bundles"]) == len(load_manifest())  # every pinned bundle
    assert (target / "ubl-2.1/xsd/maindoc/UBL-Invoice-2.1.xsd").is_file()
    assert (target / "kosit-xrechnung-config/scenarios.xml").is_file()  # a KoSIT configuration
    listed = installed_info(target, verify=True)
    assert listed and all(b["verified"] for b in listed["bundles"])
    # Tampering after install is detected by list --verify.
    victim = target / "xrechnung-3.0.2/XRechnung-UBL-validation.xslt"
    victim.write_bytes(victim.read_bytes() + b"<!-- x -->")
    listed = installed_info(target, verify=True)
    bad = [b for b in listed["bundles"] if not b["verified"]]
    assert [b["id"] for b in bad] == ["xrechnung-3.0.2"]


@pytest.mark.parametrize("prefix", ["", "release-2026/"])
def test_install_from_zip(tmp_path: Path, prefix: str) -> None:
    archive = _zip_of(ARTEFACTS_SOURCE, tmp_path / "a.zip", prefix)
    info = install_artefacts(str(archive), tmp_path / "artefacts")
    assert sum(len(b["files"]) for b in info["bundles"]) == sum(
        len(b.files) for b in load_manifest()
    )
    assert sum(len(b["files"]) for b in info["bundles"] if b["id"] == "kosit-xrechnung-3.0.2") == 79


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):  # type: ignore[no-untyped-def]
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


def test_install_from_url(tmp_path: Path, http_root: tuple[str, Path]) -> None:
    base, root = http_root
    _zip_of(ARTEFACTS_SOURCE, root / "artefacts.zip")
    info = install_artefacts(f"{base}/artefacts.zip", tmp_path / "artefacts")
    assert info["source"] == f"{base}/artefacts.zip"
    with pytest.raises(ArtefactError, match="cannot download"):
        install_artefacts(f"{base}/missing.zip", tmp_path / "other")


def test_mismatch_installs_nothing_and_keeps_previous(tmp_path: Path, broken_copy: Path) -> None:
    target = tmp_path / "artefacts"
    install_artefacts(str(ARTEFACTS_SOURCE), target)
    before = installed_info(target)
    xslt = broken_copy / "en16931-1.3.16/EN16931-UBL-validation.xslt"
    xslt.write_bytes(xslt.read_bytes().replace(b"BR-01", b"BR-0X", 1))
    (broken_copy / "peppol-mls-1.0.1/peppol-mls-1.0.1.xslt").unlink()
    with pytest.raises(ArtefactError) as err:
        install_artefacts(str(broken_copy), target)
    text = str(err.value)
    assert "sha256 mismatch: en16931-1.3.16/EN16931-UBL-validation.xslt" in text
    assert "missing: peppol-mls-1.0.1/peppol-mls-1.0.1.xslt" in text
    assert installed_info(target) == before  # the previous install is untouched
    assert len(list((tmp_path / "artefacts.d").iterdir())) == 1  # no staging left behind


def test_failed_first_install_leaves_nothing(tmp_path: Path, broken_copy: Path) -> None:
    (broken_copy / "ubl-2.1/xsd/maindoc/UBL-Invoice-2.1.xsd").write_text("tampered")
    with pytest.raises(ArtefactError):
        install_artefacts(str(broken_copy), tmp_path / "artefacts")
    assert installed_info(tmp_path / "artefacts") is None
    assert not (tmp_path / "artefacts").exists()


def test_cli_install_and_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    assert main(["artefacts", "list"]) == 1
    assert main(["artefacts", "install", "--from", str(ARTEFACTS_SOURCE)]) == 0
    capsys.readouterr()
    assert main(["artefacts", "list", "--verify", "--files"]) == 0
    out = capsys.readouterr().out
    assert "xrechnung-3.0.2" in out and "3.0.2" in out and "KoSIT" in out and "verified" in out
    assert "39f9d282867f1a49e7708d9e29a53da89643e1ee56f10cec1ebcf1277595fcbd" in out
    assert main(["artefacts", "install", "--from", str(tmp_path / "nope")]) == 1
