"""The webhook's serving certificate, minted and checked as knative's certificate reconciler does it.

Pure functions; the shell that stores them (a Secret the operator owns) and patches the CA into the
ValidatingWebhookConfiguration and the CRD is `kaito.controllers.webhook_server`.

- `mint_certificate(service, namespace, now)`: a fresh self-signed CA (ECDSA P-256) and a serving
  certificate signed by it, for the names kube-apiserver dials (`<svc>.<ns>.svc`, with `.cluster.local`),
  plus `extra_hosts` (an operator running outside the cluster, as `kaito up` runs it, is dialled at
  127.0.0.1). A new CA each time: rotation replaces both, and the caBundle patch follows.
- `rotation_due(cert, now, hosts, rotate_before)`: why the stored certificate must be replaced (missing,
  unreadable, expiring within `rotate_before`, or not naming a host it must serve), or None.
- `secret_data` / `certificate_from_secret`: the Secret's `data` (keys ca-cert.pem, server-cert.pem,
  server-key.pem, base64 as the API stores them) and back.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA_KEY",
    "CERT_KEY",
    "KEY_KEY",
    "ServingCertificate",
    "certificate_from_secret",
    "mint_certificate",
    "rotation_due",
    "secret_data",
    "service_hosts",
]

CA_KEY: Final = "ca-cert.pem"
CERT_KEY: Final = "server-cert.pem"
KEY_KEY: Final = "server-key.pem"
_SKEW = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class ServingCertificate:
    """PEM bytes of the CA certificate, the serving certificate and its key."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @property
    def not_after(self) -> datetime.datetime:
        return x509.load_pem_x509_certificate(self.cert_pem).not_valid_after_utc

    def hosts(self) -> set[str]:
        """The DNS names and IP addresses the serving certificate is valid for."""
        cert = x509.load_pem_x509_certificate(self.cert_pem)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return set(san.get_values_for_type(x509.DNSName)) | {
            str(ip) for ip in san.get_values_for_type(x509.IPAddress)
        }


def service_hosts(service: str, namespace: str) -> tuple[str, ...]:
    """The names kube-apiserver verifies when it calls `service` in `namespace`."""
    return (
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    )


def _san(hosts: Sequence[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for host in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return entries


def mint_certificate(
    service: str,
    namespace: str,
    now: datetime.datetime,
    *,
    valid_for: datetime.timedelta = datetime.timedelta(days=365),
    extra_hosts: Sequence[str] = (),
) -> ServingCertificate:
    """A new CA and a serving certificate for the Service (and `extra_hosts`), valid from `now`."""
    hosts = [*service_hosts(service, namespace), *extra_hosts]
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{service}-ca")])
    start, end = now - _SKEW, now + valid_for
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[2])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(_san(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return ServingCertificate(
        ca_pem=ca.public_bytes(serialization.Encoding.PEM),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def rotation_due(
    cert: ServingCertificate | None,
    now: datetime.datetime,
    hosts: Sequence[str],
    rotate_before: datetime.timedelta,
) -> str | None:
    """Why `cert` must be replaced now, as a sentence; None while it is good."""
    if cert is None:
        return "no serving certificate is stored yet"
    try:
        not_after = cert.not_after
        names = cert.hosts()
    except (ValueError, x509.ExtensionNotFound):
        return "the stored serving certificate cannot be read"
    if not_after - rotate_before <= now:
        return f"the serving certificate expires at {not_after.isoformat()}, within the rotation margin"
    missing = sorted(set(hosts) - names)
    if missing:
        return f"the serving certificate does not name {', '.join(missing)}"
    return None


def secret_data(cert: ServingCertificate) -> dict[str, str]:
    """The Secret `data` holding `cert` (base64, as the API server stores Secret data)."""
    return {
        CA_KEY: base64.b64encode(cert.ca_pem).decode(),
        CERT_KEY: base64.b64encode(cert.cert_pem).decode(),
        KEY_KEY: base64.b64encode(cert.key_pem).decode(),
    }


def certificate_from_secret(data: Mapping[str, str] | None) -> ServingCertificate | None:
    """The certificate a Secret's `data` holds; None when a key is missing or not base64."""
    if not data or not all(key in data for key in (CA_KEY, CERT_KEY, KEY_KEY)):
        return None
    try:
        return ServingCertificate(
            ca_pem=base64.b64decode(data[CA_KEY], validate=True),
            cert_pem=base64.b64decode(data[CERT_KEY], validate=True),
            key_pem=base64.b64decode(data[KEY_KEY], validate=True),
        )
    except ValueError:
        return None
