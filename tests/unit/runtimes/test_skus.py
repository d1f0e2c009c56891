"""The SKU catalog and GPU configs read from NVIDIA GPU feature-discovery labels."""

from __future__ import annotations

import pytest

from kaito.runtimes.errors import NodeLabelError, UnknownSkuError
from kaito.runtimes.skus import get_gpu_config, gpu_config_from_node_labels, list_gpu_configs

# (name, GPUs, GiB per node, model, compute capability) from the reference table (sizing.md).
REFERENCE = [
    ("Standard_NC6s_v3", 1, 16, "NVIDIA V100", (7, 0)),
    ("Standard_NC24s_v3", 4, 64, "NVIDIA V100", (7, 0)),
    ("Standard_NC64as_T4_v3", 4, 64, "NVIDIA T4", (7, 5)),
    ("Standard_NV36ads_A10_v5", 1, 24, "NVIDIA A10", (8, 6)),
    ("Standard_NV72ads_A10_v5", 2, 48, "NVIDIA A10", (8, 6)),
    ("Standard_NC96ads_A100_v4", 4, 320, "NVIDIA A100", (8, 0)),
    ("Standard_ND96asr_A100_v4", 8, 320, "NVIDIA A100", (8, 0)),
    ("Standard_ND96amsr_A100_v4", 8, 640, "NVIDIA A100", (8, 0)),
    ("Standard_NC80adis_H100_v5", 2, 188, "NVIDIA H100", (9, 0)),
    ("Standard_ND96isr_H100_v5", 8, 640, "NVIDIA H100", (9, 0)),
    ("Standard_ND96isr_H200_v5", 8, 1128, "NVIDIA H200", (9, 0)),
    ("p4d.24xlarge", 8, 320, "NVIDIA A100", (8, 0)),
    ("p4de.24xlarge", 8, 640, "NVIDIA A100", (8, 0)),
    ("p5.48xlarge", 8, 640, "NVIDIA H100", (9, 0)),
    ("p5e.48xlarge", 8, 1128, "NVIDIA H200", (9, 0)),
    ("g5.12xlarge", 4, 96, "NVIDIA A10G", (8, 6)),
    ("g6.xlarge", 1, 24, "NVIDIA L4", (8, 9)),
    ("g6e.48xlarge", 8, 384, "NVIDIA L40S", (8, 9)),
]


@pytest.mark.parametrize(("name", "gpus", "node_gib", "model", "cc"), REFERENCE)
def test_catalog_figures(name: str, gpus: int, node_gib: float, model: str, cc: tuple[int, int]) -> None:
    config = get_gpu_config(name)
    assert (config.gpu_count, config.node_memory_gib, config.gpu_model, config.compute_capability) == (
        gpus,
        node_gib,
        model,
        cc,
    )


@pytest.mark.parametrize(
    ("name", "bf16", "a10"),
    [
        ("Standard_NC6s_v3", False, False),
        ("Standard_NC4as_T4_v3", False, False),
        ("Standard_NV36ads_A10_v5", True, True),
        ("g5.xlarge", True, True),
        ("Standard_NC24ads_A100_v4", True, False),
    ],
)
def test_bf16_and_a10_family(name: str, bf16: bool, a10: bool) -> None:
    config = get_gpu_config(name)
    assert (config.supports_bf16, config.is_a10_family) == (bf16, a10)


def test_lookup_is_case_insensitive() -> None:
    assert get_gpu_config("standard_nc24ads_a100_v4").name == "Standard_NC24ads_A100_v4"
    assert get_gpu_config(" P5.48XLARGE ").name == "p5.48xlarge"


def test_unknown_sku_suggests_close_names() -> None:
    with pytest.raises(UnknownSkuError) as raised:
        get_gpu_config("Standard_NC24ads_A100_v3")
    assert "Did you mean Standard_NC24ads_A100_v4" in str(raised.value)


def test_catalog_covers_both_clouds_with_unique_names() -> None:
    configs = list_gpu_configs()
    assert {c.cloud for c in configs} == {"azure", "aws"}
    assert len({c.name.lower() for c in configs}) == len(configs)
    assert all(c.nvme for c in configs if c.gpu_model in ("NVIDIA H100", "NVIDIA H200"))


GFD = {
    "nvidia.com/gpu.product": "NVIDIA-A10G",
    "nvidia.com/gpu.count": "4",
    "nvidia.com/gpu.memory": "23028",
    "nvidia.com/cuda.compute.major": "8",
    "nvidia.com/cuda.compute.minor": "6",
}


def test_gpu_config_from_feature_discovery_labels() -> None:
    config = gpu_config_from_node_labels(GFD, "node-a")
    assert (config.cloud, config.gpu_count, config.memory_gib, config.compute_capability) == (
        "byo",
        4,
        22.49,
        (8, 6),
    )
    assert config.is_a10_family and config.supports_bf16


@pytest.mark.parametrize(
    ("product", "cc"),
    [("NVIDIA-A100-SXM4-80GB", (8, 0)), ("Tesla-V100-SXM2-16GB", (7, 0)), ("NVIDIA-L40S", (8, 9))],
)
def test_compute_capability_from_the_product_when_labels_are_missing(
    product: str, cc: tuple[int, int]
) -> None:
    labels = {
        "nvidia.com/gpu.product": product,
        "nvidia.com/gpu.count": "1",
        "nvidia.com/gpu.memory": "16384",
    }
    assert gpu_config_from_node_labels(labels).compute_capability == cc


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"nvidia.com/gpu.product": None}, "has no nvidia.com/gpu.product label"),
        ({"nvidia.com/gpu.count": None}, "has no nvidia.com/gpu.count label"),
        ({"nvidia.com/gpu.memory": "lots"}, "nvidia.com/gpu.memory is 'lots'; expected a whole number"),
        ({"nvidia.com/gpu.count": "0"}, "expected a number above 0"),
        ({"nvidia.com/cuda.compute.minor": "x"}, "cuda.compute.minor is 'x'"),
    ],
)
def test_bad_labels_are_named(change: dict[str, str | None], message: str) -> None:
    labels = {k: v for k, v in {**GFD, **change}.items() if v is not None}
    with pytest.raises(NodeLabelError, match="node-a") as raised:
        gpu_config_from_node_labels(labels, "node-a")
    assert message in str(raised.value)


def test_unknown_product_without_compute_labels() -> None:
    labels = {
        "nvidia.com/gpu.product": "Mystery-GPU",
        "nvidia.com/gpu.count": "1",
        "nvidia.com/gpu.memory": "1024",
    }
    with pytest.raises(NodeLabelError, match="not one kaito knows"):
        gpu_config_from_node_labels(labels)


def test_describe() -> None:
    assert get_gpu_config("Standard_NC48ads_A100_v4").describe() == (
        "2 x NVIDIA A100 (80 GiB each, compute capability 8.0)"
    )
