"""The kubeconfig that points real clients (kubectl, kubernetes-asyncio, the sync client) at the embedded
cluster.

One cluster, one user, one context, all named ``kaito-sim`` (:data:`CONTEXT`), and that context is current.
The server does not authenticate, but clients want a user, so the user carries a fixed bearer token. Over
TLS the CA certificate is embedded (``certificate-authority-data``) so the file stands alone; over plain
HTTP there is none. The file is written with mode 0600, like kubectl writes its own.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CONTEXT", "TOKEN", "kubeconfig_dict", "write_kubeconfig"]

CONTEXT = "kaito-sim"
TOKEN = "kaito-sim-token"


def kubeconfig_dict(
    server: str, *, ca_pem: bytes | None = None, namespace: str = "default"
) -> dict[str, Any]:
    """A kubeconfig for ``server`` (``http(s)://127.0.0.1:PORT``); ``ca_pem`` is required for https."""
    if server.startswith("https://") and ca_pem is None:
        raise ValueError(
            f"server is {server}; an https server needs ca_pem, the CA certificate clients trust"
        )
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": cluster}],
        "users": [{"name": CONTEXT, "user": {"token": TOKEN}}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}
        ],
        "current-context": CONTEXT,
    }


def write_kubeconfig(path: Path | str, server: str, *, ca_pem: bytes | None = None) -> Path:
    """Write the kubeconfig for ``server`` to ``path`` (parents created, mode 0600) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(kubeconfig_dict(server, ca_pem=ca_pem), sort_keys=False)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(target, 0o600)
    return target
