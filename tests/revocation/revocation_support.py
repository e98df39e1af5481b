"""A real OCSP responder and CRL server on loopback, built with ``cryptography``, and a test PKI
whose certificates point at it (AIA OCSP and CRL distribution points).

Kept out of ``conftest.py`` so test modules import it by name (as the AS4 tests do).
"""

from __future__ import annotations

import socket
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clock:
    """One clock for the checker and the responder, so cache expiry can be tested exactly."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey


_KEYS: dict[str, rsa.RSAPrivateKey] = {}


def _key(label: str) -> rsa.RSAPrivateKey:
    if label not in _KEYS:
        _KEYS[label] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEYS[label]


def issue(
    cn: str,
    issuer: Issued | None,
    *,
    ca: bool,
    ocsp_url: str | None = None,
    crl_url: str | None = None,
    key_label: str | None = None,
) -> Issued:
    key = _key(key_label or cn)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Peppol"),
        ]
    )
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=not ca,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if ocsp_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
                    )
                ]
            ),
            critical=False,
        )
    if crl_url:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(crl_url)], None, None, None
                    )
                ]
            ),
            critical=False,
        )
    return Issued(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


@dataclass
class RevocationPki:
    root: Issued
    ca: Issued
    good: Issued  # POP000002, known to OCSP and CRL
    revoked: Issued  # POP000002 with another key, revoked (keyCompromise)
    unknown: Issued  # POP000002 unknown to OCSP; the CRL does not list it
    unreachable: Issued  # POP000002 whose OCSP and CRL URLs point at a closed port
    receiver_revoked: Issued  # POP000001 as a receiving AP, revoked
    base_url: str


def make_revocation_pki(port: int) -> RevocationPki:
    base = f"http://127.0.0.1:{port}"
    dead = f"http://127.0.0.1:{free_port()}"
    root = issue("Revocation Test Root", None, ca=True)
    ca = issue("Revocation Test AP CA", root, ca=True)

    def leaf(cn: str, label: str, url: str = base) -> Issued:
        return issue(
            cn, ca, ca=False, ocsp_url=f"{url}/ocsp", crl_url=f"{url}/crl", key_label=label
        )

    return RevocationPki(
        root=root,
        ca=ca,
        good=leaf("POP000002", "rv-good"),
        revoked=leaf("POP000002", "rv-revoked"),
        unknown=leaf("POP000002", "rv-unknown"),
        unreachable=leaf("POP000002", "rv-unreachable", dead),
        receiver_revoked=leaf("POP000001", "rv-receiver"),
        base_url=base,
    )


@dataclass
class Responder:
    """OCSP (``POST /ocsp``) and CRL (``GET /crl``) for the test CA, signed with its key."""

    pki: RevocationPki
    clock: Clock
    revoked: set[int] = field(default_factory=set)
    ocsp_unknown: set[int] = field(default_factory=set)
    ocsp_down: bool = False
    crl_down: bool = False
    #: signs with a key that is not the issuer's (a forged answer)
    forge: bool = False
    freshness: timedelta = timedelta(hours=1)
    hits: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        p = self.pki
        self.certs = {
            c.cert.serial_number: c.cert
            for c in (p.good, p.revoked, p.unknown, p.unreachable, p.receiver_revoked)
        }

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/ocsp", self.ocsp)
        app.router.add_get("/crl", self.crl)
        return app

    def _signer(self) -> rsa.RSAPrivateKey:
        return _key("rv-forger") if self.forge else self.pki.ca.key

    async def ocsp(self, request: web.Request) -> web.Response:
        self.hits["ocsp"] += 1
        if self.ocsp_down:
            return web.Response(status=503, text="responder down")
        req = ocsp.load_der_ocsp_request(await request.read())
        cert = self.certs.get(req.serial_number)
        now = self.clock()
        if cert is None or req.serial_number in self.ocsp_unknown:
            status, when, reason = ocsp.OCSPCertStatus.UNKNOWN, None, None
            cert = cert or self.pki.good.cert  # the builder needs a certificate; serial differs
        elif req.serial_number in self.revoked:
            status, when, reason = (
                ocsp.OCSPCertStatus.REVOKED,
                now - timedelta(days=1),
                x509.ReasonFlags.key_compromise,
            )
        else:
            status, when, reason = ocsp.OCSPCertStatus.GOOD, None, None
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=cert,
                issuer=self.pki.ca.cert,
                algorithm=hashes.SHA1(),
                cert_status=status,
                this_update=now,
                next_update=now + self.freshness,
                revocation_time=when,
                revocation_reason=reason,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.pki.ca.cert)
        )
        der = builder.sign(self._signer(), hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        return web.Response(body=der, content_type="application/ocsp-response")

    async def crl(self, request: web.Request) -> web.Response:
        self.hits["crl"] += 1
        if self.crl_down:
            return web.Response(status=503, text="CRL server down")
        now = self.clock()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.pki.ca.cert.subject)
            .last_update(now)
            .next_update(now + self.freshness)
        )
        for serial in sorted(self.revoked):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(now - timedelta(days=1))
                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
                .build()
            )
        der = builder.sign(self._signer(), hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        return web.Response(body=der, content_type="application/pkix-crl")
