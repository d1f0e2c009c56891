"""resolve_plan and BYO node selection: what a Workspace needs, or the sentence saying why it cannot run."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.api import Workspace
from kaito.controllers.workspace_plan import (
    PlanProblem,
    known_presets,
    resolve_plan,
    select_byo_nodes,
    tunable_presets,
)

A100_LABELS = {
    "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
    "nvidia.com/gpu.count": "1",
    "nvidia.com/gpu.memory": "81920",
    "nvidia.com/cuda.compute.major": "8",
    "nvidia.com/cuda.compute.minor": "0",
}


def workspace(
    *, instance_type: str | None = "Standard_NC6s_v3", preset: str = "phi-3-mini-4k-instruct", **extra: Any
) -> Workspace:
    resource: dict[str, Any] = {"labelSelector": {"matchLabels": {"apps": "phi"}}}
    if instance_type:
        resource["instanceType"] = instance_type
    resource.update(extra.pop("resource", {}))
    body: dict[str, Any] = {
        "metadata": {"name": "ws", "namespace": "default", "uid": "u1"},
        "resource": resource,
        "inference": {"preset": {"name": preset}},
    }
    body.update(extra)
    return Workspace.model_validate(body)


def node(
    name: str, labels: dict[str, str] | None = None, *, ready: bool = True, cordoned: bool = False
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"apps": "phi", **A100_LABELS, **(labels or {})}},
        "spec": {"unschedulable": True} if cordoned else {},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


@pytest.mark.parametrize(
    ("preset", "instance_type", "nodes", "tp", "pp"),
    [
        ("phi-3-mini-4k-instruct", "Standard_NC6s_v3", 1, 1, 1),
        ("llama-3.3-70b-instruct", "Standard_NC48ads_A100_v4", 2, 2, 2),
    ],
)
def test_instance_type_plans_are_sized_by_the_runtimes(
    preset: str, instance_type: str, nodes: int, tp: int, pp: int
) -> None:
    plan = resolve_plan(workspace(preset=preset, instance_type=instance_type))
    assert plan.target_nodes == nodes
    assert plan.sizing is not None
    assert (plan.sizing.tensor_parallel, plan.sizing.pipeline_parallel) == (tp, pp)
    assert f"planned {nodes} node(s) of {instance_type}" in plan.describe()


def test_the_users_max_model_len_sizes_the_plan() -> None:
    plan = resolve_plan(workspace(), config_text="vllm:\n  max-model-len: 1024\n")
    assert plan.sizing is not None and plan.sizing.max_model_len == 1024


def test_kaito_custom_config_example_plans_and_reports_the_contradicting_key() -> None:
    """KAITO's kaito_workspace_custom_config.yaml asks TP 2 of a one-GPU node: planned, the event says so."""
    config = (
        "max_probe_steps: 6\nvllm:\n  cpu-offload-gb: 0\n  gpu-memory-utilization: 0.95\n  swap-space: 4\n"
        "  max-model-len: 131072\n  tensor-parallel-size: 2\n  max-seq-len-to-capture: 8192\n"
        "  num-scheduler-steps: 1\n  enable-chunked-prefill: true\n"
    )
    ws = workspace(instance_type="Standard_NC24ads_A100_v4", preset="deepseek-r1-distill-qwen-14b")
    plan = resolve_plan(ws, config_text=config)
    assert plan.sizing is not None and plan.sizing.tensor_parallel == 1
    assert (
        "vllm.tensor-parallel-size is 2, but tensor parallel 2 exceeds the 1 GPU(s) per node"
        in plan.describe()
    )
    assert "vllm.num-scheduler-steps is accepted but left out" in plan.describe()


def test_kv_cache_offload_share_is_accepted_and_its_effect_stated() -> None:
    plan = resolve_plan(workspace(), config_text="kv_cache_cpu_memory_utilization: 0.5\n")
    assert "kv_cache_cpu_memory_utilization 0.5 is accepted but has no effect" in plan.describe()


