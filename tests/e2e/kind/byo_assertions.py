"""The bring-your-own-node check, written once for any cluster the operator runs on.

`assert_byo_workspace_serves(client, node)` is what a platform team does after installing: label an
existing node as a GPU node (GPU feature-discovery labels, and `nvidia.com/gpu` capacity patched into the
node's status, as the "advertise extended resources" procedure does), apply a bring-your-own Workspace whose
inference is a CPU-runnable pod template (a small HTTP server on port 5000 instead of vLLM), and wait for the
Workspace to succeed with its Service (port 80 → 5000) and its pod on that node; then delete the Workspace
and wait until the operator has released it and its Deployment and Service are gone.

Two suites run it: tests/e2e/kind (a kind cluster with the image and manifests/default, when Docker exists)
and tests/integration/deploy/test_byo_assertions.py (kaito.sim with the operator under the manifests'
RBAC), so this path is exercised in the normal suite too. Both import it as `e2e.kind.byo_assertions`
(pytest's `pythonpath = ["tests"]`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from kaito import ctrl

__all__ = ["BYO_LABELS", "assert_byo_workspace_serves", "byo_workspace", "label_gpu_node"]

BYO_LABELS = {"apps": "kaito-byo-e2e"}
_GPU_LABELS = {
    "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
    "nvidia.com/gpu.count": "1",
    "nvidia.com/gpu.memory": "81920",
    "nvidia.com/cuda.compute.major": "8",
    "nvidia.com/cuda.compute.minor": "0",
}
_WORKSPACE = ("kaito.sh/v1beta1", "Workspace")
_MACHINE = ("kaito.sh/v1beta1", "Machine")


async def _eventually(check: Callable[[], Awaitable[Any]], within: float, what: str) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"{what}: still not true after {within:.0f}s")
        await asyncio.sleep(0.1)


async def label_gpu_node(client: ctrl.Client, node: str, gpus: int = 1) -> None:
    """Make `node` a bring-your-own GPU node: labels, and `nvidia.com/gpu` in status capacity/allocatable."""
    labels = {**_GPU_LABELS, "nvidia.com/gpu.count": str(gpus), **BYO_LABELS}
    await client.patch(("v1", "Node"), node, {"metadata": {"labels": labels}})
    current = await client.get(("v1", "Node"), node)
    status = current.get("status") or {}
    patch = {
        key: {**(status.get(key) or {}), "nvidia.com/gpu": str(gpus)} for key in ("capacity", "allocatable")
    }
    await client.patch(("v1", "Node"), node, {"status": patch}, subresource="status")


def byo_workspace(name: str, namespace: str, image: str) -> dict[str, Any]:
    """A Workspace on the labelled nodes whose inference is a CPU-only HTTP server on port 5000."""
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": name, "namespace": namespace},
        "resource": {"labelSelector": {"matchLabels": dict(BYO_LABELS)}},
        "inference": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": image,
                            "command": ["python", "-m", "http.server", "5000", "--directory", "/tmp"],
                            "ports": [{"containerPort": 5000}],
                            "readinessProbe": {"tcpSocket": {"port": 5000}, "periodSeconds": 2},
                            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                        }
                    ]
                }
            }
        },
    }


def _condition(obj: dict[str, Any], type_: str) -> str:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return str(condition.get("status"))
    return ""


async def assert_byo_workspace_serves(
    client: ctrl.Client,
    node: str,
    *,
    image: str,
    name: str = "workspace-byo-e2e",
    namespace: str = "default",
    within: float = 60.0,
) -> None:
    """The whole check (see the module docstring); AssertionError naming what did not happen in time."""
    await label_gpu_node(client, node)
    await client.apply(byo_workspace(name, namespace, image), force=True)

    async def succeeded() -> dict[str, Any] | None:
        workspace = await client.get(_WORKSPACE, name, namespace)
        return workspace if _condition(workspace, "WorkspaceSucceeded") == "True" else None

    try:
        workspace = await _eventually(succeeded, within, f"Workspace {name} WorkspaceSucceeded")
    except AssertionError:
        status = (await client.get(_WORKSPACE, name, namespace)).get("status")
        raise AssertionError(f"Workspace {name} never succeeded; status: {status}") from None
    assert workspace["status"].get("workerNodes") == [node], workspace["status"]

    service = await client.get(("v1", "Service"), name, namespace)
    (port,) = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (80, 5000), port
    pods = (await client.list(("v1", "Pod"), namespace)).items
    ours = [p for p in pods if _owned_by_workload(p, name)]
    assert ours, f"no pod of Workspace {name} in {[p['metadata']['name'] for p in pods]}"
    assert {p["spec"].get("nodeName") for p in ours} == {node}
    assert (await client.list(_MACHINE)).items == [], "a bring-your-own Workspace must create no Machine"

    await client.delete(_WORKSPACE, name, namespace)

    async def released() -> bool:
        for kind in (_WORKSPACE, ("v1", "Service"), ("apps/v1", "Deployment")):
            with contextlib.suppress(ctrl.NotFound):
                await client.get(kind, name, namespace)
                return False
        return True

    await _eventually(released, within, f"Workspace {name}, its Deployment and Service deleted")


def _owned_by_workload(pod: dict[str, Any], name: str) -> bool:
    owners = pod["metadata"].get("ownerReferences") or []
    return any(o.get("kind") == "ReplicaSet" and o.get("name", "").startswith(f"{name}-") for o in owners)
