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
- ``mig`` is set only on GPU sizes AKS lets a pool split into MIG instances (``gpuInstanceProfile``);
  :func:`mig_slice` gives the devices a profile makes (A100 80GB + MIG1g -> 7 x ``1g.10gb`` per GPU);
- ``gpu_memory_mib`` is per GPU, in MiB (the marketed GiB figure x 1024), as the
  ``nvidia.com/gpu.memory`` label.

"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MIG_PROFILES", "MigSlice", "VmSize", "find_vm_size", "mig_slice", "vm_sizes"]

# gpuInstanceProfile -> (compute slices of 7, memory eighths, instances per GPU), NVIDIA's MIG geometry.
MIG_PROFILES: dict[str, tuple[int, int, int]] = {
    "MIG1g": (1, 1, 7),
    "MIG2g": (2, 2, 3),
    "MIG3g": (3, 4, 2),
    "MIG4g": (4, 4, 1),
    "MIG7g": (7, 8, 1),
}


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
    mig: bool = False

    @model_validator(mode="after")
    def _gpu_fields_go_together(self) -> VmSize:
        gpu_fields = (self.gpu_product, self.gpu_memory_mib, self.cuda_compute)
        if self.gpus and any(field is None for field in gpu_fields):
            raise ValueError(
                f"{self.name} has {self.gpus} GPUs but lacks gpu_product, gpu_memory_mib or cuda_compute; "
                "a GPU size needs all three"
            )
        if not self.gpus and (self.mig or any(field is not None for field in gpu_fields)):
            raise ValueError(
                f"{self.name} has no GPUs, so gpu_product, gpu_memory_mib and cuda_compute must be unset"
            )
        return self

    @property
    def memory_mib(self) -> int:
        """The VM's memory in MiB."""
        return self.memory_gib * 1024


@dataclass(frozen=True)
class MigSlice:
    """What one GPU of a size looks like when split with a MIG profile (single strategy)."""

    product: str  # e.g. NVIDIA-A100-80GB-PCIe-MIG-1g.10gb, as GPU feature discovery labels it
    per_gpu: int  # MIG devices each physical GPU exposes as nvidia.com/gpu
    memory_mib: int  # memory of one MIG device


def mig_slice(size: VmSize, profile: str) -> MigSlice:
    """The MIG devices of ``size`` under ``profile``; ValueError naming what is accepted otherwise."""
    if profile not in MIG_PROFILES:
        raise ValueError(f"gpuInstanceProfile {profile!r} is not one of {', '.join(MIG_PROFILES)}")
    if not size.mig or size.gpu_memory_mib is None:
        capable = ", ".join(s.name for s in _TABLE.values() if s.mig)
        raise ValueError(f"VM size {size.name} does not support MIG; sizes that do: {capable}")
    compute, eighths, per_gpu = MIG_PROFILES[profile]
    gigabytes = round(size.gpu_memory_mib / 1024 * eighths / 8)
    return MigSlice(
        product=f"{size.gpu_product}-MIG-{compute}g.{gigabytes}gb",
        per_gpu=per_gpu,
        memory_mib=size.gpu_memory_mib * eighths // 8,
    )


def _load() -> Mapping[str, VmSize]:
    raw = json.loads(resources.files("kaito.sim.cloud").joinpath("vmsizes.json").read_text(encoding="utf-8"))
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
