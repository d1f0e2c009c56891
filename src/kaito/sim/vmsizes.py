"""The simulated cloud's catalogue of VM sizes (vCPUs, memory, GPUs), read from ``vmsizes.json``.

This is the cloud's own knowledge, as Azure Compute would report it: the ARM endpoint uses it to
validate a pool's ``vmSize`` and to give simulated nodes their capacity and GPU feature-discovery
labels. It deliberately does not import the operator's SKU table (``kaito.runtimes``): the sim is a
cloud, not a test double of our code, so a mismatch between the two is a finding, not something to paper
over.

Invariants (checked when the file is loaded, so a bad edit fails at import):
- names are unique ignoring case (Azure treats VM size names case-insensitively); lookups ignore case
  too;
- a size has GPUs exactly when it names a GPU product, per-GPU memory and a CUDA compute capability;
- ``gpu_memory_mib`` is per GPU, in MiB (the marketed GiB figure x 1024), as the
  ``nvidia.com/gpu.memory`` label.

"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["VmSize", "find_vm_size", "vm_sizes"]


class VmSize(BaseModel):
    """One VM size: what a node of this size has."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^Standard_[A-Za-z0-9_]+$")
    family: str = Field(min_length=1)
    vcpus: int = Field(gt=0)
    memory_gib: int = Field(gt=0)
    temp_disk_gib: int = Field(ge=0)
    gpus: int = Field(default=0, ge=0)
    gpu_product: str | None = None
    gpu_memory_mib: int | None = Field(default=None, gt=0)
    cuda_compute: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _gpu_fields_go_together(self) -> VmSize:
        gpu_fields = (self.gpu_product, self.gpu_memory_mib, self.cuda_compute)
        if self.gpus and any(field is None for field in gpu_fields):
            raise ValueError(
                f"{self.name} has {self.gpus} GPUs but lacks gpu_product, gpu_memory_mib or cuda_compute; "
                "a GPU size needs all three"
            )
        if not self.gpus and any(field is not None for field in gpu_fields):
            raise ValueError(
                f"{self.name} has no GPUs, so gpu_product, gpu_memory_mib and cuda_compute must be unset"
            )
        return self

    @property
    def memory_mib(self) -> int:
        """The VM's memory in MiB."""
        return self.memory_gib * 1024


def _load() -> Mapping[str, VmSize]:
    raw = json.loads(resources.files("kaito.sim").joinpath("vmsizes.json").read_text(encoding="utf-8"))
    table: dict[str, VmSize] = {}
    for entry in raw["sizes"]:
        size = VmSize.model_validate(entry)
        key = size.name.lower()
        if key in table:
            raise ValueError(
                f"vmsizes.json lists {size.name} twice; VM size names must be unique ignoring case"
            )
        table[key] = size
    return MappingProxyType(table)


_TABLE = _load()


def find_vm_size(name: str) -> VmSize | None:
    """The size called ``name`` (any letter case), or None when the cloud has no such size."""
    return _TABLE.get(name.lower())


def vm_sizes() -> tuple[VmSize, ...]:
    """Every size the cloud offers, in catalogue order."""
    return tuple(_TABLE.values())
