"""Sizing on MIG slices and whole-GPU shares, and the resource the pod requests."""

from __future__ import annotations

import pytest

from kaito.runtimes.errors import NodeLabelError, SizingRefusal
from kaito.runtimes.partitions import gpu_resource, partition_gpu
from kaito.runtimes.presets import get_preset
from kaito.runtimes.sizing import plan_inference
from kaito.runtimes.skus import get_gpu_config

H100_NVL = get_gpu_config("Standard_NC80adis_H100_v5")  # 2 x 94 GiB
H100_X8 = get_gpu_config("Standard_ND96isr_H100_v5")


def test_a_mig_slice_is_one_gpu_with_the_profiles_memory() -> None:
    """KAITO's kaito_inferenceset_mig_mixed_strategy.yaml: phi-4-mini-instruct on a 2g.24gb slice."""
    slice_ = partition_gpu(H100_NVL, mode="mig", profile="2g.24gb")
    assert (slice_.gpu_count, slice_.memory_gib) == (1, 22.35)  # 24 x 10^9 bytes
    assert slice_.compute_capability == H100_NVL.compute_capability
    plan = plan_inference(get_preset("phi-4-mini-instruct"), slice_, max_nodes=1)
    assert (plan.nodes, plan.tensor_parallel, plan.data_parallel) == (1, 1, 1)
    assert plan.memory.usable_gib == pytest.approx(22.35 * 0.84, abs=1e-3)
    assert plan.memory.headroom_gib >= plan.memory.min_headroom_gib - 1e-6


def test_a_model_larger_than_the_slice_is_refused_not_split() -> None:
    slice_ = partition_gpu(H100_NVL, mode="mig", profile="1g.12gb")
    with pytest.raises(SizingRefusal) as refused:
        plan_inference(get_preset("llama-3.1-8b-instruct"), slice_, max_nodes=1)
    assert "MIG 1g.12gb" in str(refused.value)


def test_an_accelerator_share_is_sized_as_a_node_with_that_many_gpus() -> None:
    share = partition_gpu(H100_X8, mode="accelerator", count=4)
    assert share.gpu_count == 4 and share.memory_gib == H100_X8.memory_gib
    plan = plan_inference(get_preset("llama-3.3-70b-instruct"), share, max_nodes=1)
    assert (plan.nodes, plan.tensor_parallel) == (1, 4)
    # Two 80 GiB GPUs hold the weights (2 x 67 GiB) but not the overhead and headroom as well.
    with pytest.raises(SizingRefusal, match=r"\(2 of 8 GPUs\) has 160 GiB per node"):
        plan_inference(
            get_preset("llama-3.3-70b-instruct"),
            partition_gpu(H100_X8, mode="accelerator", count=2),
            max_nodes=1,
        )
    with pytest.raises(NodeLabelError, match=r"resource.partition.count is 9 .* use at most 8"):
        partition_gpu(H100_X8, mode="accelerator", count=9)


def test_the_pod_requests_the_mig_resource_on_a_slice() -> None:
    assert gpu_resource("mig", "2g.24gb") == "nvidia.com/mig-2g.24gb"
    assert gpu_resource("accelerator") == gpu_resource() == "nvidia.com/gpu"
