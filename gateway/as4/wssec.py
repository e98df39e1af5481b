"""WS-Security 1.1.1 primitives on lxml + cryptography: XML-DSig (exc-c14n, RSA-SHA256) with
SwA attachment references, and XML-Enc key transport (RSA-OAEP) for AES-128-GCM attachments.

Only the algorithms of the Peppol AS4 profile are accepted when verifying: a verifier that
follows whatever algorithm the message names is how downgrade attacks work.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

from gateway.as4 import ns


class SignatureError(Exception):
    """Signature missing, malformed, not verifying, or not covering what it must."""


class DecryptionError(Exception):
    """Key transport or content decryption failed."""


def q(namespace: str, local: str) -> str:
    return f"{{{namespace}}}{local}"


def sub(
    parent: etree._Element, namespace: str, local: str, text: str | None = None, **attrib: str
) -> etree._Element:
    el = etree.SubElement(parent, q(namespace, local), attrib)
    if text is not None:
        el.text = text
    return el


def c14n(element: etree._Element, inclusive_prefixes: Iterable[str] = ()) -> bytes:
    return etree.tostring(
        element,
        method="c14n",
        exclusive=True,
        with_comments=False,
        inclusive_ns_prefixes=list(inclusive_prefixes) or None,
    )


def digest_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


@dataclass(frozen=True)
class Ref:
    """One ds:Reference as compared for non-repudiation (URI, transforms, digest)."""

    uri: str
    transforms: tuple[str, ...]
    digest_method: str
    digest_value: str

    @classmethod
    def from_element(cls, ref: etree._Element) -> Ref:
        # One pass over the children (a receipt's, a verified message's references): the
        # path lookups this replaced were a third of a receipt check's Python time.
        transforms: list[str] = []
        method = value = None
        for child in ref.iterchildren(_TRANSFORMS, _DIGEST_METHOD, _DIGEST_VALUE):
            if child.tag == _TRANSFORMS:
                transforms += (t.get("Algorithm", "") for t in child.iterchildren(_TRANSFORM))
            elif child.tag == _DIGEST_METHOD:
                if method is None:  # the first one counts, as with ref.find()
                    method = child.get("Algorithm", "")
            elif value is None:
                value = "".join((child.text or "").split())
        return cls(ref.get("URI", ""), tuple(sorted(transforms)), method or "", value or "")


_TRANSFORMS = q(ns.DS, "Transforms")
_TRANSFORM = q(ns.DS, "Transform")
_DIGEST_METHOD = q(ns.DS, "DigestMethod")
_DIGEST_VALUE = q(ns.DS, "DigestValue")


def index_ids(root: etree._Element) -> dict[str, etree._Element]:
    """Every element by its Id (wsu:Id or plain Id); a duplicate id is refused outright
    because two elements sharing an id is how signature-wrapping attacks hide the signed copy."""
    found: dict[str, etree._Element] = {}
    for el in root.iter(etree.Element):
        for key, value in el.attrib.items():
            # QName(key).localname == "Id", without building a QName per attribute
            if key == "Id" or key.endswith("}Id"):
                if value in found:
                    raise SignatureError(f"duplicate element id {value!r}")
                found[value] = el
    return found


def add_bst(security: etree._Element, cert_der: bytes | str, bst_id: str) -> etree._Element:
    """``cert_der``: the certificate as DER, or already as its base64 text."""
    return sub(
        security,
        ns.WSSE,
        "BinarySecurityToken",
        cert_der if isinstance(cert_der, str) else base64.b64encode(cert_der).decode("ascii"),
        EncodingType=ns.BASE64_BINARY,
        ValueType=ns.X509V3,
        **{ns.WSU_ID: bst_id},
    )


def _reference(signed_info: etree._Element, uri: str, transform: str) -> None:
    ref = sub(signed_info, ns.DS, "Reference", URI=uri)
    transforms = sub(ref, ns.DS, "Transforms")
    sub(transforms, ns.DS, "Transform", Algorithm=transform)
    sub(ref, ns.DS, "DigestMethod", Algorithm=ns.SHA256)
    sub(ref, ns.DS, "DigestValue", "")  # set by seal_signature


def random_id(prefix: str) -> str:
    return f"{prefix}-{os.urandom(8).hex()}"


def signature_layout(
    security: etree._Element,
    bst_id: str,
    references: list[tuple[str, str]],
    ids: tuple[str, str, str] | None = None,
) -> etree._Element:
    """Append an unsealed ds:Signature to ``security``: ``references`` are (URI, transform) in
    order, the digests and the value empty until :func:`seal_signature`; ``ids`` the Ids of the
    Signature, its KeyInfo and its SecurityTokenReference (fresh ones by default). Apart from
    :func:`sign`, a message prototype is laid out this way once (``gateway.as4.prototype``)."""
    sig_id, ki_id, str_id = ids or (random_id("SIG"), random_id("KI"), random_id("STR"))
    sig = sub(security, ns.DS, "Signature", Id=sig_id)
    signed_info = sub(sig, ns.DS, "SignedInfo")
    # No ec:InclusiveNamespaces: lxml drops inclusive prefixes that are not visibly used when
    # canonicalising a tree built in memory, which would make the signature unverifiable.
    sub(signed_info, ns.DS, "CanonicalizationMethod", Algorithm=ns.EXC_C14N)
    sub(signed_info, ns.DS, "SignatureMethod", Algorithm=ns.RSA_SHA256)
    for uri, transform in references:
        _reference(signed_info, uri, transform)
    sub(sig, ns.DS, "SignatureValue", "")
    key_info = sub(sig, ns.DS, "KeyInfo", Id=ki_id)
    str_ = sub(key_info, ns.WSSE, "SecurityTokenReference", **{ns.WSU_ID: str_id})
    sub(str_, ns.WSSE, "Reference", URI="#" + bst_id, ValueType=ns.X509V3)
    return sig


def seal_signature(sig: etree._Element, key: rsa.RSAPrivateKey, digests: list[str]) -> list[Ref]:
    """Put ``digests`` (one per reference, in order) into a laid-out signature, sign its
    SignedInfo and return the references as signed."""
    signed_info = sig[0]
    refs: list[Ref] = []
    for ref, digest in zip(signed_info.iterfind(_REFERENCE), digests, strict=True):
        ref[2].text = digest  # Transforms, DigestMethod, DigestValue
        refs.append(Ref(ref.get("URI", ""), (ref[0][0].get("Algorithm", ""),), ns.SHA256, digest))
    value = key.sign(c14n(signed_info), padding.PKCS1v15(), hashes.SHA256())
    sig[1].text = base64.b64encode(value).decode("ascii")
    return refs


def sign(
    security: etree._Element,
    key: rsa.RSAPrivateKey,
    bst_id: str,
    elements: list[etree._Element],
    attachments: dict[str, bytes] | None = None,
) -> list[Ref]:
    """Append a ds:Signature to ``security`` over ``elements`` (by wsu:Id) and attachments
    (content id -> the attachment content as signed, i.e. compressed but not encrypted)."""
    attachments = attachments or {}
    references = [("#" + el.get(ns.WSU_ID, ""), ns.EXC_C14N) for el in elements]
    references += [("cid:" + cid, ns.SWA_CONTENT_SIGNATURE) for cid in attachments]
    sig = signature_layout(security, bst_id, references)
    digests = [digest_b64(c14n(el)) for el in elements]
    digests += [digest_b64(content) for content in attachments.values()]
    return seal_signature(sig, key, digests)


_REFERENCE = q(ns.DS, "Reference")


@dataclass
class VerifiedSignature:
    signer: x509.Certificate
    references: list[etree._Element]
    #: content id -> expected digest (checked after decryption)
    attachment_digests: dict[str, str]
    covered_ids: set[str]


def find_signature(security: etree._Element) -> tuple[etree._Element, x509.Certificate]:
    """The ds:Signature and the certificate its KeyInfo points at (a BinarySecurityToken)."""
    sig = security.find(q(ns.DS, "Signature"))
    if sig is None:
        raise SignatureError("message is not signed")
    ref = sig.find(f"{{{ns.DS}}}KeyInfo/{{{ns.WSSE}}}SecurityTokenReference/{{{ns.WSSE}}}Reference")
    if ref is None or not ref.get("URI", "").startswith("#"):
        raise SignatureError("signature KeyInfo does not reference a BinarySecurityToken")
    bst_id = ref.get("URI", "")[1:]
    for bst in security.iterfind(q(ns.WSSE, "BinarySecurityToken")):
        if bst.get(ns.WSU_ID) == bst_id:
            if bst.get("ValueType") != ns.X509V3:
                raise SignatureError("unsupported security token type")
            try:
                return sig, x509.load_der_x509_certificate(
                    base64.b64decode("".join((bst.text or "").split()))
                )
            except ValueError as exc:
                raise SignatureError("signing certificate is not readable") from exc
    raise SignatureError(f"no BinarySecurityToken with id {bst_id!r}")


@dataclass(frozen=True)
class SignatureBudget:
    """How much work one signature may ask of us (issue 14: a trusted peer's 4 MB body referenced
    600 times cost 66 s of CPU). A Peppol message signs eb:Messaging, soap:Body and one reference
    per attachment, so ``max_references`` is generous; ``max_c14n_bytes`` bounds the bytes
    canonicalised over all references together (nested references would otherwise multiply)."""

    max_references: int = 32
    max_c14n_bytes: int = 64 * 1024 * 1024


def verify(
    sig: etree._Element,
    signer: x509.Certificate,
    ids: dict[str, etree._Element],
    budget: SignatureBudget = SignatureBudget(),
) -> VerifiedSignature:
    """Verify SignedInfo, then every same-document reference; return attachment digests to check
    later. The cheap checks (reference count, distinct URIs, algorithms, the RSA signature over
    SignedInfo) all run before the first reference is canonicalised."""
    signed_info = sig.find(q(ns.DS, "SignedInfo"))
    if signed_info is None:
        raise SignatureError("ds:SignedInfo missing")
    refs = list(signed_info.iterfind(q(ns.DS, "Reference")))
    if len(refs) > budget.max_references:
        raise SignatureError(
            f"signature has {len(refs)} references; at most {budget.max_references} are accepted"
        )
    uris = [r.get("URI", "") for r in refs]
    if len(set(uris)) != len(uris):
        raise SignatureError("signature references the same URI more than once")
    cm = signed_info.find(q(ns.DS, "CanonicalizationMethod"))
    if cm is None or cm.get("Algorithm") != ns.EXC_C14N:
        raise SignatureError("canonicalization must be exclusive C14N")
    sm = signed_info.find(q(ns.DS, "SignatureMethod"))
    if sm is None or sm.get("Algorithm") != ns.RSA_SHA256:
        raise SignatureError("signature method must be RSA-SHA256")
    prefixes = _inclusive(cm)
    public = signer.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise SignatureError("signing certificate does not hold an RSA key")
    try:
        value = base64.b64decode("".join((sig.findtext(q(ns.DS, "SignatureValue")) or "").split()))
        public.verify(value, c14n(signed_info, prefixes), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as exc:
        raise SignatureError("signature value does not verify") from exc
    attachment_digests: dict[str, str] = {}
    same_document: list[tuple[Ref, etree._Element]] = []
    for ref in refs:
        r = Ref.from_element(ref)
        if r.digest_method != ns.SHA256:
            raise SignatureError(f"unsupported digest method {r.digest_method}")
        if r.uri.startswith("cid:"):
            if r.transforms != (ns.SWA_CONTENT_SIGNATURE,):
                raise SignatureError(
                    f"attachment reference {r.uri} must use the content-signature transform"
                )
            attachment_digests[r.uri[4:]] = r.digest_value
            continue
        if not r.uri.startswith("#") or r.uri[1:] not in ids:
            raise SignatureError(f"signature reference {r.uri!r} does not resolve")
        if r.transforms != (ns.EXC_C14N,):
            raise SignatureError(f"reference {r.uri} must use exclusive C14N only")
        same_document.append((r, ref))
    covered: set[str] = set()
    spent = 0
    for r, ref in same_document:
        transform = ref.find(f"{{{ns.DS}}}Transforms/{{{ns.DS}}}Transform")
        canonical = c14n(ids[r.uri[1:]], _inclusive(transform))
        spent += len(canonical)
        if spent > budget.max_c14n_bytes:
            raise SignatureError(f"signed content exceeds {budget.max_c14n_bytes} canonical bytes")
        if digest_b64(canonical) != r.digest_value:
            raise SignatureError(f"digest mismatch for {r.uri}")
        covered.add(r.uri[1:])
    return VerifiedSignature(signer, refs, attachment_digests, covered)


def _inclusive(el: etree._Element | None) -> list[str]:
    if el is None:
        return []
    inc = el.find(q(ns.EC, "InclusiveNamespaces"))
    return (inc.get("PrefixList") or "").split() if inc is not None else []


# --- encryption ---------------------------------------------------------------------------

_OAEP_SHA256 = padding.OAEP(
    mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
)


def encryption_layout(
    security: etree._Element,
    recipient_bst_id: str,
    content_ids: list[str],
    ids: tuple[str, list[str]] | None = None,
) -> None:
    """Append the xenc:EncryptedKey (its CipherValue empty until :func:`seal_encryption`) and
    one xenc:EncryptedData per attachment to ``security``; ``ids`` the EncryptedKey's Id and
    the EncryptedData Ids (fresh ones by default)."""
    ek_id, ed_ids = ids or (random_id("EK"), [random_id("ED") for _ in content_ids])
    ek = sub(security, ns.XENC, "EncryptedKey", Id=ek_id)
    em = sub(ek, ns.XENC, "EncryptionMethod", Algorithm=ns.RSA_OAEP)
    sub(em, ns.DS, "DigestMethod", Algorithm=ns.SHA256)
    sub(em, ns.XENC11, "MGF", Algorithm=ns.MGF1_SHA256)
    ki = sub(ek, ns.DS, "KeyInfo")
    str_ = sub(ki, ns.WSSE, "SecurityTokenReference")
    sub(str_, ns.WSSE, "Reference", URI="#" + recipient_bst_id, ValueType=ns.X509V3)
    cd = sub(ek, ns.XENC, "CipherData")
    sub(cd, ns.XENC, "CipherValue", "")
    rl = sub(ek, ns.XENC, "ReferenceList")
    for cid, ed_id in zip(content_ids, ed_ids, strict=True):
        sub(rl, ns.XENC, "DataReference", URI="#" + ed_id)
        ed = sub(
            security,
            ns.XENC,
            "EncryptedData",
            Id=ed_id,
            MimeType="application/gzip",
            Type=ns.SWA_CONTENT_ONLY,
        )
        sub(ed, ns.XENC, "EncryptionMethod", Algorithm=ns.AES128_GCM)
        edki = sub(ed, ns.DS, "KeyInfo")
        edstr = sub(
            edki,
            ns.WSSE,
            "SecurityTokenReference",
            **{q(ns.WSSE11, "TokenType"): ns.ENCRYPTED_KEY_TOKEN},
        )
        sub(edstr, ns.WSSE, "Reference", URI="#" + ek_id)
        ecd = sub(ed, ns.XENC, "CipherData")
        cref = sub(ecd, ns.XENC, "CipherReference", URI="cid:" + cid)
        tr = sub(cref, ns.XENC, "Transforms")
        sub(tr, ns.DS, "Transform", Algorithm=ns.SWA_CIPHERTEXT)


def seal_encryption(
    security: etree._Element, recipient: x509.Certificate, attachments: dict[str, bytes]
) -> dict[str, bytes]:
    """Encrypt each attachment with one fresh AES-128-GCM key, transported under RSA-OAEP
    (MGF1-SHA256, SHA-256) into the laid-out EncryptedKey. Returns content id -> ciphertext
    (IV || ciphertext || tag)."""
    public = recipient.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise ValueError("receiver certificate does not hold an RSA key")
    key = AESGCM.generate_key(bit_length=128)
    aes = AESGCM(key)
    cipher_value = security.find(_EK_CIPHER_VALUE)
    assert cipher_value is not None, "no EncryptedKey laid out"
    cipher_value.text = base64.b64encode(public.encrypt(key, _OAEP_SHA256)).decode("ascii")
    out: dict[str, bytes] = {}
    for cid, data in attachments.items():
        iv = os.urandom(12)
        out[cid] = iv + aes.encrypt(iv, data, None)
    return out


def encrypt_attachments(
    security: etree._Element,
    recipient: x509.Certificate,
    recipient_bst_id: str,
    attachments: dict[str, bytes],
) -> dict[str, bytes]:
    """:func:`encryption_layout` and :func:`seal_encryption` in one."""
    encryption_layout(security, recipient_bst_id, list(attachments))
    return seal_encryption(security, recipient, attachments)


_EK_CIPHER_VALUE = f"{{{ns.XENC}}}EncryptedKey/{{{ns.XENC}}}CipherData/{{{ns.XENC}}}CipherValue"


def _oaep_for(method: etree._Element) -> padding.OAEP:
    algorithm = method.get("Algorithm")
    digest = method.find(q(ns.DS, "DigestMethod"))
    digest_uri = digest.get("Algorithm") if digest is not None else ns.SHA1
    hashes_by_uri = {ns.SHA256: hashes.SHA256(), ns.SHA1: hashes.SHA1()}
    if algorithm == ns.RSA_OAEP:
        mgf = method.find(q(ns.XENC11, "MGF"))
        mgf_uri = mgf.get("Algorithm") if mgf is not None else ns.MGF1_SHA1
        mgf_hash = {ns.MGF1_SHA256: hashes.SHA256(), ns.MGF1_SHA1: hashes.SHA1()}.get(mgf_uri or "")
    elif algorithm == ns.RSA_OAEP_MGF1P:
        mgf_hash = hashes.SHA1()
    else:
        raise DecryptionError(f"unsupported key transport {algorithm}")
    digest_hash = hashes_by_uri.get(digest_uri or "")
    if mgf_hash is None or digest_hash is None:
        raise DecryptionError("unsupported OAEP parameters")
    return padding.OAEP(mgf=padding.MGF1(mgf_hash), algorithm=digest_hash, label=None)


def decrypt_attachments(
    security: etree._Element,
    key: rsa.RSAPrivateKey,
    ciphertexts: dict[str, bytes],
) -> dict[str, bytes]:
    """Decrypt every EncryptedData named by the EncryptedKey; returns content id -> plaintext."""
    eks = security.findall(q(ns.XENC, "EncryptedKey"))
    if len(eks) != 1:
        raise DecryptionError("expected exactly one xenc:EncryptedKey")
    ek = eks[0]
    method = ek.find(q(ns.XENC, "EncryptionMethod"))
    if method is None:
        raise DecryptionError("EncryptedKey has no EncryptionMethod")
    try:
        wrapped = base64.b64decode(
            "".join(
                (ek.findtext(f"{{{ns.XENC}}}CipherData/{{{ns.XENC}}}CipherValue") or "").split()
            )
        )
        session_key = key.decrypt(wrapped, _oaep_for(method))
    except ValueError as exc:
        raise DecryptionError("key transport failed") from exc
    if len(session_key) != 16:
        raise DecryptionError("session key is not an AES-128 key")
    aes = AESGCM(session_key)
    by_id = {ed.get("Id"): ed for ed in security.iterfind(q(ns.XENC, "EncryptedData"))}
    out: dict[str, bytes] = {}
    for dr in ek.iterfind(f"{{{ns.XENC}}}ReferenceList/{{{ns.XENC}}}DataReference"):
        ed = by_id.get(dr.get("URI", "").lstrip("#"))
        if ed is None:
            raise DecryptionError("DataReference names no EncryptedData")
        em = ed.find(q(ns.XENC, "EncryptionMethod"))
        if em is None or em.get("Algorithm") != ns.AES128_GCM:
            raise DecryptionError("content encryption must be AES-128-GCM")
        cref = ed.find(f"{{{ns.XENC}}}CipherData/{{{ns.XENC}}}CipherReference")
        uri = cref.get("URI", "") if cref is not None else ""
        if not uri.startswith("cid:") or uri[4:] not in ciphertexts:
            raise DecryptionError(f"EncryptedData references no attachment ({uri!r})")
        blob = ciphertexts[uri[4:]]
        try:
            out[uri[4:]] = aes.decrypt(blob[:12], blob[12:], None)
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("attachment does not decrypt") from exc
    return out
