"""Which Machines a Workspace should have, which to create, and which may go: pure decisions.

A Workspace with an instanceType gets one Machine per node it needs. Machine names are deterministic:
`ws` + 9 hex digits of sha256(namespace/name/uid/instanceType/index), so a reconcile working from a stale
cache re-derives the same names and its create answers AlreadyExists instead of making a duplicate node;
a different instance type (or a re-created Workspace, new uid) gives different names, so new Machines can
come up next to the old ones. Machines are cluster-scoped, so they carry no ownerReference (a namespaced
owner is invalid there): the labels `kaito.sh/workspace` and `kaito.sh/workspacenamespace` and
`spec.workspaceRef` tie them to their Workspace.

`plan_machines(MachineInputs(...))` sorts what exists into: current (the names wanted now), stale (any
other Machine of the Workspace: an old instance type or an index beyond the node count) and missing
(wanted, absent). It runs once per reconcile; the plan it returns says what to create and replace now,
and `MachinePlan.retire(workload_settled)` which stale Machines may go once the current ones are Ready
and the workload has rolled onto them: new before old, so serving never stops for a spec change. A
Machine that failed for good (quota, capacity) is reported, and replaced only after `retry_failed_after`
seconds: deleted, then created afresh under the same name by a later reconcile.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from kaito.api import (
    ANNOTATION_NODE_IMAGE_FAMILY,
    FINALIZER_MACHINE_CLEANUP,
    GPU_TAINT_EFFECT,
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    LABEL_WORKSPACE,
    LABEL_WORKSPACE_NAMESPACE,
    MACHINE_CONDITION_READY,
    Machine,
    MachineSpec,
    ObjectMeta,
    ProvisionerName,
    Taint,
    Workspace,
    WorkspaceReference,
    find_condition,
    is_condition_true,
)

__all__ = [
    "MachineFailure",
    "MachineInputs",
    "MachinePlan",
    "desired_machine",
    "launched_count",
    "machine_labels",
    "machine_name",
    "plan_machines",
]


def _image_family(workspace: Workspace) -> Literal["ubuntu", "azurelinux"] | None:
    """KAITO's kaito.sh/node-image-family annotation, normalized (validate() refused other values)."""
    value = (workspace.metadata.annotations or {}).get(ANNOTATION_NODE_IMAGE_FAMILY, "").strip().lower()
    if value == "ubuntu":
        return "ubuntu"
    if value == "azurelinux":
        return "azurelinux"
    return None


def machine_name(workspace: Workspace, instance_type: str, index: int) -> str:
    """The deterministic name of the Workspace's `index`-th Machine of `instance_type`."""
    meta = workspace.metadata
    seed = f"{meta.namespace}/{meta.name}/{meta.uid or ''}/{instance_type.lower()}/{index}"
    return "ws" + hashlib.sha256(seed.encode()).hexdigest()[:9]


def machine_labels(workspace: Workspace) -> dict[str, str]:
    """The labels that tie a Machine (and its Node) to the Workspace."""
    return {
        LABEL_WORKSPACE: workspace.metadata.name or "",
        LABEL_WORKSPACE_NAMESPACE: workspace.metadata.namespace or "default",
    }


def desired_machine(
    workspace: Workspace,
    instance_type: str,
    index: int,
    disk_gib: int | None,
    provisioner: ProvisionerName | None = None,
) -> Machine:
    """The Machine for one node: the instance type, the Workspace's selector labels, the GPU taint, and the
    provisioner it is pinned to (None: the Machine controller's default at each reconcile).

    It is created with the Machine controller's cleanup finalizer already set, so that controller need not
    add it with a write of its own before it asks the cloud for the node."""
    owner = machine_labels(workspace)
    node_labels = {**(workspace.resource.label_selector.match_labels or {}), **owner}
    return Machine(
        metadata=ObjectMeta(
            name=machine_name(workspace, instance_type, index),
            labels=owner,
            finalizers=[FINALIZER_MACHINE_CLEANUP],
        ),
        spec=MachineSpec(
            instance_type=instance_type,
            provisioner=provisioner,
            node_labels=node_labels,
            taints=[Taint(key=GPU_TAINT_KEY, value=GPU_TAINT_VALUE, effect=GPU_TAINT_EFFECT)],
            os_disk_size_gb=disk_gib,
            image_family=_image_family(workspace),
            workspace_ref=WorkspaceReference(
                namespace=workspace.metadata.namespace or "default",
                name=workspace.metadata.name or "",
                uid=workspace.metadata.uid,
            ),
        ),
    )


@dataclass(frozen=True)
class MachineFailure:
    """A Machine that failed for good, with the cloud's reason and message; `retry_in` seconds until it is
    replaced (0: now, None: never)."""

    name: str
    reason: str
    message: str
    retry_in: float | None = None


