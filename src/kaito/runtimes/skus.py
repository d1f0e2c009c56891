"""The GPU instance-type catalog and the same facts read from a bring-your-own node's labels.

A `GpuConfig` describes one node shape: how many GPUs, how much memory each has (GiB, per GPU — KAITO's
handlers store per-node totals; we store per GPU so a BYO node's `nvidia.com/gpu.memory` label maps onto
it directly), the GPU model and its CUDA compute capability (which decides bf16 support: >= 8.0).

The packaged `data/skus.yaml` lists Azure NC/ND/NV and AWS p4d/p4de/p5/p5e/g5/g6/g6e shapes. Lookup is
case-insensitive (`standard_nc24ads_a100_v4` finds `Standard_NC24ads_A100_v4`); an unknown name raises
`UnknownSkuError` with the closest names.

For nodes kaito-py did not create, `gpu_config_from_node_labels` reads NVIDIA GPU feature discovery labels:
`nvidia.com/gpu.product`, `nvidia.com/gpu.count`, `nvidia.com/gpu.memory` (MiB per GPU) and
`nvidia.com/cuda.compute.major` / `.minor`.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kaito.runtimes._catalog_yaml import load_catalog
from kaito.runtimes.errors import NodeLabelError, UnknownSkuError

__all__ = [
    "LABEL_COMPUTE_MAJOR",
    "LABEL_COMPUTE_MINOR",
    "LABEL_GPU_COUNT",
    "LABEL_GPU_MEMORY",
    "LABEL_GPU_PRODUCT",
    "Cloud",
    "GpuConfig",
    "get_gpu_config",
    "gpu_config_from_node_labels",
    "list_gpu_configs",
]

Cloud = Literal["azure", "aws", "byo"]

LABEL_GPU_PRODUCT = "nvidia.com/gpu.product"
LABEL_GPU_COUNT = "nvidia.com/gpu.count"
LABEL_GPU_MEMORY = "nvidia.com/gpu.memory"
LABEL_COMPUTE_MAJOR = "nvidia.com/cuda.compute.major"
LABEL_COMPUTE_MINOR = "nvidia.com/cuda.compute.minor"

# A10 and A10G: KAITO lowers gpu-memory-utilization to 0.82 on them. The lookahead keeps A100 out.
_A10_FAMILY = re.compile(r"\bA10G?(?![0-9])", re.IGNORECASE)


class GpuConfig(BaseModel):
    """One node shape: GPU count, memory per GPU, GPU model, compute capability, local NVMe."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    name: str
    cloud: Cloud
    gpu_model: str
    gpu_count: int = Field(gt=0)
    memory_gib: float = Field(gt=0, description="memory of one GPU, GiB")
    compute_capability: tuple[int, int]
    nvme: bool = False

    @property
    def node_memory_gib(self) -> float:
        """All GPUs of the node together."""
        return self.memory_gib * self.gpu_count

    @property
    def supports_bf16(self) -> bool:
        """bfloat16 needs compute capability 8.0 (Ampere) or newer."""
        return self.compute_capability >= (8, 0)

    @property
    def is_a10_family(self) -> bool:
        """NVIDIA A10 / A10G, on which KAITO leaves more memory outside vLLM."""
        return bool(_A10_FAMILY.search(self.gpu_model.replace("-", " ")))

    @property
    def compute_capability_str(self) -> str:
        """Compute capability as NVIDIA writes it, e.g. "8.6"."""
        return f"{self.compute_capability[0]}.{self.compute_capability[1]}"

    def describe(self) -> str:
        """One line for messages: `2 x NVIDIA A100 (80 GiB each, compute capability 8.0)`."""
        return (
            f"{self.gpu_count} x {self.gpu_model} ({_fmt(self.memory_gib)} GiB each, "
            f"compute capability {self.compute_capability_str})"
        )


