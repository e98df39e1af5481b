"""kill -9 on receipt (issue 17): a real ``gateway serve`` process receiving AS4 over loopback
from our AS4 sender, SIGKILLed at the crash points of the receipt path and once by timing,
restarted each time, on SQLite and on PostgreSQL.

Crash points (``GATEWAY_CRASH_AT``, :mod:`gateway.channels.crash`):

1. ``as4.in-transaction``: the claim, document, reporting row and owed MLS are written but not
   committed -> nothing of that message may be on record; its resend is stored once;
2. ``as4.committed``: committed, no receipt sent -> the resend gets a receipt, no second
   document, and the owed MLS is queued by the outbox sweep after the restart;
3. ``as4.mls-queued``: the MLS is in the outbound queue, its outbox row not settled -> the sweep
   finds it already queued (idempotency key): one MLS, not two;
4. a kill while five messages arrive at once (whatever moment that is).

Then: every message that got a receipt is stored exactly once, a replay of it gets the same
receipt bytes, every un-receipted one is accepted on its resend and stored once, and the
sending AP receives one MLS per message, each under one ebMS MessageId (a resend of an MLS is
recognisable as such).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.as4 import (
    As4InboundMessage,
    As4MlsOutbox,
    As4Sender,
    As4SendError,
    Identity,
    OutboundMessage,
    PeppolReportRow,
    ReceiptInvalid,
    Sbdh,
    TrustStore,
    build_user_message,
    parse_mls,
    unwrap_sbdh,
    wrap_sbdh,
)
from gateway.config import load_settings
from gateway.outbound import OutboundItem
from gateway.store import Database, Document, repo, upgrade
from tests.as4_integration.as4int_support import (
    BIS_DOCTYPE,
    BIS_PROCESS,
    BUYER,
    SELLER,
    PeerAp,
    free_port,
)
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 10
OUR_SPIS = "0242:000002"  # the sending AP's (POP000002) MLS participant id
STDERR: list[str] = []


def _stderr_tail() -> str:
    return "\n".join(STDERR[-30:])


pytestmark = pytest.mark.slow  # five gateway starts per database


@dataclass
class Sent:
    """One business message of the sending AP (POP000002) to the gateway (POP000001)."""

    index: int
    message_id: str
    sbd: bytes
    header: Sbdh
    #: The first signed copy, kept to replay it byte for byte.
    first: OutboundMessage | None = None
    receipts: list[bytes] = field(default_factory=list)
    #: Whether the first copy got its receipt (then a replay must get exactly that one).
    first_answered: bool = False


class Gateway:
    def __init__(self, config: Path, port: int) -> None:
        self.config, self.url = config, f"http://127.0.0.1:{port}"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, crash_at: str = "") -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "GATEWAY_CRASH_AT": crash_at}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "--config", str(self.config), "serve",
            cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        proc = self.proc

        async def drain() -> None:
            assert proc.stderr is not None
            while line := await proc.stderr.readline():
                STDERR.append(line.decode(errors="replace").rstrip())

        self._drain = asyncio.get_running_loop().create_task(drain())
        import aiohttp

        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                if proc.returncode is not None:
                    raise AssertionError("gateway died at start:\n" + _stderr_tail())
                try:
                    async with http.get(self.url + "/health/live") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError("gateway did not start:\n" + _stderr_tail())

    async def killed(self, timeout: float = 120) -> None:
        """Wait until the process killed itself (a crash point) - it must die by SIGKILL."""
        assert self.proc is not None
        await asyncio.wait_for(self.proc.wait(), timeout)
        assert self.proc.returncode == -signal.SIGKILL, self.proc.returncode
        await self._drain

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.killed()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


def _config(tmp: Path, pem: Path, port: int, database_url: str, peer_url: str) -> Path:
    lines = [
        f'data_dir = "{tmp / "data"}"',
        f'database_url = "{database_url}"',
        "[http]",
        'host = "127.0.0.1"',
        f"port = {port}",
        "[validation]",
        "jobs = 0",
        "[log]",
        'level = "WARNING"',
        "[as4]",
        'party_id = "POP000001"',
        f'key_file = "{pem / "ours.key"}"',
        f'cert_file = "{pem / "ours.crt"}"',
        f'trust_anchors = ["{pem / "root.crt"}"]',
        f'intermediates = ["{pem / "ca.crt"}"]',
        'revocation = "off"',
        'country = "NO"',
        "mls_sweep_interval = 1.0",
        "[outbound]",
        "retry_initial = 0.2",
        "retry_max = 1.0",
        "poll_interval = 0.1",
        'sml = "off"',
        "[reporting]",
        "schedule = false",
        "[[routes]]",
        'participant = "0242:*"',
        f'url = "{peer_url}"',
        'transport = "as4"',
        f'certificate = "{pem / "peer.crt"}"',
    ]
    path = tmp / "gateway.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _messages(invoice: bytes) -> list[Sent]:
    run = uuid.uuid4().hex[:8]
    out = []
    for i in range(MESSAGES):
        header = Sbdh(
            sender=SELLER,
            receiver=BUYER,
            document_type_id=BIS_DOCTYPE,
            process_id=BIS_PROCESS,
            instance_id=f"kill9-{run}-{i}",
            country_c1="GB",
            mls_to=OUR_SPIS,
            mls_type="ALWAYS_SEND",
        )
        document = invoice.replace(b">Snippet1<", f">KILL9-{run}-{i}<".encode(), 1)
        out.append(Sent(i, f"kill9-{run}-{i}@sender", wrap_sbdh(document, header), header))
    return out


class Sender:
    def __init__(self, pem: Path, gateway: Gateway) -> None:
        from cryptography import x509

        identity = Identity.from_files("POP000002", str(pem / "peer.crt"), str(pem / "peer.key"))
        self.cert = x509.load_pem_x509_certificate((pem / "ours.crt").read_bytes())
        self.as4 = As4Sender(identity, TrustStore.from_files([str(pem / "root.crt")]), timeout=90)
        self.url = gateway.url + "/as4"
        #: Why the sends without a receipt had none (for a failing assert's message).
        self.errors: list[str] = []

    def why(self) -> str:
        """The last send errors and the gateway's stderr: what a failed expected receipt needs."""
        return "\n".join(["send errors:", *self.errors[-3:], "gateway stderr:", _stderr_tail()])

    def build(self, sent: Sent) -> OutboundMessage:
        return build_user_message(
            self.as4.identity, self.cert, sent.sbd, message_id=sent.message_id, header=sent.header
        )

    async def send(self, sent: Sent) -> bool:
        """One attempt (a new signed copy, as a sender's retry is); True with a receipt."""
        message = self.build(sent)
        first = sent.first is None
        if first:
            sent.first = message
        try:  # a receipt that does not verify raises ReceiptInvalid, which is a failure here
            receipt = await self.as4.post(self.url, self.cert, message)
        except ReceiptInvalid:
            raise
        except As4SendError as exc:
            self.errors.append(f"{sent.message_id}: {exc!r}")
            return False  # connection dropped by the kill, or 503
        assert receipt.is_receipt and receipt.ref_to_message_id == sent.message_id
        sent.receipts.append(receipt.raw)
        sent.first_answered = sent.first_answered or first
        return True

    async def replay(self, sent: Sent) -> bytes:
        """The first copy again, byte for byte (verified against what that copy signed)."""
        assert sent.first is not None
        receipt = await self.as4.post(self.url, self.cert, sent.first)
        return receipt.raw


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    return "" if request.param == "sqlite" else request.getfixturevalue("pg_database")


