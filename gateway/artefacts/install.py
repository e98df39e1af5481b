"""Install artefacts from a folder, a zip, or an http(s) URL of a zip - all or nothing.

Why a symlink swap: the validation engine may be running while an operator installs a new
set. Files are copied and verified into a fresh versioned folder, then ``artefacts`` (a
symlink) is replaced atomically with ``os.replace``. A failed install leaves the old set as
it was; there is never a half-installed state to validate against.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from gateway.artefacts.manifest import Bundle, load_manifest

INFO_FILE = "installed.json"
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024


class ArtefactError(Exception):
    """Install refused; the message lists every missing or mismatching file."""


Reader = Callable[[str], bytes | None]


def _folder_reader(root: Path) -> Reader:
    def read(rel: str) -> bytes | None:
        path = root / rel
        return path.read_bytes() if path.is_file() else None

    return read


@contextmanager
def _zip_reader(path: Path, expected: list[str]) -> Iterator[Reader]:
    with zipfile.ZipFile(path) as zf:
        names = {n for n in zf.namelist() if not n.endswith("/")}
        # The zip may hold the layout at its top or inside one wrapping folder.
        prefix = ""
        probe = expected[0]
        for name in names:
            if name == probe or name.endswith("/" + probe):
                prefix = name[: len(name) - len(probe)]
                break

        def read(rel: str) -> bytes | None:
            name = prefix + rel
            if name not in names:
                return None
            if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
                return None
            return zf.read(name)

        yield read


def _download(url: str, dest: Path) -> None:
    import urllib.request  # here: ~20 ms (ssl, http, email) no validation needs

    request = urllib.request.Request(url, headers={"User-Agent": "einvoice-gateway"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp, dest.open("wb") as out:
            total = 0
            while chunk := resp.read(1 << 16):
                total += len(chunk)
                if total > MAX_DOWNLOAD_BYTES:
                    raise ArtefactError(f"download from {url} exceeds {MAX_DOWNLOAD_BYTES} bytes")
                out.write(chunk)
    except OSError as exc:  # URLError, HTTPError, timeouts
        raise ArtefactError(f"cannot download {url}: {exc}") from exc


@contextmanager
def _open_source(source: str, expected: list[str]) -> Iterator[Reader]:
    if source.startswith(("http://", "https://")):
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "artefacts.zip"
            _download(source, target)
            try:
                with _zip_reader(target, expected) as reader:
                    yield reader
            except zipfile.BadZipFile as exc:
                raise ArtefactError(f"{source} did not return a zip file") from exc
        return
    path = Path(source)
    if path.is_dir():
        yield _folder_reader(path)
    elif path.is_file():
        try:
            with _zip_reader(path, expected) as reader:
                yield reader
        except zipfile.BadZipFile as exc:
            raise ArtefactError(f"{source} is neither a folder nor a zip file") from exc
    else:
        raise ArtefactError(f"artefact source not found: {source}")


def install_artefacts(
    source: str, target: Path, bundles: list[Bundle] | None = None
) -> dict[str, Any]:
    """Verify and install every pinned file from ``source`` into ``target`` (a symlink).

    Returns the installed-info record; raises :class:`ArtefactError` and changes nothing when
    any file is missing or does not match its pinned sha256.
    """
    bundles = bundles if bundles is not None else load_manifest()
    expected = [rel for b in bundles for rel in b.files]
    target = Path(target)
    store = target.parent / (target.name + ".d")
    store.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="install-", dir=store))
    try:
        problems: list[str] = []
        with _open_source(source, expected) as read:
            for bundle in bundles:
                for rel, pinned in bundle.files.items():
                    data = read(rel)
                    if data is None:
                        problems.append(f"missing: {rel}")
                        continue
                    actual = hashlib.sha256(data).hexdigest()
                    if actual != pinned:
                        problems.append(f"sha256 mismatch: {rel} (expected {pinned}, got {actual})")
                        continue
                    dest = staging / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(data)
        if problems:
            raise ArtefactError(
                f"refusing to install from {source}: {len(problems)} problem(s), nothing installed:\n  "
                + "\n  ".join(problems)
            )
        info = {
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "source": source if "://" in source else str(Path(source).resolve()),
            "bundles": [
                {
                    k: getattr(b, k)
                    for k in ("id", "name", "publisher", "version", "kind", "source", "licence")
                }
                | {"files": dict(b.files)}
                for b in bundles
            ],
        }
        (staging / INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
        final = store / f"{time.strftime('%Y%m%dT%H%M%S')}-{staging.name}"
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap(target, final)
    for old in store.iterdir():
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return info


def _swap(target: Path, final: Path) -> None:
    link = target.parent / f".{target.name}.new"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(final.relative_to(target.parent), target_is_directory=True)
    if target.exists() and not target.is_symlink():
        shutil.rmtree(target)  # a plain folder from elsewhere: replace it once
    os.replace(link, target)


def installed_info(target: Path, verify: bool = False) -> dict[str, Any] | None:
    """The record of what is installed (``None`` if nothing); ``verify`` re-hashes every file."""
    info_path = Path(target) / INFO_FILE
    if not info_path.is_file():
        return None
    info = json.loads(info_path.read_text(encoding="utf-8"))
    if verify:
        for bundle in info["bundles"]:
            bad = [
                rel
                for rel, pinned in bundle["files"].items()
                if not (Path(target) / rel).is_file()
                or hashlib.sha256((Path(target) / rel).read_bytes()).hexdigest() != pinned
            ]
            bundle["verified"] = not bad
            bundle["problems"] = bad
    return info
