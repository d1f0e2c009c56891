"""Raw HTTP to kaito.sim's API server as its admin, for tests that check the wire (status codes, headers).

The embedded cluster serves HTTPS only and authenticates every request, so a plain
``aiohttp.ClientSession(base_url=cluster.url)`` gets a certificate error (and, without a token, 401).
:func:`admin_session` is that session done right: it trusts only the cluster's CA and sends the admin token
of its kubeconfig. On a ``Cluster(insecure=True)`` it is a plain session.

Imported as ``integration.admin_http`` (pytest's ``pythonpath = ["tests"]``).
"""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from kaito.sim.cluster import Cluster

__all__ = ["admin_headers", "admin_session", "kubeconfig_session"]


def admin_headers(cluster: Cluster) -> dict[str, str]:
    """The ``Authorization`` header of the cluster's admin kubeconfig (none for an insecure cluster)."""
    token = cluster.admin_token
    return {"Authorization": f"Bearer {token}"} if token else {}


def admin_session(cluster: Cluster, **options: Any) -> aiohttp.ClientSession:
    """A session with ``base_url=cluster.url`` as the cluster's admin; ``options`` go to ClientSession."""
    context = cluster.client_ssl_context()
    connector = aiohttp.TCPConnector(ssl=context) if context is not None else None
    headers = {**admin_headers(cluster), **options.pop("headers", {})}
    return aiohttp.ClientSession(base_url=cluster.url, connector=connector, headers=headers, **options)


def kubeconfig_session(kubeconfig: str | Path, **options: Any) -> aiohttp.ClientSession:
    """A session as the user of a kubeconfig file the sim wrote (a ``kaito sim up`` in another process):
    trusting its ``certificate-authority-data`` and sending its bearer token; plain for an insecure one."""
    config = yaml.safe_load(Path(kubeconfig).read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    context = None
    if cluster.get("certificate-authority-data"):
        context = ssl.create_default_context(
            cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
        )
    connector = aiohttp.TCPConnector(ssl=context) if context is not None else None
    token = user.get("token")
    headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **options.pop("headers", {})}
    return aiohttp.ClientSession(connector=connector, headers=headers, **options)
