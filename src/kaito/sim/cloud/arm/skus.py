"""Microsoft.Compute/skus for the simulated subscription: the resource-SKUs list Azure Compute serves.

`GET /subscriptions/{sub}/providers/Microsoft.Compute/skus` lists every VM size of the cloud's catalogue
(`kaito.sim.cloud.vmsizes`) as Azure shapes the entries: `resourceType` virtualMachines, `name`, `tier`,
`size`, `family`, `locations`, and `capabilities` as name/value strings — vCPUs, MemoryGB,
MaxResourceVolumeMB and, for GPU sizes, GPUs. Like Azure, it says nothing of the GPU model or its memory.
An OData `$filter=location eq '<loc>'` is honoured; any other location gets an empty list.
"""

from __future__ import annotations

import re
from typing import Any

from kaito.sim.cloud.vmsizes import VmSize, vm_sizes

__all__ = ["resource_skus"]

_LOCATION_FILTER = re.compile(r"^\s*location\s+eq\s+'([^']+)'\s*$", re.I)


def _entry(size: VmSize, location: str) -> dict[str, Any]:
    capabilities = [
        {"name": "vCPUs", "value": str(size.vcpus)},
        {"name": "MemoryGB", "value": str(size.memory_gib)},
        {"name": "MaxResourceVolumeMB", "value": str(size.temp_disk_gib * 1024)},
    ]
    if size.gpus:
        capabilities.append({"name": "GPUs", "value": str(size.gpus)})
    return {
        "resourceType": "virtualMachines",
        "name": size.name,
        "tier": "Standard",
        "size": size.name.removeprefix("Standard_"),
        "family": size.family,
        "locations": [location],
        "locationInfo": [{"location": location, "zones": [], "zoneDetails": []}],
        "capabilities": capabilities,
        "restrictions": [],
    }


def resource_skus(location: str, odata_filter: str | None = None) -> dict[str, Any]:
    """The list body for the cluster's `location`, narrowed by a `location eq` filter when given."""
    if odata_filter:
        match = _LOCATION_FILTER.match(odata_filter)
        if match is not None and match.group(1).lower() != location.lower():
            return {"value": []}
    return {"value": [_entry(size, location) for size in vm_sizes()]}
