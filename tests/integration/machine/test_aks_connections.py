"""The AKS provisioner's ARM calls share one TLS connection (kaito.provisioners._aks_transport), over HTTPS
to kaito.sim's ARM endpoint with its CA file as `connection_verify`, as `kaito up` configures it.

Connections are counted from the kernel's table of this machine's TCP sockets (Linux's /proc/net/tcp):
the ESTABLISHED ones whose far end is the endpoint's port are the client's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from kaito.api.machine import Machine
from kaito.provisioners.base import Phase
from kaito.sim.cluster import Cluster

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="counts sockets in Linux's /proc/net/tcp"),
]

_ESTABLISHED = "01"


def connections_to(port: int) -> int:
    """How many ESTABLISHED TCP connections (IPv4 and IPv6) have `port` as their far end."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            remote, state = fields[2], fields[3]
            if state == _ESTABLISHED and int(remote.rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


@pytest.mark.parametrize("calls", [1, 20])
async def test_every_arm_call_of_a_provisioner_travels_over_one_tls_connection(
    cluster: Cluster,
    aks_factory: Callable[..., Any],
    new_machine: Callable[..., Machine],
    calls: int,
) -> None:
    port = urlsplit(cluster.arm.url).port
    assert port is not None
    aks = aks_factory()
    try:
        for i in range(calls):
            observed = await aks.get(new_machine(f"absent{i}"))  # a GET answered 404 each time
            assert observed.phase is Phase.GONE
        assert cluster.arm.request_counts["GET"] == calls
        assert connections_to(port) == 1
    finally:
        await aks.close()
