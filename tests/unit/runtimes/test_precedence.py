"""The user's parallel sizes against the plan: applied where the nodes can run them, noted either way."""

from __future__ import annotations

import pytest

from kaito.runtimes.precedence import apply_parallelism
from kaito.runtimes.presets import get_preset
from kaito.runtimes.sizing import plan_inference
from kaito.runtimes.skus import get_gpu_config


def _apply(preset: str, sku: str, **requested: int) -> tuple[int, int, int, tuple[str, ...]]:
    p, g = get_preset(preset), get_gpu_config(sku)
    plan = plan_inference(p, g)
    flags = {k.replace("_", "-"): (k.replace("_", "-"), v) for k, v in requested.items()}
    result = apply_parallelism(p, g, plan, flags)
    return result.tensor_parallel, result.pipeline_parallel, result.data_parallel, result.notes


def test_feasible_user_tensor_parallel_wins_and_is_noted() -> None:
    # llama-3.1-8b on 2 x A100: the plan replicates (DP 2); the user asks for TP 2, which the node runs.
    tp, pp, dp, notes = _apply(
        "llama-3.1-8b-instruct", "Standard_NC48ads_A100_v4", tensor_parallel_size=2, data_parallel_size=1
    )
    assert (tp, pp, dp) == (2, 1, 1)
    assert notes == (
        "vllm.tensor-parallel-size is 2, vllm.data-parallel-size is 1: it replaces the plan's 1, 2 "
        "(the inference config wins, as in KAITO).",
    )


@pytest.mark.parametrize(
    ("preset", "sku", "requested", "reason"),
    [
        # KAITO's own kaito_workspace_custom_config.yaml: TP 2 on a one-GPU A100 node.
        (
            "deepseek-r1-distill-qwen-14b",
            "Standard_NC24ads_A100_v4",
            {"tensor_parallel_size": 2},
            "tensor parallel 2 exceeds the 1 GPU(s) per node of Standard_NC24ads_A100_v4",
        ),
        (
            "falcon-7b",
            "Standard_NC96ads_A100_v4",
            {"tensor_parallel_size": 4, "data_parallel_size": 1},
            "does not divide falcon-7b's 71 attention heads",
        ),
        (
            "llama-3.3-70b-instruct",
            "Standard_ND96asr_A100_v4",
            {"tensor_parallel_size": 4},
            "TP 4 x PP 1 x DP 1 = 4 GPUs, but one instance runs on 8",
        ),
        (
            "llama-3.3-70b-instruct",
            "Standard_NC96ads_A100_v4",
            {"tensor_parallel_size": 1, "pipeline_parallel_size": 4},
            "",
        ),
    ],
)
def test_infeasible_user_value_keeps_the_plan_and_says_why(
    preset: str, sku: str, requested: dict[str, int], reason: str
) -> None:
    before = plan_inference(get_preset(preset), get_gpu_config(sku))
    tp, pp, dp, notes = _apply(preset, sku, **requested)
    if not reason:  # feasible after all: PP 4 of a 70B model on 4 x A100 80GB fits
        assert (tp, pp, dp) == (1, 4, 1) and "replaces the plan's" in notes[0]
        return
    assert (tp, pp, dp) == (before.tensor_parallel, before.pipeline_parallel, before.data_parallel)
    (note,) = notes
    assert note.startswith("vllm.tensor-parallel-size is ") and reason in note
    assert "kaito keeps the plan's" in note


def test_the_plan_own_values_change_nothing() -> None:
    p, g = get_preset("phi-4"), get_gpu_config("Standard_NC24ads_A100_v4")
    plan = plan_inference(p, g)
    assert apply_parallelism(p, g, plan, {"tensor-parallel-size": ("tensor_parallel_size", 1)}) == plan
