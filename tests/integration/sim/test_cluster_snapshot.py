"""A cluster restarted on its snapshot keeps its objects and its cloud: ConfigMaps, agent pools, their Nodes.

Each test stops a cluster and starts another on the same snapshot file, through ``kaito sim up`` (a subprocess
stopped with SIGTERM) or the :class:`~kaito.sim.cluster.Cluster` API, and checks with real clients
(kubernetes-asyncio, the aio azure-mgmt-containerservice client) that nothing was forgotten. The restarted
cluster listens on new ports with a new CA, so every client is built again from the rewritten kubeconfig and
the new ARM url and CA.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.mgmt.containerservice.aio import ContainerServiceClient
from azure.mgmt.containerservice.models import AgentPool
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config

from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

RG, CLUSTER = "kaito-rg", "kaito"
GPU = "Standard_NC24ads_A100_v4"
_ARM_LINE = re.compile(r"kaito-sim ARM endpoint: (?P<url>\S+) \(CA: (?P<ca>[^)]+)\)")


class AsyncStaticCredential:
    """An AsyncTokenCredential handing out one fixed token (the sim accepts any bearer token)."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("sim-token", int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> AsyncStaticCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


@asynccontextmanager
async def _arm_client(url: str, ca: str, subscription: str) -> AsyncIterator[ContainerServiceClient]:
    async with ContainerServiceClient(
        AsyncStaticCredential(),
        subscription,
        base_url=url,
        connection_verify=ca,
        polling_interval=0.05,
        retry_backoff_factor=0.01,
    ) as arm:
        yield arm


@asynccontextmanager
async def _core(kubeconfig: Path) -> AsyncIterator[k8s.CoreV1Api]:
    api = await k8s_config.new_client_from_config(config_file=str(kubeconfig))
    async with api:
        yield k8s.CoreV1Api(api)


def _gpu_pool() -> AgentPool:
    return AgentPool(vm_size=GPU, count=1, mode="User", os_type="Linux", node_labels={"team": "a"})


async def _ready_nodes(core: k8s.CoreV1Api) -> dict[str, bool]:
    nodes = (await core.list_node()).items
    return {
        n.metadata.name: any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
        for n in nodes
    }


async def _until(condition: Any, within: float = 10.0) -> Any:
    deadline = time.monotonic() + within
    while not (result := await condition()):
        assert time.monotonic() < deadline, "condition still false after the deadline"
        await asyncio.sleep(0.05)
    return result


