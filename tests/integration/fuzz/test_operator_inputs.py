"""Door 3: the operator's inputs — garbled inference ConfigMaps, Nodes with odd labels and capacity, and
Workspaces edited mid-flight — with the whole operator running under RBAC (tests/integration/workspace's
`operator` fixture, imported here).

After every input the operator's manager task must still be running (a crashed controller is counted and
fails the test); a Workspace must carry a status the operator wrote for its latest input; every deletion
must complete (the finalizer is released) and the fixture's leak check must find no Machine, agent pool,
NodeClaim or provisioned Node left.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from integration.fuzz.support import FIGURES, Door, door_for, fuzz_settings, run_in_thread
from integration.workspace.conftest import (  # the operator fixture and what it depends on
    SAMPLES,
    Harness,
    operator,
    provisioner,
    sim_options,
    workspace_options,
)

__all__ = ["operator", "provisioner", "sim_options", "workspace_options"]

PHI3 = "workspace-phi-3-mini.yaml"
WITHIN = 30.0


def _alive(harness: Harness, door: str) -> None:
    running = harness._running
    assert running is not None, "the operator is not running"
    task = running[1]
    if task.done():
        FIGURES.crashes[door] += 1
        error = None if task.cancelled() else task.exception()
        raise AssertionError(f"{door}: the operator's manager task ended: {error!r}")


async def _door(harness: Harness, name: str) -> Door:
    """A door as the admin (kubectl's user) over the cluster's TLS."""
    return door_for(harness.cluster, name)


yaml_texts = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "vllm: [",
            "vllm: 3",
            "vllm:\n  max-model-len: -1\n",
            "vllm:\n  max-model-len: notanumber\n",
            "vllm:\n  gpu-memory-utilization: 7\n",
            "- a\n- b\n",
            "a: &a [*a]\n",
            "vllm: {tensor-parallel-size: 0}\n",
            "vllm: {max-model-len: 99999999999999999999999}\n",
            "!!binary aGk=",
            "",
            "null",
        ]
    ),
    st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=10) | st.none(), max_size=3).map(
        lambda d: yaml.safe_dump({"vllm": d})
    ),
)


async def test_garbled_inference_configmaps_are_reported_not_crashed_on(operator: Harness) -> None:
    name = "fuzz-config"
    await operator.apply(_configmap(name, "vllm:\n  max-model-len: 2048\n"))
    workspace = yaml.safe_load((SAMPLES / PHI3).read_text())
    workspace["inference"]["config"] = name
    await operator.apply(workspace)
    door = await _door(operator, "operator: inference ConfigMaps")

    @fuzz_settings(120)
    @given(text=yaml_texts, key=st.sampled_from(["inference_config.yaml", "other.yaml"]))
    @example(text="vllm: [", key="inference_config.yaml")
    def run(text: str, key: str) -> None:
        door.count()
        door.on_loop(operator.apply(_configmap(name, text, key)))
        _alive(operator, door.name)

    try:
        await run_in_thread(run)
    finally:
        door.close()
    _alive(operator, "operator: inference ConfigMaps")
    await operator.apply(_configmap(name, "vllm:\n  max-model-len: 2048\n"))
    await operator.wait_condition(workspace["metadata"]["name"], "WorkspaceSucceeded", within=WITHIN)


def _configmap(name: str, text: str, key: str = "inference_config.yaml") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {key: text}}


label_keys = st.sampled_from(
    [
        "nvidia.com/gpu.product",
        "nvidia.com/gpu.count",
        "nvidia.com/gpu.memory",
        "kaito.sh/workspace",
        "kaito.sh/machine",
        "node.kubernetes.io/instance-type",
        "apps",
        "kubernetes.azure.com/agentpool",
    ]
)
label_values = st.from_regex(r"([A-Za-z0-9][-A-Za-z0-9_.]{0,20})?[A-Za-z0-9]?", fullmatch=True)
quantities = st.one_of(
    st.sampled_from(["0", "1", "-1", "1.5", "1e3", "1Gi", "1000m", "8", "9999999999999999999999", "abc", ""]),
    st.integers(-10, 10**6).map(str),
)


async def test_nodes_with_odd_labels_and_capacity_do_not_crash_the_operator(operator: Harness) -> None:
    await operator.apply_sample(PHI3)
    door = await _door(operator, "operator: odd Nodes")

    @fuzz_settings(150)
    @given(
        labels=st.dictionaries(label_keys, label_values, max_size=5),
        capacity=st.dictionaries(st.sampled_from(["cpu", "memory", "nvidia.com/gpu", "pods"]), quantities),
    )
    def run(labels: dict[str, str], capacity: dict[str, str]) -> None:
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "fuzz-node", "labels": labels}}
        response = door.send("POST", "/api/v1/nodes", body=json.dumps(node))
        if response.status_code == 201:
            operator.byo_nodes.add("fuzz-node")
            door.http.patch(
                "/api/v1/nodes/fuzz-node/status",
                data=json.dumps({"status": {"capacity": capacity, "allocatable": capacity}}),
                headers={"Content-Type": "application/merge-patch+json"},
            )
            _alive(operator, door.name)
            door.http.delete("/api/v1/nodes/fuzz-node")
            door.on_loop(operator.eventually(lambda: _node_gone(operator), within=WITHIN))
        _alive(operator, door.name)

    try:
        await run_in_thread(run)
    finally:
        door.close()
    await operator.wait_condition("workspace-phi-3-mini", "WorkspaceSucceeded", within=WITHIN)


async def _node_gone(operator: Harness) -> bool:
    return not any(n["metadata"]["name"] == "fuzz-node" for n in await operator.list("v1", "Node", None))


edits = st.fixed_dictionaries(
    {},
    optional={
        "resource": st.fixed_dictionaries(
            {},
            optional={
                "count": st.integers(-1, 3),
                "instanceType": st.sampled_from(
                    ["Standard_NC6s_v3", "Standard_NC24ads_A100_v4", "Nope_SKU", ""]
                ),
                "labelSelector": st.sampled_from(
                    [{"matchLabels": {"apps": "phi-3"}}, {"matchLabels": {}}, {}]
                ),
            },
        ),
        "inference": st.fixed_dictionaries(
            {},
            optional={
                "preset": st.sampled_from(
                    [{"name": "phi-3-mini-4k-instruct"}, {"name": "no-such-model-7b"}, {"name": ""}, {}]
                )
            },
        ),
    },
)


@pytest.mark.timeout(900)
async def test_workspaces_edited_mid_flight_converge_and_delete_cleanly(operator: Harness) -> None:
    door = await _door(operator, "operator: mid-flight edits")

    @fuzz_settings(12)
    @given(changes=st.lists(edits, min_size=1, max_size=3))
    @example(changes=[{"resource": {"count": 2}}, {"inference": {"preset": {"name": "no-such-model-7b"}}}])
    def run(changes: list[dict[str, Any]]) -> None:
        door.on_loop(operator.apply_sample(PHI3))
        for change in changes:
            response = door.send(
                "PATCH",
                "/apis/kaito.sh/v1beta1/namespaces/default/workspaces/workspace-phi-3-mini",
                body=json.dumps(change),
                content_type="application/merge-patch+json",
            )
            if response.status_code == 200:
                generation = response.json()["metadata"]["generation"]
                door.on_loop(operator.eventually(lambda g=generation: _observed(operator, g), within=WITHIN))
            _alive(operator, door.name)
        door.on_loop(operator.delete_workspace("workspace-phi-3-mini", within=WITHIN))
        machines = door.on_loop(operator.machines())
        assert machines == [], f"Machines left after the delete: {[m['metadata']['name'] for m in machines]}"
        _alive(operator, door.name)

    try:
        await run_in_thread(run)
    finally:
        door.close()


async def _observed(operator: Harness, generation: int) -> bool:
    """The operator has written a status for this generation of the Workspace (any verdict)."""
    workspace = await operator.workspace("workspace-phi-3-mini")
    conditions = (workspace.get("status") or {}).get("conditions") or []
    return any(c.get("observedGeneration", 0) >= generation for c in conditions)
