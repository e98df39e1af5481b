"""The watched-folder channel: what ERPs without an API use.

Per ``[[folders]]`` entry, files dropped into ``path`` go through the intake (inbound) or the
outbound queue (outbound) and then move to ``processed/`` or ``failed/`` with
``<name>.report.json`` beside them (document id, status, the validation report or the refusal).
Claims and complete-file detection: :mod:`.claims`.

Restarts: a claim whose process died is resumed by the next scan. If the document was stored
before the crash (the claim id is in its metadata; outbound: the claim id is the submission's
idempotency key), it is not stored again: the file is only moved on, with the stored result.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import undefer

from gateway.config import FolderSettings
from gateway.inbound import IntakeResult, Submission
from gateway.store import Database, Document
from gateway.wake import woken

from .claims import FAILED, PROCESSED, Claim, Watcher

log = logging.getLogger("gateway.channels.folder")
CHANNEL = "folder"


class Intake(Protocol):
    async def submit(self, sub: Submission) -> IntakeResult: ...


class FolderChannel:
    def __init__(
        self, cfg: FolderSettings, db: Database, intake: Intake | None, outbound: Any = None
    ) -> None:
        if cfg.direction not in ("inbound", "outbound"):
            from gateway.config import ConfigError

            raise ConfigError(
                f"folders: direction must be inbound or outbound, not {cfg.direction!r}"
            )
        self.cfg = cfg
        self.name = f"folder:{cfg.path}"
        self.db = db
        self.intake = intake
        self.outbound = outbound
        self.watcher = Watcher(Path(cfg.path), cfg.stable_seconds)
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.processed = 0
        self.last_error: str | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self.watcher.prepare)
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)
        log.info("folder channel watching %s", self.cfg.path, extra={"tenant": self.cfg.tenant})

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def health(self) -> str:
        if self._task is None or self._task.done():
            return "stopped"
        return f"error: {self.last_error}" if self.last_error else "ok"

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.scan_once()
                self.last_error = None
            except Exception as exc:  # keep watching; the folder may come back
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("folder channel scan failed", extra={"path": self.cfg.path})
            await woken(self._stop, self.cfg.poll_interval)

    # --- one scan ---------------------------------------------------------------------------

    async def scan_once(self) -> int:
        """Resume orphaned claims, then take every complete file; returns how many were done."""
        claims = await asyncio.to_thread(self.watcher.orphans)
        names = await asyncio.to_thread(self.watcher.complete_files, time.time())
        gate = asyncio.Semaphore(max(1, self.cfg.concurrency))

        async def one(claim: Claim | None, name: str | None) -> bool:
            async with gate:
                if self._stop.is_set():
                    if claim is not None:
                        claim.release()
                    return False
                if claim is None and name is not None:
                    claim = await asyncio.to_thread(self.watcher.claim, name)
                if claim is None:
                    return False  # another process took it
                return await self._process(claim)

        jobs = [one(c, None) for c in claims] + [one(None, n) for n in names]
        done = sum(await asyncio.gather(*jobs))
        self.processed += done
        return done

    async def _process(self, claim: Claim) -> bool:
        try:
            raw = await asyncio.to_thread(claim.read)
            if self.cfg.direction == "inbound":
                outcome, report = await self._inbound(claim, raw)
            else:
                outcome, report = await self._outbound(claim, raw)
            body = json.dumps({"file": claim.name, **report}, indent=2, default=str).encode()
            await asyncio.to_thread(claim.finish, outcome, body)
            return True
        except Exception:
            # Nothing is lost: the claim stays in .processing/ and the next scan resumes it.
            log.exception("folder: %s not processed; will retry", claim.name)
            claim.release()
            return False

    async def _inbound(self, claim: Claim, raw: bytes) -> tuple[str, dict[str, Any]]:
        assert self.intake is not None
        stored = await self._stored(claim, raw)
        if stored is None:
            meta = {"folder": {"path": self.cfg.path, "file": claim.name, "claim": claim.claim_id}}
            result = await self.intake.submit(
                Submission(raw, CHANNEL, self.cfg.tenant, metadata=meta)
            )
            doc_id, status, dup = result.document_id, result.status, result.duplicate_of
            validation = result.report.to_dict()
        else:
            doc_id, status, dup, validation = stored
        outcome = FAILED if status == "invalid" else PROCESSED
        return outcome, {
            "document_id": doc_id,
            "status": status,
            "duplicate_of": dup,
            "validation": validation,
        }

    async def _stored(self, claim: Claim, raw: bytes) -> tuple[str, str, str | None, Any] | None:
        """The document a crashed run of this claim already stored, if any."""
        from gateway.store import repo

        async with self.db.read() as s:
            rows = await s.scalars(
                select(Document)
                .options(undefer(Document.report))  # deferred: a lazy load here cannot await
                .where(
                    Document.tenant == self.cfg.tenant,
                    Document.channel == CHANNEL,
                    Document.sha256 == repo.sha256_hex(raw),
                )
            )
            for doc in rows:
                if ((doc.meta or {}).get("folder") or {}).get("claim") == claim.claim_id:
                    return doc.id, doc.status, doc.duplicate_of, doc.report
        return None

    async def _outbound(self, claim: Claim, raw: bytes) -> tuple[str, dict[str, Any]]:
        from gateway.outbound import DuplicateOutbound, SubmissionRefused

        try:
            result = await self.outbound.submit(
                self.cfg.tenant,
                raw,
                receiver=self.cfg.receiver or None,
                idempotency_key=f"folder:{claim.claim_id}",
                actor=f"folder:{self.cfg.path}",
                channel=CHANNEL,
            )
        except SubmissionRefused as exc:
            report = exc.report.to_dict() if exc.report is not None else None
            return FAILED, {"code": exc.code, "detail": exc.detail, "validation": report}
        except DuplicateOutbound as exc:  # the same invoice again: sent once, not twice
            detail = str(exc)
            return FAILED, {
                "code": "duplicate-outbound",
                "detail": detail,
                "original_id": exc.original_id,
            }
        item = result.item
        return PROCESSED, {
            "document_id": item.document_id,
            "status": item.state,
            "message_id": item.message_id,
            "receiver": item.receiver,
        }
