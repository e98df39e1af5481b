"""The ``as4`` transport's stable identity: on a first attempt the document is parsed once for
COUNTRY_C1, the reporting row's C4 and the SBD (it was parsed three times); a retry reads the
stored SBD and gets the same countries."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import gateway.outbound.transports.as4 as transport_module
from gateway.as4 import countries, unwrap_sbdh
from gateway.config import load_settings
from gateway.outbound.messages import OutboundMessage
from gateway.outbound.transports.as4 import As4Transport
from gateway.store import Database, repo, upgrade
from tests.factories import make_document

DOCTYPE = (
    "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##"
    "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
PROCESS = "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database.from_settings(load_settings(env={}, overrides={"data_dir": str(tmp_path)}))
    await upgrade(database.engine)
    yield database
    await database.dispose()


async def _item(db: Database, raw: bytes) -> OutboundMessage:
    doc = make_document(raw, direction="outbound", channel="api", tenant="t", status="queued")
    async with db.write() as s:
        await repo.ensure_tenant(s, "t")
        s.add(doc)
    return OutboundMessage(
        doc.id, "m-1@test", raw, "0088:5798000000001", "0088:7300010000001", DOCTYPE, PROCESS
    )


async def test_a_first_attempt_parses_the_document_once(db, corpus_dir, monkeypatch):
    raw = (corpus_dir / "peppol-bis-examples" / "base-example.xml").read_bytes()
    expected = countries(raw)  # from the bytes, as the transport read them before
    assert expected == ("GB", "SE")
    parsed: list[int] = []
    real = transport_module.parse_xml

    def counting(data, limits=None):
        parsed.append(len(data))
        return real(data, limits)

    # Every module on the path that parses (by name: tests take gateway.as4 from its face).
    for module in ("gateway.as4.sbdh", "gateway.as4.reporting", transport_module.__name__):
        monkeypatch.setattr(f"{module}.parse_xml", counting)
    sender = SimpleNamespace(identity=SimpleNamespace(party_id="POP000001"))
    transport = As4Transport(sender, db, country="SE")  # type: ignore[arg-type]
    item = await _item(db, raw)

    first = await transport._identity(item)
    assert parsed == [len(raw)]
    assert first.countries == expected and first.header.country_c1 == "GB"
    header, document = unwrap_sbdh(first.sbd)
    assert header.instance_id == first.header.instance_id
    assert b"Snippet1" in document

    parsed.clear()
    again = await transport._identity(item)  # a retry: the stored SBD, the same countries
    assert (again.sbd, again.message_id, again.countries) == (
        first.sbd,
        "m-1@test",
        first.countries,
    )
    assert again.header.instance_id == first.header.instance_id
