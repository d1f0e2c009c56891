"""The real azure-mgmt-containerservice client (sync and aio) against the sim's ARM endpoint over HTTPS.

Creates, polls and deletes a GPU agent pool, watching its Node appear in (and leave) the API server's store,
and checks that every failure knob reaches the SDK as the exception and error code Azure would produce.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.aio import ContainerServiceClient as AsyncContainerServiceClient
from azure.mgmt.containerservice.models import AgentPool
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config

from kaito.sim.cloud.arm.server import ArmServer
from kaito.sim.cluster import Cluster
from kaito.sim.server.store import Store
from kaito.sim.server.tls import TlsBundle

pytestmark = pytest.mark.integration

RG, CLUSTER = "kaito-rg", "kaito"
GPU = "Standard_NC24ads_A100_v4"


class StaticCredential:
    """A TokenCredential handing out one fixed token (the sim accepts any bearer token)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("sim-token", int(time.time()) + 3600)


class AsyncStaticCredential:
    """The AsyncTokenCredential twin."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("sim-token", int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> AsyncStaticCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsBundle:
    return TlsBundle.generate(tmp_path_factory.mktemp("arm-sdk-tls"))


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
async def arm(store: Store, tls: TlsBundle) -> AsyncIterator[ArmServer]:
    # Retry-After 0 lets the SDK poll at its polling_interval (azure-core treats 0 as "no hint").
    server = ArmServer(store, tls=tls, provisioning_s=0.2, node_ready_after_s=0.2, retry_after_s=0)
    await server.start()
    yield server
    await server.stop()


def _client_kwargs(arm: ArmServer, **extra: Any) -> dict[str, Any]:
    return {
        "base_url": arm.url,
        "connection_verify": arm.ca_path,
        "polling_interval": 0.05,
        "retry_backoff_factor": 0.01,
        **extra,
    }


def _client(arm: ArmServer, **extra: Any) -> ContainerServiceClient:
    return ContainerServiceClient(StaticCredential(), arm.ids.subscription_id, **_client_kwargs(arm, **extra))


def _gpu_pool(count: int = 1) -> AgentPool:
    return AgentPool(
        vm_size=GPU,
        count=count,
        mode="User",
        type_properties_type="VirtualMachineScaleSets",
        os_type="Linux",
        os_disk_size_gb=256,
        node_taints=["sku=gpu:NoSchedule"],
        node_labels={"kaito.sh/workspace": "ws-1", "kaito.sh/machine-type": "gpu"},
        tags={"kaito.sh/owner": "test"},
    )


def _nodes(store: Store) -> list[dict[str, Any]]:
    return store.list("v1", "Node")[0]


def _is_ready(node: dict[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


async def _until_node(store: Store, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    watch = store.watch("v1", "Node")
    try:
        async with asyncio.timeout(5):
            async for event in watch:
                if event.type in ("ADDED", "MODIFIED") and predicate(event.object):
                    return event.object
    finally:
        watch.close()
    raise AssertionError("the node watch ended before the condition held")


def _assert_gpu_node(node: dict[str, Any]) -> None:
    labels = node["metadata"]["labels"]
    assert labels["agentpool"] == labels["kubernetes.azure.com/agentpool"] == "gpu"
    assert labels["node.kubernetes.io/instance-type"] == GPU
    assert labels["kaito.sh/workspace"] == "ws-1"
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-A100-80GB-PCIe"
    assert {"key": "sku", "value": "gpu", "effect": "NoSchedule"} in node["spec"]["taints"]
    assert node["spec"]["providerID"].startswith("azure:///subscriptions/")
    assert node["spec"]["providerID"].endswith("-vmss/virtualMachines/0")
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "1"


async def test_sync_client_creates_polls_lists_and_deletes_a_gpu_pool(arm: ArmServer, store: Store) -> None:
    client = _client(arm)
    pool = await asyncio.to_thread(
        lambda: client.agent_pools.begin_create_or_update(RG, CLUSTER, "gpu", _gpu_pool()).result()
    )
    assert (pool.provisioning_state, pool.count, pool.vm_size, pool.mode) == ("Succeeded", 1, GPU, "User")
    assert pool.node_taints == ["sku=gpu:NoSchedule"] and pool.os_disk_size_gb == 256

    (node,) = _nodes(store)
    _assert_gpu_node(node)
    # Ready first (kubelet), then the node lifecycle controller lifts the not-ready taint.
    ready = await _until_node(store, _is_ready)
    assert ready["metadata"]["name"] == node["metadata"]["name"]
    schedulable = await _until_node(
        store, lambda n: all(t["key"] != "node.kubernetes.io/not-ready" for t in n["spec"].get("taints", []))
    )
    assert schedulable["spec"]["taints"] == [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}]

    names = await asyncio.to_thread(lambda: [p.name for p in client.agent_pools.list(RG, CLUSTER)])
    assert names == ["gpu"]
    cluster = await asyncio.to_thread(lambda: client.managed_clusters.get(RG, CLUSTER))
    assert cluster.node_resource_group == "MC_kaito-rg_kaito_eastus"

    await asyncio.to_thread(lambda: client.agent_pools.begin_delete(RG, CLUSTER, "gpu").result())
    assert _nodes(store) == []
    with pytest.raises(ResourceNotFoundError) as caught:
        await asyncio.to_thread(lambda: client.agent_pools.get(RG, CLUSTER, "gpu"))
    assert caught.value.error is not None and caught.value.error.code == "NotFound"
    client.close()


async def test_aio_client_creates_scales_and_deletes(arm: ArmServer, store: Store) -> None:
    async with (
        AsyncStaticCredential() as credential,
        AsyncContainerServiceClient(credential, arm.ids.subscription_id, **_client_kwargs(arm)) as client,
    ):
        poller = await client.agent_pools.begin_create_or_update(RG, CLUSTER, "gpu", _gpu_pool())
        pool = await poller.result()
        assert pool.provisioning_state == "Succeeded"
        _assert_gpu_node(_nodes(store)[0])

        poller = await client.agent_pools.begin_create_or_update(RG, CLUSTER, "gpu", _gpu_pool(count=3))
        assert (await poller.result()).count == 3
        assert len(_nodes(store)) == 3

        listed = [p.name async for p in client.agent_pools.list(RG, CLUSTER)]
        assert listed == ["gpu"]

        await (await client.agent_pools.begin_delete(RG, CLUSTER, "gpu")).result()
        assert _nodes(store) == []
        with pytest.raises(ResourceNotFoundError):
            await client.agent_pools.get(RG, CLUSTER, "gpu")


async def test_polling_false_returns_creating_at_once(arm: ArmServer) -> None:
    async with (
        AsyncStaticCredential() as credential,
        AsyncContainerServiceClient(credential, arm.ids.subscription_id, **_client_kwargs(arm)) as client,
    ):
        started = await client.agent_pools.begin_create_or_update(
            RG, CLUSTER, "gpu", _gpu_pool(), polling=False
        )
        assert (await started.result()).provisioning_state == "Creating"
        assert (await client.agent_pools.get(RG, CLUSTER, "gpu")).provisioning_state == "Creating"


async def test_another_client_resumes_a_poller_from_its_continuation_token(arm: ArmServer) -> None:
    # (azure-core 1.41 cannot make a token from a polling=False poller: its NoPolling state is not JSON.)
    first, second = _client(arm), _client(arm)
    original = await asyncio.to_thread(
        lambda: first.agent_pools.begin_create_or_update(RG, CLUSTER, "gpu", _gpu_pool())
    )
    token = original.continuation_token()
    resumed = await asyncio.to_thread(
        lambda: second.agent_pools.begin_create_or_update(
            RG, CLUSTER, "gpu", _gpu_pool(), continuation_token=token
        ).result()
    )
    assert resumed.provisioning_state == "Succeeded"
    assert (await asyncio.to_thread(original.result)).provisioning_state == "Succeeded"
    first.close()
    second.close()


def _quota(arm: ArmServer) -> None:
    arm.faults.quota(GPU, limit_vcpus=0)


@pytest.mark.parametrize(
    ("knob", "code"),
    [
        (_quota, "QuotaExceeded"),
        (lambda arm: arm.faults.sku_not_available(GPU), "SkuNotAvailable"),
        (lambda arm: arm.faults.allocation_failures(1), "AllocationFailed"),
    ],
)
async def test_failed_operations_raise_http_response_error_with_status_200_and_the_code(
    arm: ArmServer, store: Store, knob: Callable[[ArmServer], None], code: str
) -> None:
    knob(arm)
    client = _client(arm)
    with pytest.raises(HttpResponseError) as caught:
        await asyncio.to_thread(
            lambda: client.agent_pools.begin_create_or_update(RG, CLUSTER, "gpu", _gpu_pool()).result()
        )
    assert caught.value.status_code == 200
    assert caught.value.error is not None and caught.value.error.code == code
    pool = await asyncio.to_thread(lambda: client.agent_pools.get(RG, CLUSTER, "gpu"))
    assert pool.provisioning_state == "Failed"
    assert pool.status is not None and pool.status.provisioning_error.code == code
    assert _nodes(store) == []
    client.close()


@pytest.mark.parametrize(
    ("setup", "name", "pool", "exception", "status", "code"),
    [
        (None, "GPU-1", _gpu_pool(), HttpResponseError, 400, "InvalidParameter"),
        (None, "gpu", AgentPool(vm_size="Standard_Nope_v1", count=1), HttpResponseError, 400, "BadRequest"),
        (
            lambda arm: arm.faults.quota(GPU, limit_vcpus=0, synchronous=True),
            "gpu",
            _gpu_pool(),
            HttpResponseError,
            400,
            "QuotaExceeded",
        ),
    ],
)
async def test_synchronous_refusals(
    arm: ArmServer,
    setup: Callable[[ArmServer], None] | None,
    name: str,
    pool: AgentPool,
    exception: type[HttpResponseError],
    status: int,
    code: str,
) -> None:
    if setup is not None:
        setup(arm)
    client = _client(arm)
    with pytest.raises(exception) as caught:
        await asyncio.to_thread(lambda: client.agent_pools.begin_create_or_update(RG, CLUSTER, name, pool))
    assert caught.value.status_code == status
    assert caught.value.error is not None and caught.value.error.code == code
    client.close()


async def test_put_while_creating_is_a_409_operation_not_allowed(arm: ArmServer) -> None:
    client = _client(arm)
    await asyncio.to_thread(
        lambda: client.agent_pools.begin_create_or_update(RG, CLUSTER, "gpu", _gpu_pool(), polling=False)
    )
    with pytest.raises(ResourceExistsError) as caught:
        await asyncio.to_thread(
            lambda: client.agent_pools.begin_create_or_update(RG, CLUSTER, "gpu", _gpu_pool(2))
        )
    assert caught.value.status_code == 409
    assert caught.value.error is not None and caught.value.error.code == "OperationNotAllowed"
    assert "in progress create node pool operation" in str(caught.value)
    client.close()


async def test_throttling_within_the_sdks_retries_is_absorbed_honouring_retry_after(arm: ArmServer) -> None:
    arm.faults.throttle(1, retry_after_s=1)
    client = _client(arm)
    started = time.monotonic()
    pools = await asyncio.to_thread(lambda: list(client.agent_pools.list(RG, CLUSTER)))
    assert pools == [] and time.monotonic() - started >= 1.0
    client.close()


@pytest.mark.parametrize(
    ("knob", "status", "code"),
    [
        (lambda arm: arm.faults.throttle(3, retry_after_s=0), 429, "TooManyRequests"),
        (lambda arm: arm.faults.server_errors(3), 503, "ServiceUnavailable"),
    ],
)
async def test_faults_beyond_the_sdks_retries_surface_with_their_status(
    arm: ArmServer, knob: Callable[[ArmServer], None], status: int, code: str
) -> None:
    knob(arm)
    client = _client(arm, retry_total=2)
    with pytest.raises(HttpResponseError) as caught:
        await asyncio.to_thread(lambda: client.agent_pools.get(RG, CLUSTER, "gpu"))
    assert caught.value.status_code == status
    assert caught.value.error is not None and caught.value.error.code == code
    client.close()


async def test_transient_server_errors_are_retried_by_the_sdk(arm: ArmServer) -> None:
    arm.faults.server_errors(2, status=500)
    client = _client(arm)
    pool = await asyncio.to_thread(
        lambda: client.agent_pools.begin_create_or_update(RG, CLUSTER, "gpu", _gpu_pool()).result()
    )
    assert pool.provisioning_state == "Succeeded"
    client.close()


def test_azure_core_refuses_a_bearer_token_over_plain_http() -> None:
    """Why the endpoint is HTTPS: the SDK will not send the token to an http:// base_url at all."""
    client = ContainerServiceClient(StaticCredential(), "sub", base_url="http://127.0.0.1:9", retry_total=0)
    with pytest.raises(ServiceRequestError, match="non-TLS"):
        client.agent_pools.get(RG, CLUSTER, "gpu")
    client.close()


