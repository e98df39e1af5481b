"""Our access point identity (seat id, certificate, private key) and PEM loading helpers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def load_certificates(paths: list[str] | tuple[str, ...]) -> list[x509.Certificate]:
    """Every certificate in the given PEM files (a file may hold a bundle)."""
    certs: list[x509.Certificate] = []
    for path in paths:
        certs.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    return certs


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True)
class Identity:
    """Who we are on the Peppol network. Peppol requires ``party_id`` == the certificate's CN."""

    party_id: str
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey

    def __post_init__(self) -> None:
        if not isinstance(self.private_key, rsa.RSAPrivateKey):
            raise ValueError("the AS4 key must be an RSA private key")
        if (
            self.private_key.public_key().public_numbers()
            != self.certificate.public_key().public_numbers()
        ):
            raise ValueError("the AS4 private key does not belong to the certificate")

    @cached_property
    def certificate_der(self) -> bytes:
        # Once per identity, not per message (its BinarySecurityToken in every message and
        # receipt); cached_property writes the instance dict, which a frozen dataclass allows.
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @classmethod
    def from_files(
        cls, party_id: str, cert_file: str, key_file: str, password: str = ""
    ) -> Identity:
        cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
        key = serialization.load_pem_private_key(
            Path(key_file).read_bytes(), password.encode() if password else None
        )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{key_file}: the AS4 key must be an RSA private key")
        return cls(party_id or common_name(cert), cert, key)

    @classmethod
    def from_settings(cls, as4: object) -> Identity:
        """Build from ``Settings.as4`` (party_id, cert_file, key_file, key_password)."""
        return cls.from_files(
            getattr(as4, "party_id", ""),
            as4.cert_file,  # type: ignore[attr-defined]
            as4.key_file,  # type: ignore[attr-defined]
            getattr(as4, "key_password", ""),
        )
