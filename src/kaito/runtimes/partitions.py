"""Sizing on a GPU partition: the node shape a MIG slice or an accelerator share presents to the model.

A Workspace on bring-your-own nodes may ask (kaito.api.partition) for

* a MIG slice — the model runs on one slice, whose memory is the profile's (`2g.24gb`: 24 GB, i.e.
  22.35 GiB, read conservatively as 10^9 bytes per GB); the pod requests `nvidia.com/mig-2g.24gb: 1`;
  one slice means one GPU and one node, so a model that does not fit is refused, never split;
* an accelerator share — `count` whole GPUs of the node, sized as a node with that many GPUs.

`partition_gpu` returns the `GpuConfig` the planner sizes on; `gpu_resource` the extended resource the
pod requests. Both are pure.
"""

from __future__ import annotations

from kaito.api.partition import MIG_RESOURCE_PREFIX, PartitionMode, mig_profile_memory_gb
from kaito.runtimes.errors import NodeLabelError
from kaito.runtimes.skus import GpuConfig
from kaito.runtimes.workload import GPU_RESOURCE

__all__ = ["gpu_resource", "partition_gpu"]

_GB = 10**9
_GIB = 1024**3


def partition_gpu(
    gpu: GpuConfig, *, mode: PartitionMode, profile: str | None = None, count: int | None = None
) -> GpuConfig:
    """The shape one workload sees on a node of `gpu`: one MIG `profile` slice, or `count` whole GPUs."""
    if mode == "mig":
        memory_gb = mig_profile_memory_gb(profile or "")
        if memory_gb is None:
            raise NodeLabelError(f"resource.partition.profile {profile!r} is not a MIG profile.")
        return gpu.model_copy(
            update={
                "name": f"{gpu.name} (MIG {profile})",
                "gpu_count": 1,
                "memory_gib": round(memory_gb * _GB / _GIB, 2),
            }
        )
    count = count or 1
    if count > gpu.gpu_count:
        raise NodeLabelError(
            f"resource.partition.count is {count} but the selected nodes have {gpu.gpu_count} GPU(s) each; "
            f"use at most {gpu.gpu_count}."
        )
    return gpu.model_copy(
        update={"name": f"{gpu.name} ({count} of {gpu.gpu_count} GPUs)", "gpu_count": count}
    )


def gpu_resource(mode: PartitionMode | None = None, profile: str | None = None) -> str:
    """The extended resource the serving pod requests: a MIG profile's, else whole GPUs."""
    if mode == "mig" and profile:
        return f"{MIG_RESOURCE_PREFIX}{profile}"
    return GPU_RESOURCE
