"""Door 1: Workspace and Machine specs, random and mutated from valid ones, through HTTP and `kubectl apply`.

The CRDs are installed as the operator installs them (their OpenAPI schemas and CEL rules are what judge
a spec here); no operator runs, so this door is the API server's validation alone. Each spec must be
created (201), or refused with a 4xx whose message names the field; never a 5xx.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from integration.fuzz.support import Door, door_for, fuzz_settings, run_in_thread
from kaito import ctrl
from kaito.controllers.operator import install_crds
from kaito.sim.cluster import Cluster

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "manifests" / "samples"
WORKSPACES = "/apis/kaito.sh/v1beta1/namespaces/default/workspaces"
MACHINES = "/apis/kaito.sh/v1beta1/machines"

VALID_WORKSPACES = [
    yaml.safe_load((SAMPLES / name).read_text())
    for name in sorted(os.listdir(SAMPLES))
    if name.startswith("workspace-")
]
VALID_MACHINE: dict[str, Any] = {
    "apiVersion": "kaito.sh/v1beta1",
    "kind": "Machine",
    "metadata": {"name": "m"},
    "spec": {
        "instanceType": "Standard_NC6s_v3",
        "provisioner": "aks",
        "nodeLabels": {"kaito.sh/workspace": "w"},
        "taints": [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}],
        "osDiskSizeGB": 128,
        "workspaceRef": {"namespace": "default", "name": "w"},
    },
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**65), max_value=2**65)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        ["", "Standard_NC6s_v3", "phi-3-mini-4k-instruct", "aks", "karpenter", "-1", "1Gi", "x" * 300]
    )
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
field_names = st.sampled_from(
    [
        "resource",
        "inference",
        "tuning",
        "spec",
        "status",
        "instanceType",
        "count",
        "labelSelector",
        "matchLabels",
        "preferredNodes",
        "preset",
        "name",
        "presetOptions",
        "modelAccessSecret",
        "adapters",
        "template",
        "config",
        "provisioner",
        "nodeLabels",
        "taints",
        "osDiskSizeGB",
        "workspaceRef",
        "effect",
        "key",
        "unknownField",
    ]
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            if prefix == () and key in ("apiVersion", "kind", "metadata"):
                continue
            out += _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            out += _paths(value, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """`base` with a few of its values replaced, deleted or given unknown siblings."""
    obj = copy.deepcopy(base)
    obj["metadata"] = {"name": draw(st.from_regex(r"[a-z]([-a-z0-9]{0,12}[a-z0-9])?", fullmatch=True))}
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(obj) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = obj
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "sibling"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(field_names)] = draw(values)
    return obj


@st.composite
def random_specs(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A Workspace or Machine made of random fields from the kinds' vocabulary."""
    body: dict[str, Any] = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": kind,
        "metadata": {"name": draw(st.from_regex(r"[a-z]([-a-z0-9]{0,12}[a-z0-9])?", fullmatch=True))},
    }
    body.update(draw(st.dictionaries(field_names, values, max_size=4)))
    return body


workspace_inputs = st.one_of(*(mutated(ws) for ws in VALID_WORKSPACES), random_specs("Workspace"))
machine_inputs = st.one_of(mutated(VALID_MACHINE), random_specs("Machine"))


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"workloads": False, "arm": False}


async def _install(cluster: Cluster) -> None:
    async with await ctrl.Client.from_kubeconfig(str(cluster.kubeconfig), field_manager="fuzz") as client:
        await install_crds(client)


def _create_then_delete(door: Door, collection: str, obj: dict[str, Any]) -> None:
    response = door.send("POST", collection, body=json.dumps(obj))
    if response.status_code == 201:
        name = response.json()["metadata"]["name"]
        deleted = door.http.delete(f"{collection}/{name}")
        assert deleted.status_code in (200, 202), deleted.text


async def test_workspace_specs_are_created_or_refused_with_the_field(cluster: Cluster) -> None:
    await _install(cluster)
    door = door_for(cluster, "specs: Workspace over HTTP")

    @fuzz_settings(1800)
    @given(obj=workspace_inputs, method=st.sampled_from(["POST", "APPLY"]))
    @example(obj={**VALID_WORKSPACES[0], "resource": {"count": 2**64}}, method="POST")
    def run(obj: dict[str, Any], method: str) -> None:
        if method == "POST":
            _create_then_delete(door, WORKSPACES, obj)
            return
        name = obj["metadata"]["name"]
        door.send(
            "PATCH",
            f"{WORKSPACES}/{name}",
            body=json.dumps(obj),
            content_type="application/apply-patch+yaml",
            params={"fieldManager": "fuzz", "force": "true"},
        )

    try:
        await run_in_thread(run)
    finally:
        door.close()


async def test_machine_specs_are_created_or_refused_with_the_field(cluster: Cluster) -> None:
    await _install(cluster)
    door = door_for(cluster, "specs: Machine over HTTP")

    @fuzz_settings(1200)
    @given(obj=machine_inputs)
    @example(obj={**VALID_MACHINE, "spec": {**VALID_MACHINE["spec"], "osDiskSizeGB": 10**30}})
    def run(obj: dict[str, Any]) -> None:
        _create_then_delete(door, MACHINES, obj)

    try:
        await run_in_thread(run)
    finally:
        door.close()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed on this machine")
async def test_kubectl_apply_of_mutated_workspaces_succeeds_or_names_the_field(
    cluster: Cluster, tmp_path: Path
) -> None:
    await _install(cluster)
    door = door_for(cluster, "specs: Workspace via kubectl apply")
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}

    @fuzz_settings(40)
    @given(obj=st.one_of(*(mutated(ws) for ws in VALID_WORKSPACES)))
    def run(obj: dict[str, Any]) -> None:
        door.count()
        manifest = tmp_path / "workspace.yaml"
        manifest.write_text(yaml.safe_dump(obj))
        done = subprocess.run(
            ["kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(manifest)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        out = done.stdout + done.stderr
        assert "InternalError" not in out and "Internal error" not in out, out
        if (
            done.returncode != 0
        ):  # refused: kubectl prints the server's sentence (`... is invalid: field: ...`)
            assert "invalid" in out or "Error from server" in out or "error:" in out, out

    try:
        await run_in_thread(run)
    finally:
        door.close()
