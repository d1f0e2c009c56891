"""Raw HTTP to kaito.sim's API server as its admin, for tests that check the wire (status codes, headers).

The embedded cluster serves HTTPS only and authenticates every request, so a plain
``aiohttp.ClientSession(base_url=cluster.url)`` gets a certificate error (and, without a token, 401).
:func:`admin_session` is that session done right: it trusts only the cluster's CA and sends the admin token
of its kubeconfig. On a ``Cluster(insecure=True)`` it is a plain session.

Imported as ``integration.admin_http`` (pytest's ``pythonpath = ["tests"]``).
"""

from __future__ import annotations

from typing import Any

import aiohttp

from kaito.sim.cluster import Cluster

__all__ = ["admin_headers", "admin_session"]


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
