"""Taking files out of a watched folder exactly once: complete-file detection and claims.

A file is *complete* when its name is not a temporary one (``.name``, ``*.tmp``, ``*.part``,
``*.partial``, ``~*``: the write-then-rename convention) and its size and modification time
have not changed for ``stable_seconds``.

A file is *claimed* by opening it, taking an exclusive ``flock`` without waiting, and renaming
it into ``.processing/<claim>--<name>`` while the lock is held (the lock belongs to the inode,
so it moves along). Why this makes each file taken once, by one of several processes:

* two processes racing for one file: only one gets the lock; the other skips it;
* a process that got the lock after the winner finished (and moved the file on) finds the
  path no longer names the inode it locked, and skips it;
* a process killed at any point (even ``kill -9``) loses its locks with its file descriptors,
  so its claims in ``.processing/`` become lockable again and are resumed by whoever scans
  next (the claim id tells the resuming process whether the document was already stored).

``flock`` needs a local file system (NFS locking is not reliable).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

PROCESSING = ".processing"
PROCESSED = "processed"
FAILED = "failed"
REPORT_SUFFIX = ".report.json"
_TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp")


def is_temporary(name: str) -> bool:
    return name.startswith((".", "~")) or name.lower().endswith(_TEMP_SUFFIXES)


@dataclass
class Claim:
    """A file this process holds: read ``data``, then :meth:`finish` or :meth:`release`."""

    folder: Path
    path: Path  # .processing/<claim>--<name>
    claim_id: str
    name: str
    fd: int

    def read(self) -> bytes:
        with os.fdopen(os.dup(self.fd), "rb") as f:
            f.seek(0)
            return f.read()

    def finish(self, outcome: str, report: bytes) -> Path:
        """Move the file to ``processed/`` or ``failed/`` with its report beside, then unlock.

        The report is written first (under a temporary name, then renamed), so a file in
        ``processed/``/``failed/`` always has its report.
        """
        target_dir = self.folder / (PROCESSED if outcome == PROCESSED else FAILED)
        target_dir.mkdir(exist_ok=True)
        target = _free_name(target_dir, self.name)
        tmp = target_dir / f".{target.name}{REPORT_SUFFIX}.tmp"
        tmp.write_bytes(report)
        os.replace(tmp, target_dir / (target.name + REPORT_SUFFIX))
        os.rename(self.path, target)
        self.release()
        return target

    def release(self) -> None:
        """Unlock (the file stays in ``.processing/`` and is resumed by the next scan)."""
        if self.fd >= 0:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = -1


def _free_name(directory: Path, name: str) -> Path:
    target = directory / name
    n = 1
    while target.exists() or (directory / (target.name + REPORT_SUFFIX)).exists():
        stem, dot, suffix = name.partition(".")
        target = directory / f"{stem}-{n}{dot}{suffix}"
        n += 1
    return target


def _lock(path: Path) -> int | None:
    """An fd holding an exclusive lock on the file at ``path``, or None (gone or taken)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # Still the file we opened? (It may have been claimed and moved since.)
        if os.stat(path, follow_symlinks=False).st_ino != os.fstat(fd).st_ino:
            raise OSError("moved")
    except OSError:
        os.close(fd)
        return None
    return fd


class Watcher:
    """Complete-file detection and claims for one folder (one per process and folder)."""

    def __init__(self, folder: Path, stable_seconds: float) -> None:
        self.folder = folder
        self.processing = folder / PROCESSING
        self.stable_seconds = stable_seconds
        self._seen: dict[str, tuple[int, int, float]] = {}  # name -> (size, mtime_ns, since)

    def prepare(self) -> None:
        for sub in (self.processing, self.folder / PROCESSED, self.folder / FAILED):
            sub.mkdir(parents=True, exist_ok=True)

    def complete_files(self, now: float) -> list[str]:
        """Names in the folder that are complete now (stable long enough), oldest first."""
        ready: list[tuple[int, str]] = []
        present: set[str] = set()
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if is_temporary(entry.name) or not entry.is_file(follow_symlinks=False):
                    continue
                present.add(entry.name)
                st = entry.stat(follow_symlinks=False)
                key = (st.st_size, st.st_mtime_ns)
                seen = self._seen.get(entry.name)
                if seen is None or seen[:2] != key:
                    self._seen[entry.name] = (*key, now)
                    continue
                age_since_write = now - st.st_mtime_ns / 1e9
                if now - seen[2] >= self.stable_seconds and age_since_write >= self.stable_seconds:
                    ready.append((st.st_mtime_ns, entry.name))
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return [name for _, name in sorted(ready)]

    def claim(self, name: str) -> Claim | None:
        fd = _lock(self.folder / name)
        if fd is None:
            return None
        claim_id = uuid.uuid4().hex[:16]
        target = self.processing / f"{claim_id}--{name}"
        try:
            os.rename(self.folder / name, target)
        except OSError:
            os.close(fd)
            return None
        self._seen.pop(name, None)
        return Claim(self.folder, target, claim_id, name, fd)

    def orphans(self) -> list[Claim]:
        """Claims in ``.processing/`` whose process is gone (their lock is free): resume them."""
        out: list[Claim] = []
        with os.scandir(self.processing) as entries:
            names = sorted(e.name for e in entries if "--" in e.name and not e.name.startswith("."))
        for entry_name in names:
            fd = _lock(self.processing / entry_name)
            if fd is None:
                continue
            claim_id, name = entry_name.split("--", 1)
            out.append(Claim(self.folder, self.processing / entry_name, claim_id, name, fd))
        return out
