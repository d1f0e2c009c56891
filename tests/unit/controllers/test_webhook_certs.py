"""The webhook certificate: what it names, when it must be rotated, and its Secret form."""

from __future__ import annotations

import datetime
import ssl

from kaito.controllers.webhook_certs import (
    certificate_from_secret,
    mint_certificate,
    rotation_due,
    secret_data,
    service_hosts,
)

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
HOSTS = service_hosts("kaito-webhook-service", "kaito-system")
MONTH = datetime.timedelta(days=30)


def test_the_serving_certificate_names_what_the_api_server_dials_and_chains_to_the_ca(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cert = mint_certificate("kaito-webhook-service", "kaito-system", NOW, extra_hosts=("127.0.0.1",))
    assert cert.hosts() == {*HOSTS, "127.0.0.1"}
    assert "kaito-webhook-service.kaito-system.svc" in cert.hosts()
    (tmp_path / "c.pem").write_bytes(cert.cert_pem)
    (tmp_path / "k.pem").write_bytes(cert.key_pem)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")  # key matches the certificate
    client = ssl.create_default_context(cadata=cert.ca_pem.decode())
    assert client.cert_store_stats()["x509_ca"] == 1


def test_rotation_is_due_when_missing_expiring_or_misnamed() -> None:
    cert = mint_certificate(
        "kaito-webhook-service", "kaito-system", NOW, valid_for=datetime.timedelta(days=365)
    )
    assert rotation_due(None, NOW, HOSTS, MONTH) == "no serving certificate is stored yet"
    assert rotation_due(cert, NOW, HOSTS, MONTH) is None
    late = NOW + datetime.timedelta(days=340)
    assert "within the rotation margin" in str(rotation_due(cert, late, HOSTS, MONTH))
    assert (
        rotation_due(cert, NOW, (*HOSTS, "127.0.0.1"), MONTH)
        == "the serving certificate does not name 127.0.0.1"
    )


def test_secret_data_round_trips_and_garbage_reads_as_none() -> None:
    cert = mint_certificate("s", "ns", NOW)
    data = secret_data(cert)
    assert set(data) == {"ca-cert.pem", "server-cert.pem", "server-key.pem"}
    assert certificate_from_secret(data) == cert
    assert certificate_from_secret({}) is None
    assert certificate_from_secret(dict(data, **{"server-key.pem": "%%%"})) is None
    assert rotation_due(
        certificate_from_secret(dict(data, **{"server-cert.pem": "AAAA"})), NOW, HOSTS, MONTH
    ) in (
        "no serving certificate is stored yet",
        "the stored serving certificate cannot be read",
    )
