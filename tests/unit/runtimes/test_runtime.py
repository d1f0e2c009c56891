"""Runtime selection: the preset's runtime unless the workspace asks for another."""

from __future__ import annotations

import pytest

from kaito.runtimes.presets import get_preset
from kaito.runtimes.request import WorkloadRequest
from kaito.runtimes.runtime import RUNTIMES, build_workload, select_runtime
from kaito.runtimes.sizing import plan_inference
from kaito.runtimes.skus import get_gpu_config

PHI = get_preset("phi-4")
TRANSFORMERS_PRESET = PHI.model_copy(update={"name": "phi-4-tfs", "runtime": "transformers"})


@pytest.mark.parametrize(
    ("preset", "asked", "expected"),
    [
        (PHI, None, "vllm"),
        (PHI, "transformers", "transformers"),
        (TRANSFORMERS_PRESET, None, "transformers"),
        (TRANSFORMERS_PRESET, "vllm", "vllm"),
    ],
)
def test_selection(preset: object, asked: str | None, expected: str) -> None:
    request = WorkloadRequest(workspace="ws", runtime=asked)  # type: ignore[arg-type]
    assert select_runtime(preset, request).name == expected  # type: ignore[arg-type]


def test_without_a_request_the_preset_decides() -> None:
    assert select_runtime(TRANSFORMERS_PRESET) is RUNTIMES["transformers"]


def test_build_workload_goes_through_the_selected_runtime() -> None:
    gpu = get_gpu_config("Standard_NC24ads_A100_v4")
    plan = plan_inference(TRANSFORMERS_PRESET, gpu)
    workload = build_workload(WorkloadRequest(workspace="ws"), TRANSFORMERS_PRESET, gpu, plan)
    assert workload.runtime == "transformers" and workload.command[:4] == [
        "python3",
        "-m",
        "kaito.serve",
        "transformers",
    ]
