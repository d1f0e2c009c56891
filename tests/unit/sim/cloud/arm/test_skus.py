"""The simulated Microsoft.Compute/skus list: every VM size, shaped as Azure returns it."""

from __future__ import annotations

from kaito.sim.cloud.arm.skus import resource_skus


def _by_name(body: dict[str, object]) -> dict[str, dict[str, object]]:
    return {entry["name"]: entry for entry in body["value"]}  # type: ignore[attr-defined,index]


def test_gpu_sizes_report_their_gpu_count_and_nothing_of_the_gpu() -> None:
    entry = _by_name(resource_skus("eastus"))["Standard_NCC40ads_H100_v5"]
    capabilities = {c["name"]: c["value"] for c in entry["capabilities"]}  # type: ignore[attr-defined]
    assert capabilities == {"vCPUs": "40", "MemoryGB": "320", "MaxResourceVolumeMB": "131072", "GPUs": "1"}
    assert entry["resourceType"] == "virtualMachines" and entry["locations"] == ["eastus"]


def test_cpu_sizes_have_no_gpus_capability() -> None:
    entry = _by_name(resource_skus("eastus"))["Standard_D8s_v5"]
    assert "GPUs" not in {c["name"] for c in entry["capabilities"]}  # type: ignore[attr-defined]


def test_a_location_filter_for_another_region_lists_nothing() -> None:
    assert resource_skus("eastus", "location eq 'westus2'") == {"value": []}
    assert resource_skus("eastus", "location eq 'EastUS'")["value"]
