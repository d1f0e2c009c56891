"""The cloud's VM size catalogue: the sizes the operator's sizing reference relies on, with their hardware."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kaito.sim.cloud.vmsizes import MigSlice, VmSize, find_vm_size, mig_slice, vm_sizes


@pytest.mark.parametrize(
    ("name", "gpus", "gpu_product", "per_gpu_gib", "cuda"),
    [
        ("Standard_NC6s_v3", 1, "Tesla-V100-PCIE-16GB", 16, (7, 0)),
        ("Standard_NC12s_v3", 2, "Tesla-V100-PCIE-16GB", 16, (7, 0)),
        ("Standard_NC24s_v3", 4, "Tesla-V100-PCIE-16GB", 16, (7, 0)),
        ("Standard_NC4as_T4_v3", 1, "Tesla-T4", 16, (7, 5)),
        ("Standard_NC8as_T4_v3", 1, "Tesla-T4", 16, (7, 5)),
        ("Standard_NC16as_T4_v3", 1, "Tesla-T4", 16, (7, 5)),
        ("Standard_NC64as_T4_v3", 4, "Tesla-T4", 16, (7, 5)),
        ("Standard_NV36ads_A10_v5", 1, "NVIDIA-A10", 24, (8, 6)),
        ("Standard_NV72ads_A10_v5", 2, "NVIDIA-A10", 24, (8, 6)),
        ("Standard_NC24ads_A100_v4", 1, "NVIDIA-A100-80GB-PCIe", 80, (8, 0)),
        ("Standard_NC48ads_A100_v4", 2, "NVIDIA-A100-80GB-PCIe", 80, (8, 0)),
        ("Standard_NC96ads_A100_v4", 4, "NVIDIA-A100-80GB-PCIe", 80, (8, 0)),
        ("Standard_ND96asr_A100_v4", 8, "NVIDIA-A100-SXM4-40GB", 40, (8, 0)),
        ("Standard_ND96amsr_A100_v4", 8, "NVIDIA-A100-SXM4-80GB", 80, (8, 0)),
        ("Standard_NC40ads_H100_v5", 1, "NVIDIA-H100-NVL", 94, (9, 0)),
        ("Standard_NC80adis_H100_v5", 2, "NVIDIA-H100-NVL", 94, (9, 0)),
        ("Standard_ND96isr_H100_v5", 8, "NVIDIA-H100-80GB-HBM3", 80, (9, 0)),
        ("Standard_ND96isr_H200_v5", 8, "NVIDIA-H200", 141, (9, 0)),
    ],
)
def test_gpu_sizes_from_the_sizing_reference(
    name: str, gpus: int, gpu_product: str, per_gpu_gib: int, cuda: tuple[int, int]
) -> None:
    size = find_vm_size(name)
    assert size is not None
    assert (size.gpus, size.gpu_product, size.gpu_memory_mib, size.cuda_compute) == (
        gpus,
        gpu_product,
        per_gpu_gib * 1024,
        cuda,
    )


@pytest.mark.parametrize(
    ("name", "vcpus", "memory_gib"), [("Standard_D4s_v3", 4, 16), ("Standard_D8s_v5", 8, 32)]
)
def test_cpu_sizes_have_no_gpu(name: str, vcpus: int, memory_gib: int) -> None:
    size = find_vm_size(name)
    assert size is not None
    assert (size.vcpus, size.memory_mib, size.gpus, size.gpu_product) == (vcpus, memory_gib * 1024, 0, None)


@pytest.mark.parametrize("spelling", ["standard_nc24ads_a100_v4", "STANDARD_NC24ADS_A100_V4"])
def test_lookup_ignores_letter_case_like_azure(spelling: str) -> None:
    size = find_vm_size(spelling)
    assert size is not None and size.name == "Standard_NC24ads_A100_v4"


def test_unknown_size_is_none() -> None:
    assert find_vm_size("Standard_NC999_v9") is None


def test_catalogue_names_are_unique_and_every_size_has_a_quota_family() -> None:
    names = [size.name.lower() for size in vm_sizes()]
    assert len(names) == len(set(names)) >= 20
    assert all(size.family for size in vm_sizes())


@pytest.mark.parametrize(
    "entry",
    [
        {"gpus": 2},
        {"gpus": 0, "gpu_product": "NVIDIA-A10", "gpu_memory_mib": 1, "cuda_compute": (8, 6)},
    ],
)
def test_gpu_fields_must_come_together(entry: dict[str, object]) -> None:
    base: dict[str, object] = {
        "name": "Standard_X1",
        "family": "f",
        "vcpus": 1,
        "memory_gib": 1,
        "temp_disk_gib": 0,
    }
    with pytest.raises(ValidationError, match="Standard_X1"):
        VmSize.model_validate(base | entry)


@pytest.mark.parametrize(
    ("vm_size", "profile", "product", "per_gpu", "memory_mib"),
    [
        ("Standard_NC24ads_A100_v4", "MIG1g", "NVIDIA-A100-80GB-PCIe-MIG-1g.10gb", 7, 10240),
        ("Standard_NC24ads_A100_v4", "MIG2g", "NVIDIA-A100-80GB-PCIe-MIG-2g.20gb", 3, 20480),
        ("Standard_NC48ads_A100_v4", "MIG3g", "NVIDIA-A100-80GB-PCIe-MIG-3g.40gb", 2, 40960),
        ("Standard_NC96ads_A100_v4", "MIG4g", "NVIDIA-A100-80GB-PCIe-MIG-4g.40gb", 1, 40960),
        ("Standard_NC40ads_H100_v5", "MIG7g", "NVIDIA-H100-NVL-MIG-7g.94gb", 1, 96256),
        ("Standard_NC80adis_H100_v5", "MIG1g", "NVIDIA-H100-NVL-MIG-1g.12gb", 7, 12032),
    ],
)
def test_mig_profiles_split_gpus_like_nvidia(
    vm_size: str, profile: str, product: str, per_gpu: int, memory_mib: int
) -> None:
    size = find_vm_size(vm_size)
    assert size is not None
    assert mig_slice(size, profile) == MigSlice(product, per_gpu, memory_mib)


@pytest.mark.parametrize(
    ("vm_size", "profile", "message"),
    [
        ("Standard_NC24ads_A100_v4", "MIG5g", "'MIG5g' is not one of MIG1g, MIG2g, MIG3g, MIG4g, MIG7g"),
        ("Standard_NV36ads_A10_v5", "MIG1g", "Standard_NV36ads_A10_v5 does not support MIG; sizes that do: "),
        ("Standard_D4s_v3", "MIG1g", "does not support MIG"),
    ],
)
def test_mig_is_refused_where_it_does_not_exist(vm_size: str, profile: str, message: str) -> None:
    size = find_vm_size(vm_size)
    assert size is not None
    with pytest.raises(ValueError, match=message):
        mig_slice(size, profile)
