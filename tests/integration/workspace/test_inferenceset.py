"""InferenceSet end to end on kaito.sim: replicas of a Workspace, scaled with `kubectl scale` (the /scale
subresource), capped by nodeCountLimit, deleted with its Workspaces and their nodes."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from kaito import ctrl
from kaito.controllers.inferenceset import INFERENCESET
from kaito.controllers.workspace import WORKSPACE

pytestmark = pytest.mark.integration


def _inferenceset(name: str, replicas: int, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kaito.sh/v1alpha1",  # as KAITO's examples write it; stored as v1beta1
        "kind": "InferenceSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "labelSelector": {"matchLabels": {"apps": name}},
            "template": {
                "resource": {"instanceType": "Standard_NC6s_v3"},
                "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}},
            },
            **spec,
        },
    }


async def _kubectl(kubeconfig: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "kubectl", "--kubeconfig", str(kubeconfig), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def _scale(operator: Any, kubeconfig: Path, name: str, replicas: int) -> None:
    """`kubectl scale inferenceset NAME --replicas N` (the scale subresource directly without kubectl)."""
    if shutil.which("kubectl"):
        await _kubectl(kubeconfig, "scale", "inferenceset", name, f"--replicas={replicas}")
    else:
        await operator.user.patch(
            INFERENCESET, name, {"spec": {"replicas": replicas}}, namespace="default", subresource="scale"
        )


async def _ready_workspaces(operator: Any, name: str) -> list[str]:
    items = (await operator.user.list(WORKSPACE, "default", label_selector=f"apps={name}")).items
    return sorted(
        w["metadata"]["name"]
        for w in items
        if operator.condition_of(w, "WorkspaceSucceeded").get("status") == "True"
    )


async def _workspace_names(operator: Any, name: str) -> list[str]:
    items = (await operator.user.list(WORKSPACE, "default", label_selector=f"apps={name}")).items
    return sorted(w["metadata"]["name"] for w in items)


async def _delete_set(operator: Any, name: str) -> None:
    await operator.user.delete(INFERENCESET, name, "default")

    async def gone() -> bool:
        return await _workspace_names(operator, name) == []

    await operator.eventually(gone, within=30.0)


async def test_kubectl_scale_to_three_gives_three_ready_workspaces_and_back_to_one_frees_two_nodes(
    operator: Any, kubeconfig: Path
) -> None:
    name = "phi-set"
    await operator.apply(_inferenceset(name, 1))

    async def ready(count: int) -> bool:
        return len(await _ready_workspaces(operator, name)) == count

    await operator.eventually(lambda: ready(1), within=30.0)
    await _scale(operator, kubeconfig, name, 3)
    await operator.eventually(lambda: ready(3), within=60.0)
    assert await _workspace_names(operator, name) == [f"{name}-0", f"{name}-1", f"{name}-2"]
    assert len(operator.cluster.arm.pools()) == 3

    async def status_says(replicas: int, ready_replicas: int) -> bool:
        status = (await operator.user.get(INFERENCESET, name, "default")).get("status") or {}
        return status.get("replicas") == replicas and status.get("readyReplicas") == ready_replicas

    await operator.eventually(lambda: status_says(3, 3), within=20.0)
    scale = await operator.user.request_json(
        "GET", f"/apis/kaito.sh/v1beta1/namespaces/default/inferencesets/{name}/scale"
    )
    assert scale["spec"]["replicas"] == 3 and scale["status"]["replicas"] == 3
    assert f"apps={name}" in scale["status"]["selector"]
    if shutil.which("kubectl"):
        table = (await _kubectl(kubeconfig, "get", "isets", name)).split()
        assert table[:3] == ["NAME", "REPLICAS", "READYREPLICAS"] and table[4:7] == [name, "3", "3"], table

    await _scale(operator, kubeconfig, name, 1)

    async def one_left() -> bool:
        return (
            await _workspace_names(operator, name) == [f"{name}-0"] and len(operator.cluster.arm.pools()) == 1
        )

    await operator.eventually(one_left, within=30.0)
    await operator.eventually(lambda: status_says(1, 1), within=20.0)

    await _delete_set(operator, name)
    await operator.eventually(lambda: _no_pools(operator), within=30.0)


async def _no_pools(operator: Any) -> bool:
    return operator.cluster.arm.pools() == {}


async def test_node_count_limit_keeps_replicas_within_it_and_says_so(operator: Any) -> None:
    name = "limited-set"
    await operator.apply(_inferenceset(name, 3, nodeCountLimit=2))

    async def limited() -> dict[str, Any] | None:
        iset = await operator.user.get(INFERENCESET, name, "default")
        condition = operator.condition_of(iset, "ReplicasLimited")
        return condition if condition.get("status") == "True" else None

    condition = await operator.eventually(limited, within=20.0)
    assert condition["message"].startswith("spec.nodeCountLimit: 3 replica(s)"), condition
    assert "over the limit of 2" in condition["message"]
    assert await _workspace_names(operator, name) == [f"{name}-0", f"{name}-1"]
    await _delete_set(operator, name)


async def test_a_workspace_of_the_set_deleted_by_hand_comes_back(operator: Any) -> None:
    name = "healing-set"
    await operator.apply(_inferenceset(name, 2))

    async def both() -> bool:
        return await _workspace_names(operator, name) == [f"{name}-0", f"{name}-1"]

    await operator.eventually(both, within=20.0)
    first = await operator.user.get(WORKSPACE, f"{name}-1", "default")
    await operator.user.delete(WORKSPACE, f"{name}-1", "default")

    async def replaced() -> bool:
        try:
            again = await operator.user.get(WORKSPACE, f"{name}-1", "default")
        except ctrl.NotFound:
            return False
        return bool(again["metadata"]["uid"] != first["metadata"]["uid"])

    await operator.eventually(replaced, within=30.0)
    await _delete_set(operator, name)
