"""Unlisted Azure N-series instance types, resolved from the ARM resource-SKUs API (Microsoft.Compute/skus).

KAITO accepts any `Standard_N*` instance type, not only those its SKU table lists. kaito-py does the same
and still sizes the model: the AKS provisioner reads the SKU's entry from the resource-SKUs API, and
`gpu_config_from_resource_sku` turns it into a `GpuConfig`:

* GPU count — the `GPUs` capability (Azure reports it for every GPU size);
* GPU model and memory per GPU — Azure does not report them, so they come from the listed sibling of the
  same GPU and series: the SKU name's GPU token (A10, A100, H100, H200, T4, V100) and series letters
  (NC, ND, NV) pick a catalog SKU (Standard_NCC40ads_H100_v5 -> Standard_NC40ads_H100_v5: H100 NVL,
  94 GiB). A name with no GPU token, or no sibling, is refused with a sentence: kaito will not guess
  the memory it sizes against.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kaito.runtimes.errors import UnknownSkuError
from kaito.runtimes.skus import GpuConfig, list_gpu_configs

__all__ = ["N_SERIES_PREFIX", "gpu_config_from_resource_sku", "is_unlisted_n_series"]

N_SERIES_PREFIX = "Standard_N"
_GPU_TOKEN = re.compile(r"_(A100|A10|H100|H200|T4|V100)(?:_|$)", re.I)
_SERIES = re.compile(r"^Standard_(N[CDV])", re.I)


def is_unlisted_n_series(name: str) -> bool:
    """An Azure N-series name (GPU sizes) — what KAITO accepts beyond its table."""
    return name.lower().startswith(N_SERIES_PREFIX.lower())


def _capability(sku: Mapping[str, Any], name: str) -> str | None:
    for capability in sku.get("capabilities") or []:
        if isinstance(capability, Mapping) and str(capability.get("name", "")).lower() == name.lower():
            value = capability.get("value")
            return str(value) if value is not None else None
    return None


def _token(name: str) -> str | None:
    match = _GPU_TOKEN.search(name)
    return match.group(1).upper() if match else None


def _sibling(name: str, token: str) -> GpuConfig | None:
    series = _SERIES.match(name)
    candidates = [c for c in list_gpu_configs() if c.cloud == "azure" and _token(c.name) == token]
    if series is not None:
        same_series = [
            c for c in candidates if c.name.upper().startswith(f"STANDARD_{series.group(1).upper()}")
        ]
        candidates = same_series or candidates
    return min(candidates, key=lambda c: c.name) if candidates else None


def gpu_config_from_resource_sku(sku: Mapping[str, Any]) -> GpuConfig:
    """The node shape of a resource-SKUs entry (`resourceType` virtualMachines); raises UnknownSkuError."""
    name = str(sku.get("name", ""))
    raw_count = _capability(sku, "GPUs")
    count = int(raw_count) if raw_count is not None and raw_count.isdigit() else 0
    if count < 1:
        raise UnknownSkuError(
            f"Instance type {name!r} has no GPUs according to Azure's resource SKUs; choose a GPU size "
            "(Standard_N*) such as Standard_NC24ads_A100_v4.",
            name=name,
            suggestions=[],
        )
    token = _token(name)
    sibling = _sibling(name, token) if token else None
    if sibling is None:
        raise UnknownSkuError(
            f"Instance type {name!r} has {count} GPU(s) according to Azure, but kaito cannot tell their "
            "model and memory from the name (Azure does not report them), so it cannot size a model on it; "
            "use a listed instance type (`kaito skus`) or bring your own labelled nodes.",
            name=name,
            suggestions=[],
        )
    return sibling.model_copy(update={"name": name, "gpu_count": count})