async def test_kill9_on_receipt_loses_nothing_and_sends_no_mls_twice(
    tmp_path: Path,
    pem_dir: Path,
    installed_data_dir: Path,
    invoice: bytes,
    peer_ap: PeerAp,
    database_url: str,
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "artefacts").symlink_to((installed_data_dir / "artefacts").resolve())
    peer_ap.served = {OUR_SPIS}
    port = free_port()
    config = _config(tmp_path, pem_dir, port, database_url, peer_ap.url)
    db = Database.from_settings(load_settings(str(config), env={}))
    await upgrade(db.engine)
    async with db.write() as s:
        await repo.add_participant(s, "acme", BUYER)
    gateway, messages = Gateway(config, port), _messages(invoice)
    sender = Sender(pem_dir, gateway)

    async def stored(sent: Sent) -> int:
        async with db.read() as s:
            docs = await s.scalars(select(Document.meta).where(Document.direction == "inbound"))
            return sum(
                (meta or {}).get("as4", {}).get("sbdh", {}).get("instance_id")
                == sent.header.instance_id
                for meta in docs
            )

    try:
        # 1. killed inside the transaction of the third message: nothing of it on record.
        await gateway.start("as4.in-transaction:3")
        assert await sender.send(messages[0]) and await sender.send(messages[1])
        assert not await sender.send(messages[2])
        await gateway.killed()
        assert await stored(messages[2]) == 0
        async with db.read() as s:
            assert await s.get(As4InboundMessage, messages[2].message_id) is None
            assert await s.get(As4MlsOutbox, f"{SELLER}|{messages[2].header.instance_id}") is None

        # 2. killed after the commit of the fourth, before its receipt.
        await gateway.start("as4.committed:2")
        assert await sender.send(messages[2]), sender.why()  # the un-receipted resend
        assert not await sender.send(messages[3])
        await gateway.killed()
        assert await stored(messages[3]) == 1  # stored, though the sender has no receipt

        # 3. killed after the fifth message's MLS was queued, before its outbox row settled.
        await gateway.start("as4.mls-queued:1")
        # the resend: a receipt, no second document
        assert await sender.send(messages[3]), sender.why()
        await sender.send(messages[4])  # the receipt usually leaves before the MLS is queued
        await gateway.killed()

        # 4. killed by timing while five messages arrive at once.
        await gateway.start()

        async def some_stored() -> bool:
            return sum([await stored(m) for m in messages[5:]]) >= 1

        batch = asyncio.gather(*(sender.send(m) for m in messages[5:]))
        await until(some_stored, 120, "the first of five stored", 0.2, detail=_stderr_tail)
        await gateway.kill()
        await batch

        # 5. the last start: every un-receipted message resent until it has its receipt.
        await gateway.start()
        for sent in messages:
            if not sent.receipts:
                assert await sender.send(sent), f"{sent.message_id}\n{sender.why()}"

        async def mls_all_delivered() -> bool:
            async with db.read() as s:
                states = list(await s.scalars(select(As4MlsOutbox.state)))
                items = list(
                    await s.scalars(
                        select(OutboundItem.state).where(OutboundItem.idempotency_key.like("mls:%"))
                    )
                )
            return states == ["queued"] * MESSAGES and items == ["delivered"] * MESSAGES

        await until(
            mls_all_delivered, 120, "every owed MLS queued and delivered", 0.2, detail=_stderr_tail
        )
        replays = [await sender.replay(sent) for sent in messages]
    finally:
        await gateway.stop()
        await sender.as4.aclose()

    # Every message is stored exactly once, with its claim, receipt and reporting row.
    assert [await stored(m) for m in messages] == [1] * MESSAGES
    async with db.read() as s:
        claims = {
            r.message_id: r
            for r in await s.scalars(
                select(As4InboundMessage).where(
                    As4InboundMessage.message_id.in_([m.message_id for m in messages])
                )
            )
        }
        inbound_docs = await s.scalar(
            select(func.count()).select_from(Document).where(Document.direction == "inbound")
        )
        rows = await s.scalar(
            select(func.count())
            .select_from(PeppolReportRow)
            .where(PeppolReportRow.direction == "inbound", PeppolReportRow.kind == "business")
        )
    await db.dispose()
    assert inbound_docs == MESSAGES and rows == MESSAGES
    assert all(claims[m.message_id].state == "done" and claims[m.message_id].document_id
               for m in messages)  # fmt: skip
    # A replay of a message whose first copy got its receipt gets that receipt, byte for byte
    # (the others' replays got a receipt that verifies: Sender.replay checked it).
    answered = [s for s in messages if s.first_answered]
    assert len(answered) >= 3  # messages 0, 1 and at least one more
    assert [replays[s.index] for s in answered] == [s.receipts[0] for s in answered]
    assert not messages[2].first_answered and not messages[3].first_answered
    # One MLS per message reached the sending AP, each under one ebMS MessageId.
    per_instance: dict[str, set[str]] = {}
    for message_id, sbd in peer_ap.received:
        _, document = unwrap_sbdh(sbd)
        per_instance.setdefault(parse_mls(document).referenced_instance_id, set()).add(message_id)
    assert sorted(per_instance) == sorted(m.header.instance_id for m in messages)
    assert all(len(ids) == 1 for ids in per_instance.values()), per_instance
