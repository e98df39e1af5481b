"""A real SMP (aiohttp) serving Peppol SMP 1.x XML signed with a test certificate."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import quote

from aiohttp import web
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import CanonicalizationMethod

from tests.outbound.pki import KeyPair

SMP_NS = "http://busdox.org/serviceMetadata/publishing/1.0/"
ID_NS = "http://busdox.org/transport/identifiers/1.0/"
WSA_NS = "http://www.w3.org/2005/08/addressing"
NSMAP = {"smp": SMP_NS, "id": ID_NS, "wsa": WSA_NS}


def _e(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str):
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


@dataclass
class Published:
    participant: str  # iso6523-actorid-upis::0088:123
    doctype: str  # busdox-docid-qns::...
    process: str  # cenbii-procid-ubl::...
    url: str
    profile: str = "peppol-transport-as4-v2_0"
    ap_cert: KeyPair | None = None


@dataclass
class SmpServer:
    signer: KeyPair
    entries: list[Published] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    tamper: bool = False
    base_url: str = ""

    def service_group(self, participant: str) -> bytes:
        root = etree.Element(f"{{{SMP_NS}}}ServiceGroup", nsmap=NSMAP)
        scheme, value = participant.split("::", 1)
        _e(root, ID_NS, "ParticipantIdentifier", value, scheme=scheme)
        refs = _e(root, SMP_NS, "ServiceMetadataReferenceCollection")
        for entry in self.entries:
            if entry.participant == participant:
                href = (
                    f"{self.base_url}/{quote(participant, safe='')}/services/"
                    f"{quote(entry.doctype, safe='')}"
                )
                _e(refs, SMP_NS, "ServiceMetadataReference", href=href)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def metadata(self, entry: Published) -> bytes:
        root = etree.Element(f"{{{SMP_NS}}}SignedServiceMetadata", nsmap=NSMAP)
        info = _e(_e(root, SMP_NS, "ServiceMetadata"), SMP_NS, "ServiceInformation")
        for tag, ident in (
            ("ParticipantIdentifier", entry.participant),
            ("DocumentIdentifier", entry.doctype),
        ):
            scheme, value = ident.split("::", 1)
            _e(info, ID_NS, tag, value, scheme=scheme)
        proc = _e(_e(info, SMP_NS, "ProcessList"), SMP_NS, "Process")
        scheme, value = entry.process.split("::", 1)
        _e(proc, ID_NS, "ProcessIdentifier", value, scheme=scheme)
        ep = _e(
            _e(proc, SMP_NS, "ServiceEndpointList"),
            SMP_NS,
            "Endpoint",
            transportProfile=entry.profile,
        )
        _e(_e(ep, WSA_NS, "EndpointReference"), WSA_NS, "Address", entry.url)
        _e(ep, SMP_NS, "RequireBusinessLevelSignature", "false")
        if entry.ap_cert is not None:
            der = entry.ap_cert.cert.public_bytes(Encoding.DER)
            _e(ep, SMP_NS, "Certificate", base64.b64encode(der).decode())
        _e(ep, SMP_NS, "ServiceDescription", "test AP")
        _e(ep, SMP_NS, "TechnicalContactUrl", "mailto:ops@example.test")
        signed = XMLSigner(c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0).sign(
            root, key=self.signer.key_pem, cert=[self.signer.cert_pem.decode()]
        )
        if self.tamper:
            addr = signed.find(f".//{{{WSA_NS}}}Address")
            addr.text = "http://127.0.0.1:1/evil"
        return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")

    def app(self) -> web.Application:
        app = web.Application()

        async def handle(request: web.Request) -> web.Response:
            self.requests.append(request.path)
            parts = request.match_info["tail"].split("/services/")
            participant = parts[0]
            if len(parts) == 1:
                if not any(e.participant == participant for e in self.entries):
                    return web.Response(status=404)
                return web.Response(
                    body=self.service_group(participant), content_type="application/xml"
                )
            for entry in self.entries:
                if entry.participant == participant and entry.doctype == parts[1]:
                    return web.Response(body=self.metadata(entry), content_type="application/xml")
            return web.Response(status=404)

        app.router.add_get("/{tail:.+}", handle)
        return app