def _fmt(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


def _parse_cc(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


@functools.cache
def _gpu_table() -> dict[str, tuple[str, tuple[int, int]]]:
    raw = _raw_catalog()
    return {key: (model, _parse_cc(cc)) for key, (model, cc) in raw["gpus"].items()}


@functools.cache
def _raw_catalog() -> dict[str, Any]:
    loaded: dict[str, Any] = load_catalog("skus.yaml")
    return loaded


@functools.cache
def _load() -> tuple[GpuConfig, ...]:
    gpus = _gpu_table()
    rows = _raw_catalog()["skus"]
    assert isinstance(rows, list)
    configs = []
    for name, gpu, count, memory, nvme in rows:
        model, cc = gpus[gpu]
        cloud: Cloud = "azure" if name.startswith("Standard_") else "aws"
        configs.append(
            GpuConfig(
                name=name,
                cloud=cloud,
                gpu_model=model,
                gpu_count=count,
                memory_gib=float(memory),
                compute_capability=cc,
                nvme=nvme,
            )
        )
    return tuple(configs)


def list_gpu_configs() -> list[GpuConfig]:
    """Every known instance type, in catalog order (Azure then AWS, small to large within a family)."""
    return list(_load())


@functools.cache
def _index() -> dict[str, GpuConfig]:
    return {config.name.lower(): config for config in _load()}


def get_gpu_config(name: str) -> GpuConfig:
    """The catalog entry for instance type `name`, matched case-insensitively."""
    found = _index().get(name.strip().lower())
    if found is not None:
        return found
    names = [config.name for config in _load()]
    lowered = {n.lower(): n for n in names}
    close = [
        lowered[c] for c in difflib.get_close_matches(name.strip().lower(), list(lowered), n=3, cutoff=0.6)
    ]
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise UnknownSkuError(
        f"Instance type {name!r} is not in the GPU SKU catalog.{hint} "
        f"Run `kaito skus` to list the {len(names)} known instance types.",
        name=name,
        suggestions=close,
    )


def _int_label(labels: Mapping[str, str], key: str, node: str) -> int:
    value = labels.get(key)
    if value is None:
        raise NodeLabelError(
            f"Node {node} has no {key} label; install NVIDIA GPU feature discovery (it ships with the GPU "
            "operator) so kaito can read the node's GPUs."
        )
    try:
        number = int(value)
    except ValueError:
        raise NodeLabelError(f"Node {node} label {key} is {value!r}; expected a whole number.") from None
    if number <= 0:
        raise NodeLabelError(f"Node {node} label {key} is {value!r}; expected a number above 0.")
    return number


def gpu_config_from_node_labels(labels: Mapping[str, str], node_name: str = "<unnamed>") -> GpuConfig:
    """Read a bring-your-own node's GPU shape from its NVIDIA GPU feature-discovery labels.

    The compute capability comes from `nvidia.com/cuda.compute.major/minor`; older feature-discovery
    releases omit them, so a product name the catalog knows (A100, H100, ...) fills the gap.
    """
    product = labels.get(LABEL_GPU_PRODUCT)
    if not product:
        raise NodeLabelError(
            f"Node {node_name} has no {LABEL_GPU_PRODUCT} label; install NVIDIA GPU feature discovery "
            "(it ships with the GPU operator) so kaito can read the node's GPUs."
        )
    count = _int_label(labels, LABEL_GPU_COUNT, node_name)
    memory_mib = _int_label(labels, LABEL_GPU_MEMORY, node_name)
    if LABEL_COMPUTE_MAJOR in labels or LABEL_COMPUTE_MINOR in labels:
        major = _int_label(labels, LABEL_COMPUTE_MAJOR, node_name)
        minor_text = labels.get(LABEL_COMPUTE_MINOR, "0")
        if not minor_text.isdigit():
            raise NodeLabelError(
                f"Node {node_name} label {LABEL_COMPUTE_MINOR} is {minor_text!r}; expected a whole number."
            )
        cc = (major, int(minor_text))
    else:
        cc = _cc_from_product(product, node_name)
    return GpuConfig(
        name=product,
        cloud="byo",
        gpu_model=product,
        gpu_count=count,
        memory_gib=round(memory_mib / 1024, 2),
        compute_capability=cc,
        nvme=False,
    )


def _cc_from_product(product: str, node_name: str) -> tuple[int, int]:
    normalized = product.replace("-", " ").upper()
    # Longest names first so "A100" wins over "A10" and "L40S" over "L4".
    for key, (_model, cc) in sorted(_gpu_table().items(), key=lambda item: -len(item[0])):
        if re.search(rf"\b{re.escape(key.upper())}\b", normalized):
            return cc
    raise NodeLabelError(
        f"Node {node_name} has no {LABEL_COMPUTE_MAJOR}/{LABEL_COMPUTE_MINOR} labels and its GPU "
        f"{product!r} is not one kaito knows; upgrade NVIDIA GPU feature discovery so it publishes the "
        "compute capability."
    )
