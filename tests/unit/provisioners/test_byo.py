"""Bring your own nodes: selection by labelSelector and preferredNodes, GPU shape from feature discovery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito import ctrl
from kaito.api.meta import LabelSelector, LabelSelectorRequirement
from kaito.api.workspace import Workspace
from kaito.provisioners.byo import label_selector_string, list_byo_nodes, select_nodes

SAMPLE = Path(__file__).parents[3] / "manifests" / "samples" / "workspace-phi-3-mini-byo.yaml"
A100 = {
    "nvidia.com/gpu.product": "NVIDIA-A100-80GB-PCIe",
    "nvidia.com/gpu.count": "2",
    "nvidia.com/gpu.memory": "81920",
    "nvidia.com/cuda.compute.major": "8",
    "nvidia.com/cuda.compute.minor": "0",
}


def _workspace() -> Workspace:
    return Workspace.model_validate(yaml.safe_load(SAMPLE.read_text()))


def _node(
    name: str, labels: dict[str, str], *, ready: bool = True, unschedulable: bool = False
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"unschedulable": unschedulable},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


NODES = [
    _node("gpu-node-2", {"apps": "phi-3-byo", **A100}),
    _node("gpu-node-0", {"apps": "phi-3-byo", **A100}),
    _node("gpu-node-1", {"apps": "phi-3-byo"}),  # no GPU feature discovery
    _node("gpu-node-3", {"apps": "phi-3-byo", **A100}, ready=False),
    _node("other", {"apps": "something-else", **A100}),
]


def test_preferred_nodes_come_first_then_the_other_matches_by_name() -> None:
    selected = select_nodes(NODES, _workspace())
    assert [n.name for n in selected] == ["gpu-node-0", "gpu-node-1", "gpu-node-2", "gpu-node-3"]
    assert [n.preferred for n in selected] == [True, False, False, False]


def test_gpu_shape_readiness_and_problems_are_reported_per_node() -> None:
    by_name = {n.name: n for n in select_nodes(NODES, _workspace())}
    gpu = by_name["gpu-node-0"].gpu
    assert gpu is not None and (gpu.gpu_count, gpu.memory_gib, gpu.compute_capability) == (2, 80.0, (8, 0))
    assert by_name["gpu-node-0"].usable
    assert by_name["gpu-node-1"].gpu is None and "nvidia.com/gpu.product" in (
        by_name["gpu-node-1"].problem or ""
    )
    assert not by_name["gpu-node-1"].usable
    assert not by_name["gpu-node-3"].usable and by_name["gpu-node-3"].gpu is not None


def test_a_preferred_node_without_the_labels_is_ignored() -> None:
    workspace = _workspace()
    workspace.resource.preferred_nodes = ["other", "gpu-node-2"]
    assert [n.name for n in select_nodes(NODES, workspace)][:1] == ["gpu-node-2"]
    assert "other" not in [n.name for n in select_nodes(NODES, workspace)]


@pytest.mark.parametrize(
    ("selector", "text"),
    [
        (LabelSelector(match_labels={"b": "2", "a": "1"}), "a=1,b=2"),
        (
            LabelSelector(
                match_expressions=[
                    LabelSelectorRequirement(key="gpu", operator="In", values=["a100", "h100"]),
                    LabelSelectorRequirement(key="zone", operator="NotIn", values=["1"]),
                    LabelSelectorRequirement(key="ready", operator="Exists"),
                    LabelSelectorRequirement(key="tainted", operator="DoesNotExist"),
                ]
            ),
            "gpu in (a100,h100),zone notin (1),ready,!tainted",
        ),
        (LabelSelector(), ""),
    ],
)
def test_label_selector_string(selector: LabelSelector, text: str) -> None:
    assert label_selector_string(selector) == text


async def test_list_byo_nodes_pages_through_the_servers_filtered_list() -> None:
    pages = {None: (NODES[:2], "next"), "next": (NODES[2:4], "")}
    seen: list[tuple[str | None, str | None]] = []

    class Client:
        async def list(
            self, kind: Any, *, label_selector: str | None, limit: int, continue_token: str | None
        ) -> Any:
            seen.append((label_selector, continue_token))
            items, token = pages[continue_token]
            return ctrl.ObjectList(items, "1", token)

    selected = await list_byo_nodes(Client(), _workspace())  # type: ignore[arg-type]
    assert seen == [("apps=phi-3-byo", None), ("apps=phi-3-byo", "next")]
    assert [n.name for n in selected] == ["gpu-node-0", "gpu-node-1", "gpu-node-2", "gpu-node-3"]
