"""Verification of the SMP's XML signature against the configured SMP CA certificates.

An SMP answer decides where invoices go, so an unsigned or wrongly signed answer is refused.
signxml checks the enveloped XMLDSig (digest + RSA/EC signature); the certificate chain is
checked here with ``cryptography``'s X.509 verifier against *our* trust anchors only (never
the system web-PKI store), with extension policies loose enough for the Peppol SMP PKI. The
caller continues with signxml's ``signed_xml`` so nothing outside the signature is trusted.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)
from lxml import etree
from signxml import XMLVerifier
from signxml.exceptions import InvalidInput, SignXMLException

from gateway.outbound.errors import PermanentError

DS = "http://www.w3.org/2000/09/xmldsig#"


def _require_ca(_policy: object, _cert: x509.Certificate, ext: x509.BasicConstraints) -> None:
    if not ext.ca:
        raise ValueError("issuer is not a CA")


def _require_signing(_policy: object, _cert: x509.Certificate, ext: x509.KeyUsage) -> None:
    if not ext.digital_signature:
        raise ValueError("certificate KeyUsage does not allow digitalSignature")


class SmpTrust:
    """Trust anchors for SMP signatures. ``verify`` returns the signed element, or raises."""

    def __init__(self, anchors: Sequence[x509.Certificate], verify: bool = True) -> None:
        self.anchors = list(anchors)
        self.enabled = verify
        if verify and not self.anchors:
            # Secure by default: without anchors nothing could be verified, so say so early.
            raise ValueError("SMP signature verification needs at least one trust anchor")

    @classmethod
    def from_files(cls, paths: Iterable[str | Path], verify: bool = True) -> SmpTrust:
        certs: list[x509.Certificate] = []
        for path in paths:
            data = Path(path).read_bytes()
            if b"-----BEGIN" in data:
                certs.extend(x509.load_pem_x509_certificates(data))
            else:
                certs.append(x509.load_der_x509_certificate(data))
        return cls(certs, verify=verify)

    def _verify_chain(self, chain: list[x509.Certificate], now: datetime) -> list[x509.Certificate]:
        ee_policy = ExtensionPolicy.permit_all().require_present(
            x509.KeyUsage, Criticality.AGNOSTIC, _require_signing
        )
        ca_policy = ExtensionPolicy.permit_all().require_present(
            x509.BasicConstraints, Criticality.AGNOSTIC, _require_ca
        )
        verifier = (
            PolicyBuilder()
            .store(Store(self.anchors))
            .time(now)
            .extension_policies(ee_policy=ee_policy, ca_policy=ca_policy)
            .build_client_verifier()
        )
        # X509Data carries no order: try each cert as the leaf, the rest as intermediates.
        last: Exception | None = None
        for leaf in chain:
            others = [c for c in chain if c is not leaf]
            try:
                return list(verifier.verify(leaf, others).chain)  # leaf, ..., anchor
            except VerificationError as exc:
                last = exc
        raise PermanentError(
            f"SMP signing certificate is not trusted: {last}", "smp-untrusted-certificate"
        )

    def verify(self, root: etree._Element) -> etree._Element:
        return self.verify_signer(root)[0]

    def verify_signer(self, root: etree._Element) -> tuple[etree._Element, list[x509.Certificate]]:
        """The signed element and the signer's verified chain (leaf first; empty when
        verification is off)."""
        if not self.enabled:
            return root, []
        certs = root.findall(f".//{{{DS}}}Signature/{{{DS}}}KeyInfo//{{{DS}}}X509Certificate")
        if not certs:
            raise PermanentError("SMP answer is not signed", "smp-unsigned")
        try:
            chain = [x509.load_der_x509_certificate(_b64(c.text or "")) for c in certs]
        except ValueError as exc:
            raise PermanentError(
                f"SMP signature certificate unreadable: {exc}", "smp-bad-signature"
            ) from exc
        verified = self._verify_chain(chain, datetime.now(UTC))
        leaf = verified[0]
        try:
            result = XMLVerifier().verify(root, x509_cert=leaf)
        except (SignXMLException, InvalidInput, ValueError) as exc:
            raise PermanentError(f"SMP signature invalid: {exc}", "smp-bad-signature") from exc
        signed = result.signed_xml if not isinstance(result, list) else result[0].signed_xml
        if signed is None:
            raise PermanentError("SMP signature covers nothing", "smp-bad-signature")
        return signed, verified


def _b64(text: str) -> bytes:
    return base64.b64decode("".join(text.split()))
