"""The prepared stylesheets and their analyses, kept on disk between processes.

Why: a one-shot ``gateway validate FILE`` spent most of its time before the first document
(loaded machine, UBL XRechnung invoice): the exact rewrites of :mod:`.optimize` (1.4 s), the
read analysis of :mod:`.reads` (2.7 s) and the XSD's base64 facts (:mod:`.base64_values`,
0.26 s), all pure functions of the artefact files and of this code, recomputed by every
process and every worker. Saxon's own compile is what remains: SaxonC-HE cannot export a
compiled stylesheet (SEF export and just-in-time compilation both need Saxon-EE; lowering
Saxon's optimisation level made the compile no faster), so what is cached is what the gateway
itself computes - the rewritten XSLT text, the native checks, the reads, the base64 facts.

Safety:
- An entry's file name is the sha256 of its kind, the source file's path and content, and a
  salt of the gateway version, the saxonche, lxml and elementpath versions and the source of
  this package (so a changed rewrite never serves an old answer). The entry records the
  sha256 of every file the result was computed from (an XSD's imports and includes); it is
  used only if all of them still match.
- The file holds a header, the sha256 of the payload and the payload (a pickle of this
  package's own frozen dataclasses). A truncated, corrupt or foreign file fails the check and
  is rebuilt and rewritten; a payload is unpickled only after its digest matched.
- Writes go to a temporary file in the same folder, then ``os.replace``: readers see the old
  entry or the whole new one. Nothing in the cache is needed: an unwritable folder only means
  no cache.
- The folder lives in the data dir, which holds the artefacts and the database: whoever can
  write there can change what is validated anyway.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
import threading
from collections.abc import Callable, Iterable
from importlib.util import find_spec
from pathlib import Path
from typing import Any, TypeVar

from lxml import etree

from gateway.validation.speedups.base64_values import Base64Elements, base64_elements
from gateway.validation.speedups.optimize import Prepared, prepared_stylesheet
from gateway.validation.speedups.reads import Reads, stylesheet_reads

log = logging.getLogger(__name__)
T = TypeVar("T")
MAGIC = b"einvoice-gateway analysis cache 1\n"
_DIGEST = hashlib.sha256().digest_size


def _salt() -> bytes:
    """What every entry depends on besides its files: versions and this package's code."""
    from gateway import __version__

    h = hashlib.sha256(__version__.encode())
    for dist in ("saxonche", "lxml", "elementpath"):
        h.update(f"{dist}={_installed(dist)}".encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        h.update(source.name.encode() + b"\0" + source.read_bytes())
    return h.digest()


def _installed(dist: str) -> str:
    """Which copy of ``dist`` is installed: its distribution folder's name (with the
    version), else the path, size and time of its module file.

    Why not ``importlib.metadata.version``: importing it (email, zipfile, csv ...) was ~20 ms
    of a one-shot ``gateway validate FILE``; ``find_spec`` imports nothing."""
    spec = find_spec(dist)
    if spec is None or spec.origin is None:
        return "?"
    origin = Path(spec.origin)
    site = origin.parent.parent if spec.submodule_search_locations else origin.parent
    found = sorted(p.name for p in site.glob(f"{dist}-*.dist-info"))
    if found:
        return " ".join(found)
    stat = origin.stat()
    return f"{origin} {stat.st_size} {stat.st_mtime_ns}"


def _sha256(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


class Analyses:
    """Prepared stylesheets, their reads and XSD base64 facts: from memory, else from a valid
    entry in ``folder``, else computed (and stored). ``folder=None``: memory only."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self._memory: dict[tuple[str, Path], Any] = {}
        self._lock = threading.Lock()
        self._salt: bytes | None = None
        #: (kind, outcome) counts, outcome "hit" (disk), "built" or "stored" (for tests, logs).
        self.events: list[tuple[str, str]] = []

    def prepared(self, path: Path) -> Prepared:
        """:func:`.optimize.prepared_stylesheet` of the stylesheet at ``path``."""
        return self._get("prepared", path, lambda: (prepared_stylesheet(path), [path]))

    def reads(self, path: Path) -> Reads:
        """What the rewritten stylesheet at ``path`` can read (:mod:`.reads`)."""

        def build() -> tuple[Reads, list[Path]]:
            text = self.prepared(path).text
            return stylesheet_reads(etree.fromstring(text.encode("utf-8"))), [path]

        return self._get("reads", path, build)

    def base64(self, xsd: Path) -> Base64Elements:
        """:func:`.base64_values.base64_elements` of the schema at ``xsd``."""

        def build() -> tuple[Base64Elements, list[Path]]:
            documents: set[Path] = set()
            return base64_elements(xsd, documents), sorted(documents)

        return self._get("base64", xsd, build)

    # -- the mechanics -------------------------------------------------------------------------
    def _get(self, kind: str, path: Path, build: Callable[[], tuple[T, list[Path]]]) -> T:
        path = path.resolve()
        with self._lock:
            if (kind, path) in self._memory:
                return self._memory[(kind, path)]  # type: ignore[no-any-return]
        entry = self._entry(kind, path)
        value = self._load(entry) if entry is not None else None
        if value is not None:
            self.events.append((kind, "hit"))
        else:
            value, sources = build()
            self.events.append((kind, "built"))
            if entry is not None:
                self._store(entry, value, sources)
        with self._lock:
            self._memory[(kind, path)] = value
        return value  # type: ignore[no-any-return]

    def _entry(self, kind: str, path: Path) -> Path | None:
        if self.folder is None:
            return None
        if self._salt is None:
            self._salt = _salt()
        try:
            content = _sha256(path)
        except OSError:
            return None
        key = hashlib.sha256(
            self._salt + kind.encode() + b"\0" + os.fsencode(path) + b"\0" + content
        )
        return self.folder / f"{kind}-{key.hexdigest()}.pickle"

    def _load(self, entry: Path) -> Any:
        """The entry's value, or None if it is missing, damaged or its sources changed."""
        try:
            data = entry.read_bytes()
        except OSError:
            return None
        head, digest = len(MAGIC), len(MAGIC) + _DIGEST
        if data[:head] != MAGIC or hashlib.sha256(data[digest:]).digest() != data[head:digest]:
            log.info("ignoring damaged validation cache entry %s", entry.name)
            return None
        try:
            sources, value = pickle.loads(data[digest:])
            if all(_sha256(Path(source)) == sha for source, sha in sources):
                return value
        except Exception:  # a payload from other code: rebuild it
            log.info("ignoring unreadable validation cache entry %s", entry.name, exc_info=True)
        return None

    def _store(self, entry: Path, value: Any, sources: Iterable[Path]) -> None:
        try:
            payload = pickle.dumps(
                ([(str(s), _sha256(s)) for s in sources], value), pickle.HIGHEST_PROTOCOL
            )
            entry.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-", suffix=".pickle")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(MAGIC + hashlib.sha256(payload).digest() + payload)
                os.replace(tmp, entry)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self.events.append((entry.name.split("-", 1)[0], "stored"))
        except (OSError, pickle.PicklingError) as exc:  # no cache is only slower
            log.info("validation cache not written (%s): %s", entry, exc)


#: The process's analyses (Saxon's runtime and the XSD layers are per process too); the
#: engine points it at its data dir's cache folder with :func:`use_folder`.
ANALYSES = Analyses()


def use_folder(folder: Path | None) -> Analyses:
    """Keep the process's analyses in ``folder`` from now on (entries are content-keyed, so
    any folder gives the same answers); what is in memory stays."""
    ANALYSES.folder = folder
    return ANALYSES
