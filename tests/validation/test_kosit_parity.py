"""Our XRechnung scenarios carry exactly the overrides of KoSIT's configuration."""

from __future__ import annotations

from lxml import etree

from gateway.validation import load_scenarios
from tests.conftest import ARTEFACTS_SOURCE

NS = {"s": "http://www.xoev.de/de/validator/framework/1/scenarios"}
IDS = {
    "@xrechnung.spec.id@": "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
    "@xrechnung.extension.id@": "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
    "#conformant#urn:xeinkauf.de:kosit:extension:xrechnung_3.0",
    "@xrechnung.cvd.id@": "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
    "#compliant#urn:xeinkauf.de:kosit:xrechnung:cvd_0.9",
    "'urn:cen.eu:en16931:2017'": "urn:cen.eu:en16931:2017",
}
ROOTS = {
    "invoice:Invoice": "Invoice",
    "creditnote:CreditNote": "CreditNote",
    "rsm:CrossIndustryInvoice": "CrossIndustryInvoice",
}


def test_every_kosit_scenario_has_an_equal_twin() -> None:
    ours = load_scenarios()
    ref = etree.parse(str(ARTEFACTS_SOURCE / "kosit-xrechnung-scenarios.reference.xml"))
    checked = 0
    for sc in ref.findall("s:scenario", NS):
        match = sc.findtext("s:match", namespaces=NS)
        root = next(local for key, local in ROOTS.items() if key in match)
        cid = next(value for key, value in IDS.items() if key in match)
        levels = {
            c.text.strip(): c.get("level") for c in sc.findall("s:createReport/s:customLevel", NS)
        }
        # Scenarios restricted to a ProfileID (France's BT-23 process types) refine a KoSIT
        # scenario for some documents, and container scenarios (Factur-X: the XML inside a
        # PDF) are never chosen for plain XML; the twin is the one that applies to all others.
        twins = [
            s
            for s in ours
            if s.root.endswith("}" + root)
            and cid in s.customization_id
            and not s.profile_id
            and s.container is None
        ]
        assert len(twins) == 1, (root, cid)
        assert twins[0].severity == levels, twins[0].id
        xslts = [
            r.findtext("s:resource/s:location", namespaces=NS).rsplit("/", 1)[1]
            for r in sc.findall("s:validateWithSchematron", NS)
        ]
        assert [
            layer.file.rsplit("/", 1)[1].replace(".xslt", ".xsl") for layer in twins[0].schematron
        ] == xslts
        checked += 1
    assert checked == 11


def test_required_scenario_ids_present() -> None:
    ids = {s.id for s in load_scenarios()}
    assert {
        "peppol-bis3-invoice",
        "peppol-bis3-creditnote",
        "xrechnung-3.0-ubl-invoice",
        "xrechnung-3.0-ubl-creditnote",
        "xrechnung-3.0-cii",
        "xrechnung-3.0-extension-ubl-invoice",
        "xrechnung-3.0-cvd-ubl-invoice",
        "en16931-ubl-invoice",
        "en16931-ubl-creditnote",
        "en16931-cii",
        "peppol-invoice-response-3",
        "peppol-mls-1.0",
        "peppol-mlr-3",
    } <= ids