@pytest.mark.parametrize(
    ("ws", "nodes", "config", "reason", "field", "permanent"),
    [
        (
            workspace(instance_type="Standard_NC6s_v9"),
            [],
            None,
            "UnknownInstanceType",
            "resource.instanceType",
            True,
        ),
        (workspace(instance_type=None), [], None, "NodesNotFound", "resource.labelSelector", False),
        (
            workspace(),
            [],
            "vllm:\n  max-model-lenn: 10\n",
            "InvalidInferenceConfig",
            "inference.config",
            True,
        ),
        (workspace(), [], "vllm: [1, 2]", "InvalidInferenceConfig", "inference.config", True),
        (
            workspace(instance_type=None, preset="llama-3.3-70b-instruct"),
            [node("n1")],
            None,
            "SizingRefused",
            "resource.labelSelector",
            False,  # labelling more nodes fixes it
        ),
    ],
)
def test_problems_name_the_field_to_fix(
    ws: Workspace, nodes: list[dict[str, Any]], config: str | None, reason: str, field: str, permanent: bool
) -> None:
    with pytest.raises(PlanProblem) as caught:
        resolve_plan(ws, byo_nodes=select_byo_nodes(ws, nodes), config_text=config)
    assert caught.value.reason == reason
    assert caught.value.message.startswith(f"{field}: ")
    assert caught.value.permanent is permanent


def test_byo_nodes_without_gpu_labels_are_reported() -> None:
    ws = workspace(instance_type=None)
    bare = {
        "metadata": {"name": "n1", "labels": {"apps": "phi"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    with pytest.raises(PlanProblem) as caught:
        resolve_plan(ws, byo_nodes=select_byo_nodes(ws, [bare]))
    assert caught.value.reason == "NodeLabelsMissing"
    assert "nvidia.com/gpu.product" in caught.value.message


def test_byo_selection_takes_ready_schedulable_matching_nodes_preferred_first() -> None:
    ws = workspace(instance_type=None, resource={"preferredNodes": ["z-node"]})
    nodes = [
        node("b-node"),
        node("a-node"),
        node("z-node"),
        node("not-ready", ready=False),
        node("cordoned", cordoned=True),
        node("other", {"apps": "other"}),
    ]
    assert [n.name for n in select_byo_nodes(ws, nodes)] == ["z-node", "a-node", "b-node"]
    plan = resolve_plan(ws, byo_nodes=select_byo_nodes(ws, nodes))
    assert plan.gpu is not None and plan.gpu.cloud == "byo"
    assert plan.target_nodes == 1


def test_tuning_plans_one_node_without_sizing() -> None:
    ws = Workspace.model_validate(
        {
            "metadata": {"name": "t", "namespace": "default"},
            "resource": {
                "instanceType": "Standard_NC24ads_A100_v4",
                "labelSelector": {"matchLabels": {"a": "b"}},
            },
            "tuning": {
                "preset": {"name": "phi-3-mini-4k-instruct"},
                "method": "lora",
                "input": {"urls": ["https://example.com/data.parquet"]},
                "output": {"volumeSource": {"emptyDir": {}}},
            },
        }
    )
    plan = resolve_plan(ws)
    assert (plan.target_nodes, plan.sizing) == (1, None)
    assert plan.preset is not None and plan.preset.name == "phi-3-mini-4k-instruct"


def test_a_template_workspace_runs_the_requested_count() -> None:
    ws = workspace(
        resource={"count": 2}, inference={"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}
    )
    plan = resolve_plan(ws)
    assert (plan.target_nodes, plan.preset, plan.sizing) == (2, None, None)


def test_catalog_names() -> None:
    assert "phi-3-mini-4k-instruct" in known_presets()
    assert "phi-3-mini-4k-instruct" in tunable_presets()
    assert "falcon-7b" in known_presets() and "falcon-7b" not in tunable_presets()


def test_a_mig_slice_on_byo_nodes_is_sized_on_the_slices_memory() -> None:
    ws = workspace(
        instance_type=None,
        preset="phi-4-mini-instruct",
        resource={"partition": {"mode": "mig", "profile": "3g.40gb"}},
    )
    plan = resolve_plan(ws, byo_nodes=select_byo_nodes(ws, [node("gpu-0")]))
    assert plan.gpu is not None and plan.gpu.name.endswith("(MIG 3g.40gb)")
    assert plan.sizing is not None and plan.sizing.memory.gpu_memory_gib == pytest.approx(37.25)
    assert plan.target_nodes == 1


def test_a_model_too_big_for_the_slice_is_refused_naming_the_selector() -> None:
    ws = workspace(
        instance_type=None,
        preset="llama-3.1-8b-instruct",
        resource={"partition": {"mode": "mig", "profile": "1g.10gb"}},
    )
    with pytest.raises(PlanProblem) as problem:
        resolve_plan(ws, byo_nodes=select_byo_nodes(ws, [node("gpu-0"), node("gpu-1")]))
    assert problem.value.reason == "SizingRefused"
    assert problem.value.message.startswith("resource.labelSelector: llama-3.1-8b-instruct needs")
    assert "(MIG 1g.10gb)" in problem.value.message
