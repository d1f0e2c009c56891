"""The AKS provisioner's transport builds one TLS context per CA file version and reuses it.

(That this makes every ARM call travel over one connection is shown over HTTPS in
tests/integration/machine/test_aks_connections.py.)
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest
from azure.core.pipeline.transport import AioHttpTransport

from kaito.provisioners._aks_transport import (
    SharedTlsTransport,
    ca_file_signature,
    environment_settings_apply,
)
from kaito.sim.server.tls import TlsBundle


def ca_file(directory: Path) -> str:
    """A freshly generated CA certificate written (again) at directory/ca.pem."""
    return str(TlsBundle.generate(directory).ca_path)


def test_one_context_serves_every_request_while_the_ca_file_is_unchanged(tmp_path: Path) -> None:
    ca = ca_file(tmp_path)
    transport = SharedTlsTransport(connection_verify=ca)
    contexts = [transport._build_ssl_config(None, ca) for _ in range(5)]
    assert all(c is contexts[0] for c in contexts)
    assert isinstance(contexts[0], ssl.SSLContext) and contexts[0].verify_mode == ssl.CERT_REQUIRED
    assert transport.contexts_built == 1
    assert transport._build_ssl_config(None, Path(ca)) is contexts[0]  # a PathLike names the same file


def test_a_rewritten_ca_file_gets_a_new_context_trusting_the_new_ca(tmp_path: Path) -> None:
    ca = ca_file(tmp_path)
    transport = SharedTlsTransport(connection_verify=ca)
    first = transport._build_ssl_config(None, ca)
    before = ca_file_signature(ca)
    ca_file(tmp_path)  # an endpoint restarted with a new CA at the same path
    stat = os.stat(ca)
    os.utime(ca, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # even within one clock tick
    assert ca_file_signature(ca) != before
    second = transport._build_ssl_config(None, ca)
    assert second is not first and transport.contexts_built == 2
    old_ca, new_ca = first.get_ca_certs(), second.get_ca_certs()
    assert len(new_ca) == 1 and new_ca[0]["serialNumber"] != old_ca[0]["serialNumber"]  # the new CA only
    assert transport._build_ssl_config(None, ca) is second


@pytest.mark.parametrize("verify", [True, False])
def test_no_ca_file_is_answered_as_azure_core_answers(verify: bool) -> None:
    transport = SharedTlsTransport(connection_verify=verify)
    assert transport._build_ssl_config(None, verify) is verify
    assert transport.contexts_built == 0


def test_a_missing_ca_file_raises_azure_cores_own_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-ca.pem")
    with pytest.raises(OSError) as ours:
        SharedTlsTransport(connection_verify=missing)._build_ssl_config(None, missing)
    with pytest.raises(OSError) as theirs:
        AioHttpTransport(connection_verify=missing)._build_ssl_config(None, missing)
    assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))


def test_ca_file_signature_is_none_for_an_unreadable_path(tmp_path: Path) -> None:
    assert ca_file_signature(str(tmp_path / "absent")) is None
    assert ca_file_signature(ca_file(tmp_path)) is not None


@pytest.mark.parametrize(
    ("environ", "netrc_file", "applies"),
    [
        ({}, False, False),
        ({"HTTPS_PROXY": "http://proxy:3128"}, False, True),
        ({"no_proxy": "localhost"}, False, True),
        ({"HTTPS_PROXY": ""}, False, False),  # set but empty: urllib ignores it too
        ({}, True, True),  # a netrc file aiohttp would read for credentials
    ],
)
def test_proxy_and_netrc_settings_are_read_per_request_only_when_there_are_some(
    tmp_path: Path, environ: dict[str, str], netrc_file: bool, applies: bool
) -> None:
    netrc = tmp_path / "netrc"
    if netrc_file:
        netrc.write_text("machine management.azure.com login x password y\n")
    env = {**environ, "NETRC": str(netrc)}
    assert environment_settings_apply(env) is applies


def test_the_transport_keeps_an_explicit_use_env_settings() -> None:
    assert SharedTlsTransport(use_env_settings=True)._use_env_settings is True
    assert SharedTlsTransport()._use_env_settings is environment_settings_apply()
