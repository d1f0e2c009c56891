"""GPU partitions a Workspace may ask for (`resource.partition`), as KAITO v0.12 models them.

Two modes (KAITO's api/v1beta1 PartitionSpec):

* `mig` — one NVIDIA Multi-Instance GPU slice named by `profile` ("<compute slices>g.<memory>gb", e.g.
  "2g.24gb"); the pod requests the extended resource `nvidia.com/mig-<profile>` and the model must fit the
  slice (no tensor parallelism across slices). `count` is not allowed.
* `accelerator` — `count` whole GPUs of a node for one workload (fewer than the node has); `profile` is
  not allowed.

Both need bring-your-own nodes (no instanceType): KAITO does not provision partitioned nodes. The known
profiles are NVIDIA's (KAITO's pkg/utils/mig list: A30, A100 40/80 GB, H100 80/94/96 GB, H200, B200).
"""

from __future__ import annotations

import math
import re
from typing import Final, Literal

from pydantic import Field

from kaito.api.base import ApiModel

__all__ = [
    "KNOWN_MIG_PROFILES",
    "MIG_RESOURCE_PREFIX",
    "PartitionMode",
    "PartitionSpec",
    "mig_profile_memory_gb",
]

PartitionMode = Literal["mig", "accelerator"]
MIG_RESOURCE_PREFIX: Final = "nvidia.com/mig-"
_PROFILE_RE = re.compile(r"^([0-9]+)g[.]([0-9.]+)gb$")

KNOWN_MIG_PROFILES: Final = frozenset(
    {
        "1g.6gb", "2g.12gb", "4g.24gb",  # A30
        "1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb",  # A100 40GB
        "1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb",  # A100 / H100 80GB
        "1g.12gb", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb",  # H100 NVL 94GB
        "3g.48gb", "4g.48gb", "7g.96gb",  # GH200 96GB
        "1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb",  # H200
        "1g.23gb", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb",  # B200
    }
)  # fmt: skip


class PartitionSpec(ApiModel):
    """GPU partitioning for an inference workload on bring-your-own nodes."""

    mode: PartitionMode = Field(
        description='"mig" (one NVIDIA Multi-Instance GPU slice) or "accelerator" (several whole GPUs).'
    )
    profile: str | None = Field(
        default=None, description='The MIG profile, e.g. "1g.10gb" or "2g.24gb" (mig mode only).'
    )
    count: int | None = Field(
        default=None, ge=1, description="Whole GPUs for the workload (accelerator mode only, required there)."
    )


def mig_profile_memory_gb(profile: str) -> int | None:
    """The memory a MIG profile names, in GB (floored, as KAITO reads it), or None if it is not a profile."""
    match = _PROFILE_RE.match(profile)
    if match is None or int(match.group(1)) == 0:
        return None
    memory = math.floor(float(match.group(2)))
    return memory or None
