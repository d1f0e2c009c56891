"""The kubeconfig that points real clients (kubectl, kubernetes-asyncio, the sync client) at the embedded
cluster.

One cluster, one user, one context, all named ``kaito-sim`` (:data:`CONTEXT`), and that context is current.
The user carries the cluster's admin bearer token (random per cluster, :mod:`kaito.sim.authz`); a cluster
started with ``insecure=True`` checks none, and its kubeconfig carries the placeholder :data:`TOKEN` because
clients want a user. Over TLS the CA certificate is embedded (``certificate-authority-data``) so the file
stands alone; over plain HTTP there is none. The file holds a credential, so it is written with mode 0600
(as kubectl writes its own) and its directory, when this creates it, with 0700.
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
"""The placeholder token of an insecure cluster's kubeconfig (that server checks no credential)."""


def kubeconfig_dict(
    server: str, *, ca_pem: bytes | None = None, namespace: str = "default", token: str = TOKEN
) -> dict[str, Any]:
    """A kubeconfig for ``server`` (``http(s)://127.0.0.1:PORT``) whose user sends ``token``; ``ca_pem`` is
    required for https."""
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
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}
        ],
        "current-context": CONTEXT,
    }


def write_kubeconfig(
    path: Path | str, server: str, *, ca_pem: bytes | None = None, token: str = TOKEN
) -> Path:
    """Write the kubeconfig for ``server`` to ``path`` (parents made 0700, file 0600); return the path."""
    target = Path(path)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = yaml.safe_dump(kubeconfig_dict(server, ca_pem=ca_pem, token=token), sort_keys=False)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(target, 0o600)
    return target
