"""The sim's CA and server certificate: real TLS handshakes trusting only the generated CA."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509

from kaito.sim.server.tls import TlsBundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> TlsBundle:
    return TlsBundle.generate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def port(bundle: TlsBundle) -> AsyncIterator[int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=bundle.server_context())
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def _roundtrip(port: int, context: ssl.SSLContext, server_hostname: str) -> bytes:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname=server_hostname
    )
    writer.write(b"hello\n")
    line = await reader.readline()
    writer.close()
    return line


@pytest.mark.parametrize("hostname", ["127.0.0.1", "localhost"])
async def test_client_trusting_the_ca_completes_the_handshake(
    bundle: TlsBundle, port: int, hostname: str
) -> None:
    assert await _roundtrip(port, bundle.client_context(), hostname) == b"hello\n"


async def test_client_trusting_only_system_cas_rejects_the_server(port: int) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        await _roundtrip(port, ssl.create_default_context(), "127.0.0.1")


async def test_host_name_outside_the_certificate_is_rejected(bundle: TlsBundle, port: int) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        await _roundtrip(port, bundle.client_context(), "example.com")


def test_server_certificate_names_loopback_and_chains_to_the_ca(bundle: TlsBundle) -> None:
    cert = x509.load_pem_x509_certificate(bundle.cert_path.read_bytes())
    ca = x509.load_pem_x509_certificate(bundle.ca_pem())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


def test_private_keys_are_readable_by_the_owner_only(bundle: TlsBundle) -> None:
    for path in (bundle.key_path, bundle.ca_key_path):
        assert path.stat().st_mode & 0o777 == 0o600


def test_default_directory_is_a_fresh_temporary_one() -> None:
    first, second = TlsBundle.generate(), TlsBundle.generate()
    assert first.directory != second.directory
    assert all(p.exists() for p in (first.ca_path, first.cert_path, first.key_path))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"hosts": ()}, "hosts is empty"), ({"valid_days": 0}, "valid_days is 0")],
)
def test_bad_arguments_are_refused_with_a_sentence(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TlsBundle.generate(tmp_path, **kwargs)  # type: ignore[arg-type]
