"""ClusterIPs reachable on this machine (process runtime): what `curl http://$CLUSTERIP/...` gets.

The seed's quick start asks a Service by its ClusterIP from a curl pod. With the process runtime, Services
get 127.x ClusterIPs that the sim listens on and forwards to a ready pod; the `curlimages/curl` image runs
the local curl through its entrypoint; an address that cannot be bound says why on the Service.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import socket
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from integration.admin_http import admin_session
from integration.sim.test_proxy import IMAGE, NODE, deployment, service
from kaito.sim.cluster import Cluster
from kaito.sim.workloads.processes import ImageMapping, ProcessRuntimeConfig

pytestmark = pytest.mark.integration

CURL_IMAGE = "curlimages/curl"
# curlimages/curl's own /entrypoint.sh: a first argument starting with "-" is curl's, else it is the program
CURL_ENTRYPOINT = ["/bin/sh", "-c", 'if [ "${1#-}" != "$1" ]; then set -- curl "$@"; fi; exec "$@"', "curl"]


@pytest.fixture
def sim_options() -> dict[str, Any]:
    server = ImageMapping(executables={"python3": sys.executable}, host_flag="--bind")
    curl = ImageMapping(entrypoint=CURL_ENTRYPOINT, host_flag=None)
    config = ProcessRuntimeConfig(
        images={IMAGE: server, CURL_IMAGE: curl}, probe_time_scale=0.05, stop_grace_s=2
    )
    return {"arm": False, "process_runtime": config}


async def _until(check: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} not reached within {within:g}s"
        await asyncio.sleep(0.05)


def _ready(cluster: Cluster) -> bool:
    status = cluster.store.get("apps/v1", "Deployment", "web", "default").get("status") or {}
    return int(status.get("readyReplicas") or 0) == 2


def _cluster_ip(cluster: Cluster, name: str) -> str:
    return str(cluster.store.get("v1", "Service", name, "default")["spec"]["clusterIP"])


@pytest_asyncio.fixture
async def web(cluster: Cluster) -> AsyncIterator[str]:
    """Two ready server pods behind Service `web`; yields its ClusterIP."""
    cluster.store.create("v1", "Node", NODE)
    cluster.store.create("apps/v1", "Deployment", deployment(2))
    cluster.store.create("v1", "Service", service("web", "web"))
    await _until(lambda: _ready(cluster), 20, "two ready pods")
    ip = _cluster_ip(cluster, "web")
    assert cluster.cluster_ips is not None
    listening = cluster.cluster_ips.listening
    await _until(lambda: (ip, 80) in listening(), 5, "a listener on the ClusterIP")
    yield ip


async def test_a_clusterip_answers_from_a_ready_pod(cluster: Cluster, web: str) -> None:
    assert ipaddress.ip_address(web).is_loopback
    pods = {p["status"]["podIP"] for p in cluster.store.list("v1", "Pod", "default")[0]}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://{web}/chat", json={"prompt": "hi"}) as response:
            assert response.status == 200 and await response.json() == {"prompt": "hi"}
        async with http.get(f"http://{web}/hello") as response:
            assert (await response.text()).split()[0] in pods


async def test_a_service_without_ready_pods_refuses_connections(cluster: Cluster) -> None:
    cluster.store.create("v1", "Service", service("nobody", "missing"))
    ip = _cluster_ip(cluster, "nobody")
    assert cluster.cluster_ips is not None
    listening = cluster.cluster_ips.listening
    await _until(lambda: (ip, 80) in listening(), 5, "a listener")
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientError):
            async with http.get(f"http://{ip}/hello") as response:
                await response.read()


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl binary on this machine")
async def test_the_quick_starts_curl_pod_reaches_the_clusterip(cluster: Cluster, web: str) -> None:
    pod = {  # what `kubectl run --restart=Never curl --image=curlimages/curl -- curl ...` creates
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "curl", "namespace": "default", "labels": {"run": "curl"}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "curl",
                    "image": CURL_IMAGE,
                    "args": ["curl", "-s", "-X", "POST", f"http://{web}/chat",
                             "-H", "Content-Type: application/json", "-d", '{"prompt":"YOUR QUESTION HERE"}'],
                }
            ],
        },
    }  # fmt: skip
    cluster.store.create("v1", "Pod", pod)

    def finished() -> str | None:
        phase = (cluster.store.get("v1", "Pod", "curl", "default").get("status") or {}).get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    assert await _until(finished, 20, "the curl pod finished") == "Succeeded"
    async with (
        admin_session(cluster) as http,
        http.get("/api/v1/namespaces/default/pods/curl/log") as response,
    ):
        assert (await response.text()).splitlines()[-1] == '{"prompt":"YOUR QUESTION HERE"}'


async def test_an_address_that_cannot_be_bound_is_explained_on_the_service(cluster: Cluster) -> None:
    assert cluster.cluster_ips is not None and cluster.store.cluster_ip_prefix is not None
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
    cluster.store.create("v1", "Service", service("first", "x"))  # takes the next address; find the one after
    taken = int(_cluster_ip(cluster, "first").rsplit(".", 1)[1])
    address = f"{cluster.store.cluster_ip_prefix}.{taken + 1}"
    blocker.bind((address, 80))
    blocker.listen()
    try:
        cluster.store.create("v1", "Service", service("blocked", "x"))
        assert _cluster_ip(cluster, "blocked") == address

        def warned() -> list[dict[str, Any]]:
            events = cluster.store.list("v1", "Event", "default")[0]
            return [e for e in events if e.get("reason") == "ClusterIPUnreachable"]

        (event,) = await _until(warned, 5, "a ClusterIPUnreachable Event")
        assert event["involvedObject"]["name"] == "blocked" and event["type"] == "Warning"
        assert f"cannot listen on ClusterIP {address}:80 of Service default/blocked" in event["message"]
        assert "/api/v1/namespaces/default/services/blocked:80/proxy/" in event["message"]
    finally:
        blocker.close()


async def test_services_kept_from_a_run_without_the_process_runtime_get_reachable_addresses(
    tmp_path: Any, sim_options: dict[str, Any]
) -> None:
    # `make run` then `kaito up --serve` on the same data directory: the Service was addressed from
    # 10.96.0.0/12 (and a later --serve run picks another loopback /24), so its old ClusterIP answers nowhere.
    async with Cluster(data_dir=tmp_path, arm=False) as first:
        first.store.create("v1", "Service", service("web", "web"))
        old = _cluster_ip(first, "web")
    assert not ipaddress.ip_address(old).is_loopback

    async with Cluster(data_dir=tmp_path, **sim_options) as second:
        new = _cluster_ip(second, "web")
        assert ipaddress.ip_address(new).is_loopback, new
        assert second.store.get("v1", "Service", "web", "default")["spec"]["clusterIPs"] == [new]
        assert second.cluster_ips is not None
        listening = second.cluster_ips.listening
        await _until(lambda: (new, 80) in listening(), 5, "a listener on the new ClusterIP")
