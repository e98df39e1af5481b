"""Test PKI built with ``cryptography``: a root CA, an AP intermediate CA, AP leaf certificates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey


@lru_cache(maxsize=32)
def _key(label: str) -> rsa.RSAPrivateKey:
    # Cached per label: RSA key generation dominates test time otherwise.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Peppol"),
        ]
    )


def issue(
    cn: str,
    issuer: Issued | None,
    *,
    ca: bool,
    days: int = 365,
    not_before_days: int = -1,
    key_label: str | None = None,
) -> Issued:
    key = _key(key_label or cn)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=not_before_days))
        .not_valid_after(now + timedelta(days=days))
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
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Issued(cert, key)


# File names of the PEM export, and the Pki field each one holds where they differ.
PEM_NAMES = ("root", "ca", "ours", "peer", "rogue")
PEM_FIELDS = {"ca": "ap_ca"}


@dataclass(frozen=True)
class Pki:
    root: Issued
    ap_ca: Issued
    ours: Issued  # POP000001
    peer: Issued  # POP000002
    rogue_root: Issued
    rogue: Issued  # claims POP000002 but chains to the rogue root

    def write_pem(self, directory: Path, names: tuple[str, ...] = PEM_NAMES) -> None:
        """Write ``NAME.crt`` and ``NAME.key`` (PKCS#8) per party, the files an operator
        configures under ``[as4]``."""
        pem = serialization.Encoding.PEM
        for name in names:
            issued: Issued = getattr(self, PEM_FIELDS.get(name, name))
            (directory / f"{name}.crt").write_bytes(issued.cert.public_bytes(pem))
            (directory / f"{name}.key").write_bytes(
                issued.key.private_bytes(
                    pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )


def make_pki() -> Pki:
    root = issue("Test Peppol Root CA", None, ca=True, days=3650)
    ap_ca = issue("Test Peppol AP CA", root, ca=True, days=3650)
    ours = issue("POP000001", ap_ca, ca=False)
    peer = issue("POP000002", ap_ca, ca=False)
    rogue_root = issue("Rogue Root", None, ca=True)
    rogue = issue("POP000002", rogue_root, ca=False, key_label="rogue")
    return Pki(root, ap_ca, ours, peer, rogue_root, rogue)
