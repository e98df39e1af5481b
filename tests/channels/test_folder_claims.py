"""Complete-file detection and claims on a real folder (two watchers = two processes' view)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gateway.channels.folder import Watcher, is_temporary


def test_temporary_names_are_never_taken() -> None:
    for name in (".inv.xml", "inv.xml.tmp", "inv.xml.part", "~inv.xml", "inv.XML.PARTIAL"):
        assert is_temporary(name)
    assert not is_temporary("inv.xml")


def test_a_file_is_complete_only_after_it_stopped_changing(tmp_path: Path) -> None:
    w = Watcher(tmp_path, stable_seconds=5.0)
    w.prepare()
    path = tmp_path / "inv.xml"
    path.write_bytes(b"<Invoice>")
    os.utime(path, (time.time() - 60, time.time() - 60))
    (tmp_path / ".inv2.xml").write_bytes(b"<x/>")  # being written under a temporary name
    now = time.time()
    assert w.complete_files(now) == []  # first sight: not yet known to be stable
    assert w.complete_files(now + 1) == []
    assert w.complete_files(now + 6) == ["inv.xml"]
    with path.open("ab") as f:  # the writer appends: the clock starts again
        f.write(b"</Invoice>")
    os.utime(path, (now + 6, now + 6))
    assert w.complete_files(now + 7) == []
    assert w.complete_files(now + 11.5) == []  # stable since now+7: 5 s not yet over
    assert w.complete_files(now + 12.5) == ["inv.xml"]


def test_each_file_is_claimed_once_and_orphans_are_resumed(tmp_path: Path) -> None:
    a, b = Watcher(tmp_path, 0.0), Watcher(tmp_path, 0.0)
    a.prepare()
    (tmp_path / "inv.xml").write_bytes(b"<Invoice/>")
    claim = a.claim("inv.xml")
    assert claim is not None
    assert b.claim("inv.xml") is None  # gone from the folder
    assert b.orphans() == []  # held by a live claim: not an orphan
    assert claim.read() == b"<Invoice/>"
    claim.release()  # what a killed process leaves: the claim, unlocked
    [resumed] = b.orphans()
    assert (resumed.claim_id, resumed.name) == (claim.claim_id, "inv.xml")
    assert a.orphans() == []  # b holds it now
    target = resumed.finish("processed", b'{"status": "received"}')
    assert target == tmp_path / "processed" / "inv.xml"
    assert (
        tmp_path / "processed" / "inv.xml.report.json"
    ).read_bytes() == b'{"status": "received"}'
    assert list((tmp_path / ".processing").iterdir()) == []


def test_a_lock_taken_after_the_winner_finished_is_dropped(tmp_path: Path) -> None:
    """The racing loser may lock the inode after it moved on: it must notice and skip."""
    from gateway.channels.folder.claims import _lock

    w = Watcher(tmp_path, 0.0)
    w.prepare()
    (tmp_path / "inv.xml").write_bytes(b"<Invoice/>")
    fd = os.open(tmp_path / "inv.xml", os.O_RDONLY)  # the loser opened it before the move
    claim = w.claim("inv.xml")
    assert claim is not None
    claim.finish("processed", b"{}")
    os.close(fd)
    assert _lock(tmp_path / "inv.xml") is None  # path gone
    (tmp_path / "inv.xml").write_bytes(b"<Another/>")  # a new file under the same name
    second = w.claim("inv.xml")
    assert second is not None and second.read() == b"<Another/>"
    assert second.finish("processed", b"{}").name == "inv-1.xml"  # never overwrites