@dataclass(frozen=True)
class MachineInputs:
    """What `plan_machines` decides from: what the Workspace wants, and what exists now.

    `nodes_ready` maps node names to whether the Node is Ready. With `retry_failed_after` seconds and
    `now`, a Machine failed for good is replaced that long after it failed.
    """

    workspace: Workspace
    instance_type: str
    target: int
    existing: Sequence[Machine] = ()
    nodes_ready: Mapping[str, bool] = field(default_factory=dict)
    disk_gib: int | None = None
    now: datetime | None = None
    retry_failed_after: float | None = None
    provisioner: ProvisionerName | None = None


@dataclass(frozen=True)
class MachinePlan:
    """What to do with the Workspace's Machines now, and what they show."""

    target: int = 0
    create: list[Machine] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)  # failed Machines whose replacement is due
    ready_nodes: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    failures: list[MachineFailure] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # other Machines of the Workspace, not being deleted

    def retire(self, workload_settled: bool) -> list[str]:
        """The stale Machines to delete: only once every current one is ready and the workload has moved
        onto them (`workload_settled`), so serving never stops."""
        if self.stale and workload_settled and len(self.ready_nodes) == self.target:
            return list(self.stale)
        return []

    def progress(self, target: int) -> str:
        """`2 of 3 node(s) ready (waiting for Machine ws1234abcd)`.

        It names the Machines waited on, not how far each got: the sentence then stays the same while the
        nodes come up, so the Workspace's status is not rewritten at each step of each Machine (its own
        status, `kubectl get machine`, shows the step).
        """
        text = f"{len(self.ready_nodes)} of {target} node(s) ready"
        if not self.pending:
            return text
        return f"{text} (waiting for Machine{'s' if len(self.pending) > 1 else ''} {', '.join(self.pending)})"


def _failed_since(machine: Machine) -> datetime:
    """When a failed Machine failed: its Ready condition's last transition (else its creation)."""
    ready = find_condition(machine.status.conditions if machine.status else None, MACHINE_CONDITION_READY)
    if ready is not None and not ready.is_true:
        return ready.last_transition_time
    created = machine.metadata.creation_timestamp
    return created if created is not None else datetime.min.replace(tzinfo=UTC)


def _ready_node(machine: Machine, nodes_ready: Mapping[str, bool]) -> str | None:
    status = machine.status
    if status is None or not status.node_name:
        return None
    if not is_condition_true(status.conditions, MACHINE_CONDITION_READY):
        return None
    return status.node_name if nodes_ready.get(status.node_name, False) else None


def plan_machines(inputs: MachineInputs) -> MachinePlan:
    """Create what is missing, replace failed Machines when due, report readiness, and name the stale ones.

    A failed Machine is kept (its message is the evidence) and deleted `retry_failed_after` seconds after
    it failed, so the next reconcile creates it afresh (quota raised, capacity back).
    """
    workspace, instance_type, target = inputs.workspace, inputs.instance_type, inputs.target
    wanted = [machine_name(workspace, instance_type, index) for index in range(target)]
    by_name = {m.metadata.name: m for m in inputs.existing}
    plan = MachinePlan(target=target)
    for index, name in enumerate(wanted):
        machine = by_name.get(name)
        if machine is None:
            plan.create.append(
                desired_machine(workspace, instance_type, index, inputs.disk_gib, inputs.provisioner)
            )
            plan.pending.append(name)
            continue
        if machine.metadata.deletion_timestamp is not None:
            plan.pending.append(f"{name} (being deleted)")
            continue
        if machine.status is not None and machine.status.failed:
            retry_in = None
            if inputs.retry_failed_after is not None and inputs.now is not None:
                elapsed = (inputs.now - _failed_since(machine)).total_seconds()
                retry_in = max(0.0, inputs.retry_failed_after - elapsed)
                if retry_in == 0:
                    plan.delete.append(name)
            plan.failures.append(
                MachineFailure(
                    name,
                    machine.status.failure_reason or "Failed",
                    machine.status.failure_message or "",
                    retry_in,
                )
            )
            continue
        node = _ready_node(machine, inputs.nodes_ready)
        if node is None:
            plan.pending.append(name)
        else:
            plan.ready_nodes.append(node)
    wanted_set = set(wanted)
    plan.stale.extend(
        sorted(
            m.metadata.name or ""
            for m in inputs.existing
            if m.metadata.name not in wanted_set and m.metadata.deletion_timestamp is None
        )
    )
    return plan


def launched_count(machines: Sequence[Machine]) -> int:
    """How many Machines the cloud has accepted (Launched True)."""
    return sum(
        1 for m in machines if m.status is not None and is_condition_true(m.status.conditions, "Launched")
    )
