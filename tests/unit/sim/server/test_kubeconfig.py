"""The generated kubeconfig: one context, current, loadable by the real clients."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio import client
from kubernetes_asyncio import config as async_config

from kaito.sim.server.kubeconfig import CONTEXT, kubeconfig_dict, write_kubeconfig


def test_plain_http_config_has_no_ca() -> None:
    cfg = kubeconfig_dict("http://127.0.0.1:1234")
    assert cfg["current-context"] == CONTEXT == "kaito-sim"
    assert cfg["clusters"][0]["cluster"] == {"server": "http://127.0.0.1:1234"}
    assert cfg["contexts"][0]["context"]["namespace"] == "default"


def test_https_config_embeds_the_ca() -> None:
    cfg = kubeconfig_dict("https://127.0.0.1:1234", ca_pem=b"PEM")
    assert base64.b64decode(cfg["clusters"][0]["cluster"]["certificate-authority-data"]) == b"PEM"
    with pytest.raises(ValueError, match="an https server needs ca_pem"):
        kubeconfig_dict("https://127.0.0.1:1234")


async def test_written_file_is_private_and_loads_in_kubernetes_asyncio(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "nested" / "kubeconfig", "http://127.0.0.1:4321")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700  # the directory it made for the credential
    assert yaml.safe_load(path.read_text())["current-context"] == "kaito-sim"
    client_config = client.Configuration()
    await async_config.load_kube_config(config_file=str(path), client_configuration=client_config)
    assert client_config.host == "http://127.0.0.1:4321"
    assert client_config.api_key["BearerToken"] == "Bearer kaito-sim-token"


async def test_the_given_token_is_the_users_credential(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:4321", ca_pem=b"PEM", token="kaito-admin.x")
    assert yaml.safe_load(path.read_text())["users"][0]["user"] == {"token": "kaito-admin.x"}
