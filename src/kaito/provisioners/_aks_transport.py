"""The AKS provisioner's HTTP transport: azure-core's aiohttp transport, one TLS context for every request.

Given `connection_verify=<CA file>` (a private endpoint such as kaito.sim's ARM), azure-core's
`AioHttpTransport` builds a new `ssl.SSLContext` for every request, reading and parsing the CA file each
time, and hands it to aiohttp. aiohttp keys its pool of keep-alive connections by that context, so no
connection is ever reused: every ARM call pays a TCP connect and a TLS handshake, and every finished
connection idles in the pool with its TLS buffers (about 130 KB each) until its keep-alive runs out. An
operator creating 100 Workspaces held 160 such connections at once.

`SharedTlsTransport` builds the context once per (CA file, client certificate) and hands the same object
to every request, so aiohttp reuses its connections. Invariant: a cached context is used only while the
CA file is the one it was read from (same device, inode, size and modification time); a rewritten file
(an endpoint restarted with a new CA at the same path) gets a fresh context, as azure-core's would. A CA
path that cannot be read is left to azure-core, so its error reaches the caller exactly as before.

With azure-core's default `use_env_settings=True`, aiohttp looks for a netrc entry and a proxy for every
request, each in a worker thread (two thread hops, the netrc file read again): most of the ARM client's
CPU, and the threads' malloc arenas grew the operator's memory. `SharedTlsTransport` keeps that default
only when it can matter, a `*_proxy` variable or a netrc file being present when it is built
(`environment_settings_apply`); otherwise the answer is known to be "none" and is not asked again.

Private to kaito.provisioners (it loads the Azure SDK): `AksProvisioner` builds one for its client.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from typing import Any

# azure-core's own typed import path (its package __init__ resolves the name lazily, untyped)
from azure.core.pipeline.transport._aiohttp import AioHttpTransport

__all__ = ["SharedTlsTransport", "ca_file_signature", "environment_settings_apply"]

Signature = tuple[int, int, int, int]


def ca_file_signature(path: str) -> Signature | None:
    """What tells one version of a CA file from another (device, inode, size, mtime); None if unreadable."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def environment_settings_apply(environ: Mapping[str, str] | None = None) -> bool:
    """Whether aiohttp's `trust_env` could find anything: a proxy variable (`HTTPS_PROXY`, `no_proxy`, ...
    any `*_proxy`, as urllib's getproxies reads them) or a netrc file (`NETRC`, else ~/.netrc)."""
    env = os.environ if environ is None else environ
    if any(key.lower().endswith("_proxy") and value for key, value in env.items()):
        return True
    netrc = env.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    return os.path.exists(netrc)


class SharedTlsTransport(AioHttpTransport):
    """`AioHttpTransport` that reuses one TLS context (and so its pooled connections) across requests, and
    reads proxy and netrc settings per request only when there are any (see the module)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("use_env_settings", environment_settings_apply())
        super().__init__(**kwargs)
        # (CA path, client cert) -> (the CA file's signature when it was read, the context built from it)
        self._contexts: dict[tuple[str, Any], tuple[Signature, ssl.SSLContext]] = {}
        self.contexts_built = 0  # TLS contexts made so far: one, plus one per rewrite of the CA file

    def _build_ssl_config(self, cert: Any, verify: Any) -> Any:
        build: Callable[[Any, Any], Any] = super()._build_ssl_config
        if isinstance(verify, bool) or not isinstance(verify, str | os.PathLike):
            return build(cert, verify)  # no CA file: azure-core's answer (True/False, or a cert-only context)
        path = os.fspath(verify)
        signature = ca_file_signature(path)
        if signature is None or not _hashable(cert):
            return build(cert, verify)  # azure-core's own error for a CA file it cannot read
        cached = self._contexts.get((path, cert))
        if cached is not None and cached[0] == signature:
            return cached[1]
        context = build(cert, path)
        self._contexts[(path, cert)] = (signature, context)
        self.contexts_built += 1
        return context


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
