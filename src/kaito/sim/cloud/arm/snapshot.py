"""The ARM endpoint's section of a cluster snapshot: agent pools and operations as JSON, and back.

A restarted embedded cluster must not forget its VMs: the store's snapshot keeps the Nodes, so the ARM
section beside it keeps the pools that made them (:class:`ArmImage`, ``{"version": 1, ...}``). It holds:

- the cluster's ids (subscription, resource group, cluster, location, Kubernetes version): Node names and
  providerIDs are derived from them, so a restore for other ids is refused (:func:`check_ids`) and
  :func:`ids_options` hands them to the restarted endpoint as its defaults;
- every pool (spec, provisioningState, eTag, error, scale-set instance ids, next instance id) and the id of
  its in-progress operation;
- every operation record (a client may poll an old one), with the due time of those in progress;
- the due times of Nodes not yet Ready, and how many internal IPs were handed out.

Pure conversions only (pydantic at the boundary, no timers):
:meth:`~kaito.sim.cloud.arm.pools.AgentPoolService.
restore` re-arms what was pending. Fault knobs (:class:`~kaito.sim.cloud.arm.faults.ArmFaults`) are not saved:
they are a test's settings for one run, like a process's flags. Invariant: a pool's ``operation`` names a
record in ``operations`` whose status is ``InProgress``, and no other record is in progress.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from kaito.sim.cloud.arm.models import AgentPoolSpec, ClusterIds
from kaito.sim.cloud.arm.pools import OperationRecord, PoolRecord

__all__ = [
    "ARM_SNAPSHOT_VERSION",
    "ArmImage",
    "OperationImage",
    "PoolImage",
    "check_ids",
    "dump_arm",
    "ids_options",
    "load_arm",
    "records_of",
]

ARM_SNAPSHOT_VERSION: Literal[1] = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OperationImage(_Model):
    """One operation record as saved (``due`` only while it is in progress)."""

    id: str
    kind: Literal["create", "update", "delete"]
    pool: str
    start: datetime.datetime
    status: Literal["InProgress", "Succeeded", "Failed", "Canceled"]
    end: datetime.datetime | None = None
    error: dict[str, Any] | None = None
    previous: AgentPoolSpec | None = None
    due: datetime.datetime | None = None


class PoolImage(_Model):
    """One pool as saved; ``operation`` is the id of its in-progress operation."""

    name: str
    spec: AgentPoolSpec
    state: str
    etag: str
    error: dict[str, Any] | None = None
    instances: list[int]
    next_instance: int
    operation: str | None = None


class ArmImage(_Model):
    """The ARM section of a snapshot (see the module docstring)."""

    version: Literal[1]
    subscription_id: str
    resource_group: str
    cluster_name: str
    location: str
    kubernetes_version: str
    addresses: int = 0
    pools: list[PoolImage] = []
    operations: list[OperationImage] = []
    ready_due: dict[str, datetime.datetime] = {}

    @property
    def ids(self) -> ClusterIds:
        return ClusterIds(
            self.subscription_id,
            self.resource_group,
            self.cluster_name,
            self.location,
            self.kubernetes_version,
        )


def dump_arm(
    ids: ClusterIds,
    pools: dict[str, PoolRecord],
    operations: dict[str, OperationRecord],
    *,
    ready_due: dict[str, datetime.datetime],
    addresses: int,
) -> dict[str, Any]:
    """The JSON-able ARM section for this state."""
    image = ArmImage(
        version=ARM_SNAPSHOT_VERSION,
        subscription_id=ids.subscription_id,
        resource_group=ids.resource_group,
        cluster_name=ids.cluster_name,
        location=ids.location,
        kubernetes_version=ids.kubernetes_version,
        addresses=addresses,
        pools=[
            PoolImage(
                name=pool.name,
                spec=pool.spec,
                state=pool.state,
                etag=pool.etag,
                error=pool.error,
                instances=list(pool.instances),
                next_instance=pool.next_instance,
                operation=pool.operation.id if pool.operation is not None else None,
            )
            for _, pool in sorted(pools.items())
        ],
        operations=[
            OperationImage(
                id=op.id,
                kind=op.kind,
                pool=op.pool,
                start=op.start,
                status=op.status,
                end=op.end,
                error=op.error,
                previous=op.previous,
                due=op.due,
            )
            for op in operations.values()
        ],
        ready_due=dict(ready_due),
    )
    return image.model_dump(mode="json")


def load_arm(data: Any) -> ArmImage:
    """Parse an ARM section; a ValueError says what is wrong with it."""
    if not isinstance(data, dict):
        raise ValueError(f"the snapshot's 'arm' section is {type(data).__name__}; it must be a JSON object")
    if data.get("version") != ARM_SNAPSHOT_VERSION:
        raise ValueError(
            f"the snapshot's 'arm' section has version {data.get('version')!r}; "
            f"this endpoint reads version {ARM_SNAPSHOT_VERSION}"
        )
    try:
        image = ArmImage.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"the snapshot's 'arm' section is not one this endpoint wrote: {exc}") from exc
    known = {op.id: op for op in image.operations}
    for pool in image.pools:
        if pool.operation is not None and (
            pool.operation not in known or known[pool.operation].status != "InProgress"
        ):
            raise ValueError(
                f"the snapshot's agent pool {pool.name!r} names operation {pool.operation!r}, which is "
                "not an operation in progress in the same snapshot"
            )
    return image


def ids_options(data: Any) -> dict[str, str]:
    """The ArmServer keyword arguments that put a restarted endpoint at the snapshot's ids."""
    image = load_arm(data)
    return {
        "subscription_id": image.subscription_id,
        "resource_group": image.resource_group,
        "cluster_name": image.cluster_name,
        "location": image.location,
        "kubernetes_version": image.kubernetes_version,
    }


def check_ids(image: ArmImage, ids: ClusterIds) -> None:
    """Refuse to restore pools under other ids: their Node names and providerIDs would not match."""
    if image.ids != ids:
        saved = f"{image.subscription_id}/{image.resource_group}/{image.cluster_name} in {image.location}"
        given = f"{ids.subscription_id}/{ids.resource_group}/{ids.cluster_name} in {ids.location}"
        raise ValueError(
            f"the snapshot's agent pools belong to cluster {saved} (Kubernetes {image.kubernetes_version}), "
            f"but this ARM endpoint serves {given} (Kubernetes {ids.kubernetes_version}); start it with the "
            "snapshot's ids (leave them out of arm_options) or use a new snapshot file"
        )


def records_of(image: ArmImage) -> tuple[dict[str, PoolRecord], dict[str, OperationRecord]]:
    """The service's records for an image (timers not armed), pools linked to their running operation."""
    operations = {
        op.id: OperationRecord(
            id=op.id,
            kind=op.kind,
            pool=op.pool,
            start=op.start,
            status=op.status,
            end=op.end,
            error=op.error,
            previous=op.previous,
            due=op.due,
        )
        for op in image.operations
    }
    pools = {
        pool.name: PoolRecord(
            name=pool.name,
            spec=pool.spec,
            state=pool.state,
            etag=pool.etag,
            error=pool.error,
            instances=list(pool.instances),
            next_instance=pool.next_instance,
            operation=operations[pool.operation] if pool.operation is not None else None,
        )
        for pool in image.pools
    }
    return pools, operations