async def test_pool_nodes_are_served_by_the_clusters_api_server_and_take_gpu_pods() -> None:
    """Via kaito.sim.Cluster: the pool's Node is served by the API server and takes a GPU pod."""
    options = {"provisioning_s": 0.1, "node_ready_after_s": 0.1, "retry_after_s": 0}
    async with Cluster(arm_options=options) as cluster:
        arm = cluster.arm
        async with (
            AsyncStaticCredential() as credential,
            AsyncContainerServiceClient(credential, arm.ids.subscription_id, **_client_kwargs(arm)) as azure,
        ):
            await (await azure.agent_pools.begin_create_or_update(RG, CLUSTER, "gpu", _gpu_pool())).result()
            api_client = await k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig))
            async with api_client:
                core = k8s.CoreV1Api(api_client)
                (node,) = (await core.list_node(label_selector="agentpool=gpu")).items
                assert node.metadata.labels["kubernetes.azure.com/agentpool"] == "gpu"
                assert node.status.capacity["nvidia.com/gpu"] == "1"

                pod = {
                    "metadata": {"name": "gpu-pod"},
                    "spec": {
                        "tolerations": [
                            {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
                        ],
                        "containers": [
                            {"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": "1"}}}
                        ],
                    },
                }
                await core.create_namespaced_pod("default", pod)
                watch = cluster.store.watch("v1", "Pod", "default")
                try:
                    async with asyncio.timeout(10):
                        async for event in watch:
                            if (event.object.get("spec") or {}).get("nodeName"):
                                assert event.object["spec"]["nodeName"] == node.metadata.name
                                break
                finally:
                    watch.close()

                await (await azure.agent_pools.begin_delete(RG, CLUSTER, "gpu")).result()
                assert (await core.list_node(label_selector="agentpool=gpu")).items == []
