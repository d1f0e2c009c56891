"""Unlisted Standard_N* sizes from ARM resource-SKUs entries: GPU count from Azure, the GPU from a sibling."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.runtimes.errors import UnknownSkuError
from kaito.runtimes.presets import get_preset
from kaito.runtimes.resource_skus import gpu_config_from_resource_sku, is_unlisted_n_series
from kaito.runtimes.sizing import plan_inference


def _sku(name: str, gpus: int | None) -> dict[str, Any]:
    capabilities = [{"name": "vCPUs", "value": "40"}, {"name": "MemoryGB", "value": "320"}]
    if gpus is not None:
        capabilities.append({"name": "GPUs", "value": str(gpus)})
    return {"resourceType": "virtualMachines", "name": name, "capabilities": capabilities}


def test_a_confidential_h100_takes_its_gpu_from_the_listed_nc_h100() -> None:
    gpu = gpu_config_from_resource_sku(_sku("Standard_NCC40ads_H100_v5", 1))
    assert (gpu.name, gpu.gpu_count, gpu.memory_gib, gpu.compute_capability) == (
        "Standard_NCC40ads_H100_v5",
        1,
        94,
        (9, 0),
    )
    plan = plan_inference(get_preset("llama-3.1-8b-instruct"), gpu)
    assert plan.instance_type == "Standard_NCC40ads_H100_v5" and plan.nodes == 1


@pytest.mark.parametrize(
    ("name", "gpus", "message"),
    [
        ("Standard_NC8as_v9", 1, "cannot tell their model and memory from the name"),
        ("Standard_NC40ads_H100_v9", None, "has no GPUs according to Azure's resource SKUs"),
    ],
)
def test_what_cannot_be_told_is_refused(name: str, gpus: int | None, message: str) -> None:
    with pytest.raises(UnknownSkuError, match=message):
        gpu_config_from_resource_sku(_sku(name, gpus))


def test_only_n_series_names_are_looked_up() -> None:
    assert is_unlisted_n_series("Standard_NCC40ads_H100_v5")
    assert not is_unlisted_n_series("Standard_D8s_v5") and not is_unlisted_n_series("p5.48xlarge")
