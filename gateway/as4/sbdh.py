"""Peppol Business Message Envelope (SBDH 2.0) wrap/unwrap.

The SBDH is what makes a Peppol message routable and traceable end to end: sender/receiver
participant ids, document type and process, the InstanceIdentifier (our stable id across
retries, used by the receiver for duplicate detection and by MLS for correlation), COUNTRY_C1
for Peppol reporting, and the MLS_TO / MLS_TYPE scopes telling the receiver where and when
to send a Message Level Status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from gateway.as4 import ns
from gateway.documents import ParseLimits, XmlRefused, parse_xml

_S = ns.SBDH


def _t(local: str) -> str:
    return f"{{{_S}}}{local}"


class SbdhError(Exception):
    """The payload is not a usable Peppol SBD (missing header, fields or business document)."""


@dataclass
class Sbdh:
    sender: str  # participant id "scheme:value", e.g. "0088:5798000000001"
    receiver: str
    document_type_id: str  # busdox-docid-qns value
    process_id: str
    instance_id: str
    country_c1: str
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    sender_scheme: str = ns.PARTICIPANT_SCHEME
    receiver_scheme: str = ns.PARTICIPANT_SCHEME
    document_type_scheme: str = ns.DOCTYPE_SCHEME
    process_scheme: str = ns.PROCESS_SCHEME
    #: MLS_TO: participant id (SPIS, "0242:...") of the AP that wants the MLS
    mls_to: str | None = None
    #: MLS_TYPE: "FAILURE_ONLY" (default behaviour when absent) or "ALWAYS_SEND"
    mls_type: str | None = None
    standard: str = ""
    type_version: str = ""
    type: str = ""

    def to_dict(self) -> dict[str, str | None]:
        return {
            "sender": self.sender,
            "receiver": self.receiver,
            "document_type_id": self.document_type_id,
            "process_id": self.process_id,
            "instance_id": self.instance_id,
            "country_c1": self.country_c1,
            "created": self.created.isoformat(),
            "mls_to": self.mls_to,
            "mls_type": self.mls_type,
        }


def _identification(doc_root: etree._Element, document_type_id: str) -> tuple[str, str, str]:
    qname = etree.QName(doc_root)
    version = document_type_id.rsplit("::", 1)[-1] if "::" in document_type_id else "2.1"
    return qname.namespace or "", version, qname.localname


def parse_business_document(document: bytes, limits: ParseLimits | None = None) -> etree._Element:
    """The business document as :func:`wrap` parses it; :class:`SbdhError` if refused."""
    try:
        return parse_xml(document, limits).getroot()
    except XmlRefused as exc:
        raise SbdhError(f"business document is not acceptable XML: {exc.message}") from exc


def wrap(
    document: bytes | etree._Element, header: Sbdh, limits: ParseLimits | None = None
) -> bytes:
    """Put ``document`` (the business document XML, or its root from
    :func:`parse_business_document`, which is moved into the SBD) into a Peppol SBD."""
    if isinstance(document, etree._Element):
        doc_root = document
    else:
        doc_root = parse_business_document(document, limits)
    standard, version, typ = _identification(doc_root, header.document_type_id)
    sbd = etree.Element(_t("StandardBusinessDocument"), nsmap={None: _S})
    h = etree.SubElement(sbd, _t("StandardBusinessDocumentHeader"))
    etree.SubElement(h, _t("HeaderVersion")).text = "1.0"
    for tag, value, scheme in (
        ("Sender", header.sender, header.sender_scheme),
        ("Receiver", header.receiver, header.receiver_scheme),
    ):
        party = etree.SubElement(h, _t(tag))
        etree.SubElement(party, _t("Identifier"), Authority=scheme).text = value
    di = etree.SubElement(h, _t("DocumentIdentification"))
    for tag, value in (
        ("Standard", header.standard or standard),
        ("TypeVersion", header.type_version or version),
        ("InstanceIdentifier", header.instance_id),
        ("Type", header.type or typ),
        (
            "CreationDateAndTime",
            header.created.astimezone(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        ),
    ):
        etree.SubElement(di, _t(tag)).text = value
    bs = etree.SubElement(h, _t("BusinessScope"))
    scopes: list[tuple[str, str, str | None]] = [
        ("DOCUMENTID", header.document_type_id, header.document_type_scheme),
        ("PROCESSID", header.process_id, header.process_scheme),
        ("COUNTRY_C1", header.country_c1, None),
    ]
    if header.mls_to:
        scopes.append(("MLS_TO", header.mls_to, ns.PARTICIPANT_SCHEME))
    if header.mls_type:
        scopes.append(("MLS_TYPE", header.mls_type, None))
    for typ_, value, ident in scopes:
        scope = etree.SubElement(bs, _t("Scope"))
        etree.SubElement(scope, _t("Type")).text = typ_
        etree.SubElement(scope, _t("InstanceIdentifier")).text = value
        if ident:
            etree.SubElement(scope, _t("Identifier")).text = ident
    sbd.append(doc_root)
    return etree.tostring(sbd, xml_declaration=True, encoding="UTF-8")


def _text(el: etree._Element | None, path: str) -> str:
    value = el.findtext(path) if el is not None else None
    if not value or not value.strip():
        raise SbdhError(f"SBDH has no {path.replace('{' + _S + '}', '')}")
    return value.strip()


def read_header(sbd_root: etree._Element) -> Sbdh:
    if sbd_root.tag != _t("StandardBusinessDocument"):
        raise SbdhError("payload is not a StandardBusinessDocument")
    h = sbd_root.find(_t("StandardBusinessDocumentHeader"))
    if h is None:
        raise SbdhError("payload has no StandardBusinessDocumentHeader")
    sender_el = h.find(f"{_t('Sender')}/{_t('Identifier')}")
    receiver_el = h.find(f"{_t('Receiver')}/{_t('Identifier')}")
    if sender_el is None or receiver_el is None or not sender_el.text or not receiver_el.text:
        raise SbdhError("SBDH lacks the sender or receiver identifier")
    scopes: dict[str, tuple[str, str | None]] = {}
    for scope in h.iterfind(f"{_t('BusinessScope')}/{_t('Scope')}"):
        scopes[(scope.findtext(_t("Type")) or "").strip()] = (
            (scope.findtext(_t("InstanceIdentifier")) or "").strip(),
            (scope.findtext(_t("Identifier")) or "").strip() or None,
        )
    for required in ("DOCUMENTID", "PROCESSID", "COUNTRY_C1"):
        if not scopes.get(required, ("", None))[0]:
            raise SbdhError(f"SBDH has no {required} scope")
    di = h.find(_t("DocumentIdentification"))
    created_text = _text(di, _t("CreationDateAndTime"))
    try:
        created = datetime.fromisoformat(created_text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SbdhError("SBDH CreationDateAndTime is not a date-time") from exc
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    mls_to = scopes.get("MLS_TO")
    mls_type = scopes.get("MLS_TYPE")
    return Sbdh(
        sender=sender_el.text.strip(),
        receiver=receiver_el.text.strip(),
        sender_scheme=sender_el.get("Authority", ns.PARTICIPANT_SCHEME),
        receiver_scheme=receiver_el.get("Authority", ns.PARTICIPANT_SCHEME),
        document_type_id=scopes["DOCUMENTID"][0],
        document_type_scheme=scopes["DOCUMENTID"][1] or ns.DOCTYPE_SCHEME,
        process_id=scopes["PROCESSID"][0],
        process_scheme=scopes["PROCESSID"][1] or ns.PROCESS_SCHEME,
        country_c1=scopes["COUNTRY_C1"][0],
        instance_id=_text(di, _t("InstanceIdentifier")),
        created=created,
        mls_to=mls_to[0] if mls_to else None,
        mls_type=mls_type[0] if mls_type else None,
        standard=_text(di, _t("Standard")),
        type_version=_text(di, _t("TypeVersion")),
        type=_text(di, _t("Type")),
    )


def unwrap(sbd: bytes, limits: ParseLimits | None = None) -> tuple[Sbdh, bytes]:
    """Return the header and the business document (serialised on its own)."""
    try:
        root = parse_xml(sbd, limits).getroot()
    except XmlRefused as exc:
        raise SbdhError(f"payload is not acceptable XML: {exc.message}") from exc
    header = read_header(root)
    docs = [
        el
        for el in root
        if isinstance(el.tag, str) and el.tag != _t("StandardBusinessDocumentHeader")
    ]
    if len(docs) != 1:
        raise SbdhError("SBD must carry exactly one business document")
    return header, etree.tostring(docs[0], xml_declaration=True, encoding="UTF-8")
