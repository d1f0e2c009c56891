"""Self-signed TLS material for the embedded cluster's loopback servers.

Why: azure-core refuses to send a bearer token over plain ``http://``, and real clients (kubectl,
kubernetes clients) verify servers against a CA. So the sim mints its own certificate authority once per
run and a server certificate signed by it for ``127.0.0.1``, ``::1`` and ``localhost``; clients trust
the CA file explicitly (``connection_verify=``, ``certificate-authority:`` in a kubeconfig) instead of
turning verification off.

Design:
- ``TlsBundle.generate(directory)`` is the only place keys are made. It writes four PEM files
  (``ca.pem``, ``ca-key.pem``, ``server.pem``, ``server-key.pem``) into ``directory`` (a fresh temporary
  directory by default) and returns a frozen bundle of their paths; nothing else in the sim touches key
  material.
- Keys are ECDSA P-256: fast to generate (a few ms), accepted by OpenSSL, Go (kubectl) and Python
  clients.
- The server certificate chains to the CA (a real chain, not a self-signed leaf), carries the SAN
  entries clients check, and is valid from one hour ago (clock skew) for ``valid_days``.
- ``server_context()`` / ``client_context()`` build ``ssl.SSLContext`` objects from the files; the
  bundle holds only paths, so it can be handed to another process or written into a kubeconfig.

"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DEFAULT_HOSTS", "TlsBundle"]

DEFAULT_HOSTS: tuple[str, ...] = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class TlsBundle:
    """Paths of a CA certificate and a server certificate/key signed by it (all PEM)."""

    directory: Path
    ca_path: Path
    ca_key_path: Path
    cert_path: Path
    key_path: Path
    hosts: tuple[str, ...] = DEFAULT_HOSTS

    @classmethod
    def generate(
        cls,
        directory: Path | str | None = None,
        *,
        hosts: Sequence[str] = DEFAULT_HOSTS,
        valid_days: int = 365,
        now: datetime.datetime | None = None,
    ) -> TlsBundle:
        """Mint a CA and a server certificate for ``hosts`` and write them as PEM files into ``directory``.

        ``directory`` defaults to a new temporary directory (left for the caller or the OS to clean up).
        """
        if not hosts:
            raise ValueError(
                "hosts is empty; give at least one IP address or DNS name for the server certificate"
            )
        if valid_days < 1:
            raise ValueError(f"valid_days is {valid_days}; it must be at least 1")
        target = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="kaito-sim-tls-"))
        target.mkdir(parents=True, exist_ok=True)
        start = (now or datetime.datetime.now(datetime.UTC)) - datetime.timedelta(hours=1)
        end = start + datetime.timedelta(days=valid_days)

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kaito-sim-ca")])
        ca_cert = (
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

        server_key = ec.generate_private_key(ec.SECP256R1())
        server_cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name)
            .public_key(server_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(_san_entries(hosts)), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )

        bundle = cls(
            directory=target,
            ca_path=target / "ca.pem",
            ca_key_path=target / "ca-key.pem",
            cert_path=target / "server.pem",
            key_path=target / "server-key.pem",
            hosts=tuple(hosts),
        )
        bundle.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        _write_private(bundle.ca_key_path, ca_key)
        bundle.cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
        _write_private(bundle.key_path, server_key)
        return bundle

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting the server certificate (TLS 1.2 or newer)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(certfile=str(self.cert_path), keyfile=str(self.key_path))
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client-side context that trusts only this bundle's CA and checks host names."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_path))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def ca_pem(self) -> bytes:
        """The CA certificate as PEM bytes (for embedding in a kubeconfig as certificate-authority-data)."""
        return self.ca_path.read_bytes()


def _san_entries(hosts: Sequence[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for host in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return entries


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(pem)