@asynccontextmanager
async def _sim_up(kubeconfig: Path, snapshot: Path) -> AsyncIterator[tuple[str, str]]:
    """``kaito sim up --snapshot`` in a subprocess until SIGTERM; yields the ARM url and CA it printed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kaito.cli", "sim", "up", "--no-workloads",
        f"--kubeconfig={kubeconfig}", f"--snapshot={snapshot}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        lines: list[str] = []
        while not lines or "press Ctrl-C" not in lines[-1]:
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert line, f"kaito sim up exited early: {(await proc.stderr.read()).decode()}"
            lines.append(line)
        found = next(m for line in lines if (m := _ARM_LINE.search(line)))
        yield found["url"], found["ca"]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0, (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_kaito_sim_up_twice_on_one_snapshot_keeps_a_configmap_and_an_agent_pool(tmp_path: Path) -> None:
    kubeconfig, snapshot = tmp_path / "sim.kubeconfig", tmp_path / "sim.json"
    subscription = "00000000-0000-0000-0000-000000000000"
    async with (
        _sim_up(kubeconfig, snapshot) as (url, ca),
        _core(kubeconfig) as core,
        _arm_client(url, ca, subscription) as arm,
    ):
        await core.create_namespaced_config_map("default", {"metadata": {"name": "kept"}, "data": {"a": "b"}})
        poller = await arm.agent_pools.begin_create_or_update(RG, CLUSTER, "gpu", _gpu_pool())
        created = await poller.result()
        await _until(lambda: _all_ready(core))
        nodes = await _ready_nodes(core)

    # the second run listens elsewhere with a new CA: both clients are built again from what it wrote
    async with (
        _sim_up(kubeconfig, snapshot) as (url, ca),
        _core(kubeconfig) as core,
        _arm_client(url, ca, subscription) as arm,
    ):
        kept = await core.read_namespaced_config_map("kept", "default")
        assert kept.data == {"a": "b"}
        pool = await arm.agent_pools.get(RG, CLUSTER, "gpu")
        assert (pool.provisioning_state, pool.e_tag, pool.count) == ("Succeeded", created.e_tag, 1)
        assert [p.name async for p in arm.agent_pools.list(RG, CLUSTER)] == ["gpu"]
        assert await _ready_nodes(core) == nodes
        poller = await arm.agent_pools.begin_delete(RG, CLUSTER, "gpu")
        await poller.result()
        assert await _until(lambda: _no_nodes(core))


async def _all_ready(core: k8s.CoreV1Api) -> bool:
    nodes = await _ready_nodes(core)
    return bool(nodes) and all(nodes.values())


async def _no_nodes(core: k8s.CoreV1Api) -> bool:
    return not await _ready_nodes(core)


async def test_a_pool_creating_at_the_stop_finishes_after_the_restart_under_the_same_ids(
    tmp_path: Path,
) -> None:
    snapshot = tmp_path / "sim.json"
    ids = {"subscription_id": "11111111-2222-3333-4444-555555555555", "cluster_name": "prod"}
    slow = {**ids, "provisioning_s": 600.0, "retry_after_s": 0}
    async with Cluster(workloads=False, snapshot_path=snapshot, arm_options=slow) as first:
        assert first.arm is not None
        async with _arm_client(first.arm.url, first.arm.ca_path, ids["subscription_id"]) as arm:
            await arm.agent_pools.begin_create_or_update(RG, "prod", "gpu", _gpu_pool())
            assert (await arm.agent_pools.get(RG, "prod", "gpu")).provisioning_state == "Creating"

    # no ids given: the restarted endpoint takes the snapshot's; its own delays bound what is left
    async with Cluster(
        workloads=False, snapshot_path=snapshot, arm_options={"provisioning_s": 0.2}
    ) as second:
        assert second.arm is not None
        assert (second.arm.ids.subscription_id, second.arm.ids.cluster_name) == (
            ids["subscription_id"],
            "prod",
        )
        async with (
            _arm_client(second.arm.url, second.arm.ca_path, ids["subscription_id"]) as arm,
            _core(second.kubeconfig) as core,
        ):
            pool = await arm.agent_pools.get(RG, "prod", "gpu")
            assert pool.provisioning_state in ("Creating", "Succeeded")

            async def succeeded() -> bool:
                pool = await arm.agent_pools.get(RG, "prod", "gpu")
                return bool(pool.provisioning_state == "Succeeded")

            await _until(succeeded)
            await _until(lambda: _all_ready(core))
            assert len(await _ready_nodes(core)) == 1


async def test_a_cluster_without_arm_keeps_the_arm_section_for_the_next_run(tmp_path: Path) -> None:
    snapshot = tmp_path / "sim.json"
    async with Cluster(workloads=False, snapshot_path=snapshot, arm_options={"provisioning_s": 0.0}) as first:
        assert first.arm is not None
        first.arm.service.put("gpu", {"properties": {"vmSize": GPU, "count": 1}})
        await _until(lambda: _succeeded(first))
    async with Cluster(workloads=False, arm=False, snapshot_path=snapshot):
        pass
    async with Cluster(workloads=False, snapshot_path=snapshot) as third:
        assert third.arm is not None
        assert list(third.arm.pools()) == ["gpu"]
        assert len(third.store.list("v1", "Node")[0]) == 1


async def _succeeded(cluster: Cluster) -> bool:
    assert cluster.arm is not None
    return bool(cluster.arm.pools()["gpu"]["properties"]["provisioningState"] == "Succeeded")


async def test_a_snapshot_for_other_cluster_ids_is_refused_with_both_named(tmp_path: Path) -> None:
    snapshot = tmp_path / "sim.json"
    async with Cluster(workloads=False, snapshot_path=snapshot, arm_options={"provisioning_s": 0.0}) as first:
        assert first.arm is not None
        first.arm.service.put("gpu", {"properties": {"vmSize": GPU, "count": 1}})
    cluster = Cluster(workloads=False, snapshot_path=snapshot, arm_options={"cluster_name": "other"})
    with pytest.raises(ValueError, match=r"belong to cluster .*/kaito-rg/kaito in eastus.*serves .*/other"):
        await cluster.start()
    async with Cluster(workloads=False, snapshot_path=snapshot) as again:  # the refused start saved no harm
        assert again.arm is not None and list(again.arm.pools()) == ["gpu"]
