"""Reachable ClusterIPs for the process runtime: a Service's address answers on this machine, as kube-proxy's.

With the process runtime on, the store hands out ClusterIPs from a /24 inside 127.0.0.0/8 (Linux routes the
whole block to `lo`), and :class:`ClusterIpForwarder` listens on every such ClusterIP and Service port. A
connection is forwarded, byte for byte, to one ready endpoint chosen at connect time (the pod IP and the
resolved targetPort, as :func:`kaito.sim.proxy.service_endpoints` resolves them for the proxy
subresource); with no ready endpoint the connection is closed, as kube-proxy rejects it. So the seed's
`curl -X POST http://$CLUSTERIP/chat` works from any local process.

Where an address cannot be bound (port 80 needs root or `net.ipv4.ip_unprivileged_port_start` <= 80), the
Service gets a Warning Event `ClusterIPUnreachable` saying why and what to use instead (the API server's
Service proxy), and :attr:`ClusterIpForwarder.problems` keeps the sentence. Services are re-read every
`interval` seconds; listeners of deleted Services close.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from kaito.sim.server.proxy import service_endpoints
from kaito.sim.server.store import Store

__all__ = ["ClusterIpForwarder", "readdress_services", "unreachable_message"]

_log = logging.getLogger(__name__)
_CHUNK = 64 * 1024
Listener = tuple[str, str, str, int]  # namespace, name, ip, port
Warn = Callable[[Mapping[str, Any], str, str], object]  # service, reason, message


def unreachable_message(service: Mapping[str, Any], ip: str, port: int, error: OSError) -> str:
    """Why a ClusterIP cannot be reached here, and what to use instead."""
    meta = service.get("metadata") or {}
    name, namespace = meta.get("name", ""), meta.get("namespace", "default")
    hint = (
        " (ports below 1024 need root, CAP_NET_BIND_SERVICE or net.ipv4.ip_unprivileged_port_start <= "
        f"{port})"
        if port < 1024
        else ""
    )
    return (
        f"cannot listen on ClusterIP {ip}:{port} of Service {namespace}/{name}: "
        f"{error.strerror or error}{hint}; "
        "reach the Service through the API server's proxy instead: "
        f"/api/v1/namespaces/{namespace}/services/{name}:{port}/proxy/ (kubectl get --raw, or kaito chat)"
    )


def readdress_services(store: Store, network: str) -> list[tuple[str, str, str]]:
    """Re-address every Service whose ClusterIP lies outside ``network``; returns (namespace, name, old IP).

    A cluster kept in a data directory may hold Services addressed when it ran without the process
    runtime (10.96.0.0/12) or in an earlier run's loopback /24: no local process could reach those. Kube
    never changes a ClusterIP, but here the service network itself moved, so each such Service gets an
    address from the store's allocator (an ordinary update: watchers see it) and the change is logged.
    Headless Services and the `kubernetes` Service of `default` are left as they are.
    """
    subnet = ipaddress.ip_network(network)
    moved: list[tuple[str, str, str]] = []
    services, _ = store.list("v1", "Service")
    for service in services:
        meta = service.get("metadata") or {}
        spec = service.get("spec") or {}
        ip = str(spec.get("clusterIP") or "")
        if (meta.get("namespace"), meta.get("name")) == ("default", "kubernetes"):
            continue
        try:
            if ipaddress.ip_address(ip) in subnet:
                continue
        except ValueError:  # "None" (headless) or unset
            continue
        new_ip = store.next_cluster_ip()
        spec["clusterIP"], spec["clusterIPs"] = new_ip, [new_ip]
        store.update("v1", "Service", service)
        moved.append((str(meta.get("namespace")), str(meta.get("name")), ip))
        _log.info(
            "Service %s/%s: ClusterIP %s is now %s (reachable on this machine)", *moved[-1][:2], ip, new_ip
        )
    return moved


class ClusterIpForwarder:
    """Listens on the ClusterIPs of ``network`` and forwards each connection to a ready endpoint."""

    def __init__(
        self, store: Store, network: str, *, interval: float = 0.2, warn: Warn | None = None
    ) -> None:
        self._store = store
        self._network = ipaddress.ip_network(network)
        self._interval = interval
        self._warn = warn
        self._servers: dict[Listener, asyncio.Server] = {}
        self._failed: set[Listener] = set()
        self._task: asyncio.Task[None] | None = None
        self.problems: dict[tuple[str, str], str] = {}

    def start(self) -> None:
        """Begin following Services (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="sim cluster IPs")

    async def stop(self) -> None:
        """Close every listener."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for server in self._servers.values():
            server.close()
        for server in self._servers.values():
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()

    def listening(self) -> list[tuple[str, int]]:
        """(ip, port) of every open listener."""
        return sorted((ip, port) for (_, _, ip, port) in self._servers)

    async def _loop(self) -> None:
        while True:
            try:
                await self.sync()
            except Exception:  # a bad Service must not stop the forwarder
                _log.exception("cluster IP forwarding")
            await asyncio.sleep(self._interval)

    def _wanted(self) -> dict[Listener, Mapping[str, Any]]:
        services, _ = self._store.list("v1", "Service", None, copy=False)
        wanted: dict[Listener, Mapping[str, Any]] = {}
        for service in services:
            spec = service.get("spec") or {}
            ip = str(spec.get("clusterIP") or "")
            try:
                if ipaddress.ip_address(ip) not in self._network:
                    continue
            except ValueError:
                continue
            meta = service.get("metadata") or {}
            for port in spec.get("ports") or []:
                if str(port.get("protocol", "TCP")) == "TCP" and port.get("port"):
                    key = (str(meta.get("namespace")), str(meta.get("name")), ip, int(port["port"]))
                    wanted[key] = service
        return wanted

    async def sync(self) -> None:
        """Open listeners for new Service ports, close those of Services gone."""
        wanted = self._wanted()
        for key in [k for k in self._servers if k not in wanted]:
            self._servers.pop(key).close()
        self._failed &= set(wanted)
        for key, service in wanted.items():
            if key in self._servers or key in self._failed:
                continue
            namespace, name, ip, port = key
            try:
                self._servers[key] = await asyncio.start_server(
                    self._handler(namespace, name, port), ip, port
                )
            except OSError as error:
                self._failed.add(key)
                message = unreachable_message(service, ip, port, error)
                self.problems[(namespace, name)] = message
                _log.warning("%s", message)
                if self._warn is not None:
                    self._warn(service, "ClusterIPUnreachable", message)

    def _handler(
        self, namespace: str, name: str, port: int
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._forward(reader, writer, namespace, name, port)

        return handle

    async def _forward(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, namespace: str, name: str, port: int
    ) -> None:
        try:
            service = self._store.get("v1", "Service", name, namespace)
            pods, _ = self._store.list("v1", "Pod", namespace, copy=False)
            endpoints = service_endpoints(service, pods, str(port))
            if not endpoints:
                writer.close()
                return
            host, target = random.choice(endpoints)
            upstream_reader, upstream_writer = await asyncio.open_connection(host, target)
        except Exception:  # no Service, no endpoint, refused: close, as a rejected connection
            writer.close()
            return
        try:
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            upstream_writer.close()
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass
