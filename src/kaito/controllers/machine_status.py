"""Pure decisions of the Machine reconciler: from (Machine, what the cloud holds, its Node, now) to the next
status, the Events to record, whether to delete the cloud resource, and when to look again.

Conditions use Karpenter's vocabulary and go True in order:

    Launched     the cloud resource is running (agent pool Succeeded, NodeClaim Launched)
    Registered   a Node made for this Machine exists (label kaito.sh/machine, matched by the provisioner)
    Initialized  that Node is Ready, carries no start-up/not-ready taint, and has nvidia.com/gpu allocatable
    Ready        all three hold

A condition nobody could judge yet is Unknown (`AwaitingReconciliation`, Karpenter's reason). Events are
derived from the change, never from the reconcile: a condition turning False records a Warning with its
reason, and one coming back True after it was False a Normal Event named after it (the Warning's
resolution). The steps of a Machine that comes up without trouble are its conditions' business (`kubectl
get machine` shows them, with their transition times) and record no Event; its Workspace's `Planned` Event
names it. So a reconcile that changes nothing records nothing (and writes no status).

A Machine fails for good (`status.failureReason`/`failureMessage`, Launched and Ready False) when the cloud
reports a non-retryable failure (quota, capacity, a bad request), when it is not Launched within the launch
timeout (from creation), when no Node registers within the registration timeout (from Launched, Karpenter's
15-minute liveness), when its registered Node never initializes (Ready, no start-up taints, GPUs
allocatable) within the initialization timeout (from Registered), when its Node disappears after
registering and does not come back within the node-lost timeout (from Registered turning False with
`NodeNotFound`), or when its cloud resource disappears after it was requested. A failed Machine's cloud
resource is deleted; it is never retried in place (its owner, the Workspace, replaces it after its
`machine_retry_interval`).

The initialization timeout applies only to a Node that was never Initialized: a Node that initialized and
later went NotReady is left to node repair. "Never initialized" is read from the conditions themselves:
Initialized's lastTransitionTime is not after Registered's (Initialized only moves after registration when
it turns True, or back from True).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from kaito.api import names
from kaito.api.conditions import (
    CONDITION_FALSE,
    CONDITION_TRUE,
    CONDITION_UNKNOWN,
    Condition,
    ConditionStatus,
    find_condition,
    set_condition,
)
from kaito.api.machine import Machine, MachineStatus
from kaito.provisioners.base import ObservedState, Phase

__all__ = [
    "REASON_INITIALIZATION_TIMEOUT",
    "REASON_LAUNCHING",
    "REASON_LAUNCH_TIMEOUT",
    "REASON_NODE_LOST",
    "REASON_REGISTRATION_TIMEOUT",
    "REASON_RESOURCE_GONE",
    "STARTUP_TAINTS",
    "MachineDecision",
    "MachineEvent",
    "MachineObservation",
    "MachineTimeouts",
    "changed",
    "format_duration",
    "initialization_time_left",
    "launch_requested",
    "launch_time_left",
    "node_initialization",
    "node_lost_time_left",
    "plan_machine",
    "registration_time_left",
    "trim_node",
]

REASON_LAUNCHING: Final = "Launching"
REASON_LAUNCH_TIMEOUT: Final = "LaunchTimeout"
REASON_RESOURCE_GONE: Final = "CloudResourceGone"
REASON_REGISTRATION_TIMEOUT: Final = "RegistrationTimeout"
REASON_INITIALIZATION_TIMEOUT: Final = "InitializationTimeout"
REASON_NODE_LOST: Final = "NodeLost"
REASON_NODE_NOT_FOUND: Final = "NodeNotFound"
GPU_RESOURCE: Final = "nvidia.com/gpu"

# Taints a node carries until it is ready for work (kubelet, cloud provider, Karpenter's own).
STARTUP_TAINTS: Final = frozenset(
    {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/network-unavailable",
        "node.cloudprovider.kubernetes.io/uninitialized",
        "karpenter.sh/unregistered",
        "karpenter.sh/disrupted",
    }
)


@dataclass(frozen=True)
class MachineEvent:
    """An Event to record on the Machine."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class MachineDecision:
    """What one reconcile should do after observing the world."""

    status: MachineStatus
    events: tuple[MachineEvent, ...] = ()
    delete_cloud_resource: bool = False
    requeue_after: float | None = None


@dataclass(frozen=True)
class MachineTimeouts:
    """How long each stage may take (seconds), and how often to look at a Machine still on its way."""

    launch_timeout: float = 30 * 60.0  # from creation to Launched
    poll_interval: float = 10.0
    registration_timeout: float = 15 * 60.0  # from Launched to a registered Node
    initialization_timeout: float = 15 * 60.0  # from Registered to Initialized
    node_lost_timeout: float = 10 * 60.0  # from the Node disappearing to failing the Machine


@dataclass(frozen=True)
class MachineObservation:
    """What one reconcile saw: the Machine, what the cloud holds for it, its Node (None: none), and when."""

    machine: Machine
    observed: ObservedState
    node: Mapping[str, Any] | None
    now: datetime


def format_duration(seconds: float) -> str:
    """`30m0s`, `1m30s`, `0.5s`: Go's time.Duration spelling, which kubectl users know."""
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{rest}s" if hours else f"{minutes}m{rest}s"


def launch_requested(status: MachineStatus | None) -> bool:
    """Whether an earlier reconcile asked the cloud for this Machine's node (so GONE now means lost)."""
    launched = find_condition(status.conditions if status else None, names.MACHINE_CONDITION_LAUNCHED)
    return launched is not None and (launched.is_true or launched.reason == REASON_LAUNCHING)


def node_initialization(node: Mapping[str, Any]) -> tuple[bool, str, str]:
    """(initialized, reason, message) for a Node: Ready, no start-up taints, GPUs allocatable."""
    meta = node.get("metadata") or {}
    name = meta.get("name", "")
    status = node.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if ready is None or ready.get("status") != CONDITION_TRUE:
        why = (ready or {}).get("message") or "the kubelet has not reported Ready"
        return False, "NodeNotReady", f"Node {name} is not Ready: {why}."
    startup = sorted(
        {t.get("key", "") for t in (node.get("spec") or {}).get("taints") or []} & STARTUP_TAINTS
    )
    if startup:
        return False, "StartupTaintsPresent", f"Node {name} still has start-up taints: {', '.join(startup)}."
    gpus = str((status.get("allocatable") or {}).get(GPU_RESOURCE, "0"))
    if not gpus.isdigit() or int(gpus) <= 0:
        return (
            False,
            "GPUsNotAllocatable",
            f"Node {name} reports {GPU_RESOURCE} allocatable {gpus!r}; waiting for the NVIDIA device "
            "plugin to advertise the GPUs.",
        )
    return True, "Initialized", f"Node {name} is Ready with {gpus} {GPU_RESOURCE} allocatable."


_NODE_STATUS_READ: Final = ("conditions", "capacity", "allocatable")


def trim_node(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """A Node as the operator's cache keeps it: metadata, spec and the status fields the controllers read
    (conditions, capacity, allocatable). The rest (images, nodeInfo, addresses, volumes) is never read, and
    a real Node's image list alone is often most of its bytes."""
    status = node.get("status")
    if not isinstance(status, Mapping) or set(status) <= set(_NODE_STATUS_READ):
        return node
    return {**node, "status": {key: status[key] for key in _NODE_STATUS_READ if key in status}}


def plan_machine(seen: MachineObservation, timeouts: MachineTimeouts) -> MachineDecision:
    """The next status of a live (not deleting, not failed) Machine and what to do about it."""
    machine, observed, node, now = seen.machine, seen.observed, seen.node, seen.now
    poll_interval = timeouts.poll_interval
    old = machine.status or MachineStatus()
    resource = observed.resource or "the cloud resource"
    failure = _failure(seen, timeouts)
    if failure is not None:
        reason, message = failure
        status = _with(old, names.MACHINE_CONDITION_LAUNCHED, CONDITION_FALSE, reason, message, now)
        status = _with(status, names.MACHINE_CONDITION_READY, CONDITION_FALSE, reason, message, now)
        status = status.model_copy(update={"failure_reason": reason, "failure_message": message})
        return MachineDecision(status, _events(old, status, failure), delete_cloud_resource=True)

    status = old
    launched = observed.phase is Phase.RUNNING
    if launched:
        status = _with(status, names.MACHINE_CONDITION_LAUNCHED, CONDITION_TRUE, "Launched",
                       f"{resource.capitalize()} is running.", now)  # fmt: skip
    else:
        detail = observed.message or f"Waiting for {resource} to launch."
        status = _with(
            status, names.MACHINE_CONDITION_LAUNCHED, CONDITION_UNKNOWN, REASON_LAUNCHING, detail, now
        )

    registered = node is not None
    if registered:
        assert node is not None
        node_name = (node.get("metadata") or {}).get("name", "")
        status = _with(status, names.MACHINE_CONDITION_REGISTERED, CONDITION_TRUE, "Registered",
                       f"Node {node_name} registered.", now)  # fmt: skip
        node_status = node.get("status") or {}
        status = status.model_copy(
            update={
                "node_name": node_name,
                "provider_id": (node.get("spec") or {}).get("providerID") or observed.provider_id,
                "capacity": dict(node_status.get("capacity") or {}) or None,
                "allocatable": dict(node_status.get("allocatable") or {}) or None,
            }
        )
        initialized, why, message = node_initialization(node)
        status = _with(status, names.MACHINE_CONDITION_INITIALIZED,
                       CONDITION_TRUE if initialized else CONDITION_UNKNOWN, why, message, now)  # fmt: skip
    else:
        was = find_condition(old.conditions, names.MACHINE_CONDITION_REGISTERED)
        # lost: it registered once; stays lost (False, NodeNotFound) until a Node is back or the timeout
        lost = was is not None and (was.is_true or was.reason == REASON_NODE_NOT_FOUND)
        message = (
            f"Node {old.node_name} of this Machine is gone."
            if lost
            else f"Waiting for a Node with label {names.LABEL_MACHINE}={machine.metadata.name} to register."
        )
        reason = REASON_NODE_NOT_FOUND if lost else "AwaitingRegistration"
        status = _with(status, names.MACHINE_CONDITION_REGISTERED,
                       CONDITION_FALSE if lost else CONDITION_UNKNOWN, reason, message, now)  # fmt: skip
        status = _with(status, names.MACHINE_CONDITION_INITIALIZED, CONDITION_UNKNOWN,
                       names.REASON_AWAITING_RECONCILIATION, "Waiting for the Node to register.",
                       now)  # fmt: skip

    blocking = next(
        (
            c
            for t in (
                names.MACHINE_CONDITION_LAUNCHED,
                names.MACHINE_CONDITION_REGISTERED,
                names.MACHINE_CONDITION_INITIALIZED,
            )
            if (c := find_condition(status.conditions, t)) is not None and not c.is_true
        ),
        None,
    )
    if blocking is None:
        status = _with(status, names.MACHINE_CONDITION_READY, CONDITION_TRUE, "Ready",
                       f"Node {status.node_name} is ready for GPU workloads.", now)  # fmt: skip
        requeue = None
    else:
        ready_status: ConditionStatus = (
            CONDITION_FALSE if blocking.status == CONDITION_FALSE else CONDITION_UNKNOWN
        )
        status = _with(
            status, names.MACHINE_CONDITION_READY, ready_status, blocking.reason, blocking.message, now
        )
        requeue = poll_interval
        if not launched:
            remaining = launch_time_left(machine, now, timeouts.launch_timeout)
            requeue = max(0.0, min(poll_interval, remaining))
        elif node is None:
            left = registration_time_left(status, now, timeouts.registration_timeout)
            if left is None:
                left = node_lost_time_left(status, now, timeouts.node_lost_timeout)
            if left is not None:
                requeue = max(0.0, min(poll_interval, left))
        elif (left := initialization_time_left(status, now, timeouts.initialization_timeout)) is not None:
            requeue = max(0.0, min(poll_interval, left))
    return MachineDecision(status, _events(old, status, None), requeue_after=requeue)


def _failure(seen: MachineObservation, timeouts: MachineTimeouts) -> tuple[str, str] | None:
    machine, observed, node, now = seen.machine, seen.observed, seen.node, seen.now
    launch_timeout, registration_timeout = timeouts.launch_timeout, timeouts.registration_timeout
    initialization_timeout, node_lost_timeout = timeouts.initialization_timeout, timeouts.node_lost_timeout
    resource = observed.resource or "the cloud resource"
    if observed.phase is Phase.FAILED and not observed.retryable:
        return observed.reason or "ProvisioningFailed", observed.message or f"{resource} failed."
    if observed.phase is Phase.GONE and launch_requested(machine.status):
        return (
            REASON_RESOURCE_GONE,
            f"{resource.capitalize()} was deleted outside this controller after it was requested "
            "(the cloud may have given up on it); the Machine is failed so its owner can replace it.",
        )
    if observed.phase is not Phase.RUNNING and launch_time_left(machine, now, launch_timeout) <= 0:
        state = f" ({observed.message})" if observed.message else ""
        return (
            REASON_LAUNCH_TIMEOUT,
            f"The node was not launched within {format_duration(launch_timeout)} of the Machine's creation"
            f"{state}; {resource} is being deleted.",
        )
    if observed.phase is Phase.RUNNING and node is None:
        left = registration_time_left(machine.status, now, registration_timeout)
        if left is not None and left <= 0:
            return (
                REASON_REGISTRATION_TIMEOUT,
                f"No Node registered within {format_duration(registration_timeout)} of {resource} launching "
                f"(no Node carries label {names.LABEL_MACHINE}={machine.metadata.name}); {resource} is "
                "being deleted.",
            )
    if node is None:
        left = node_lost_time_left(machine.status, now, node_lost_timeout)
        if left is not None and left <= 0:
            node_name = machine.status.node_name if machine.status is not None else None
            return (
                REASON_NODE_LOST,
                f"Node {node_name or '(unknown)'} of this Machine disappeared after registering and did not "
                f"come back within {format_duration(node_lost_timeout)}; {resource} is being deleted so "
                "the Machine's owner can replace it.",
            )
    else:
        left = initialization_time_left(machine.status, now, initialization_timeout)
        initialized, _, why = node_initialization(node)
        if not initialized and left is not None and left <= 0:
            return (
                REASON_INITIALIZATION_TIMEOUT,
                f"The Node registered but did not initialize within {format_duration(initialization_timeout)}"
                f" ({why}); {resource} is being deleted.",
            )
    return None


def node_lost_time_left(
    status: MachineStatus | None, now: datetime, node_lost_timeout: float
) -> float | None:
    """Seconds left for a Node that disappeared after registering to come back (None: it is not lost)."""
    conditions = status.conditions if status is not None else None
    registered = find_condition(conditions, names.MACHINE_CONDITION_REGISTERED)
    if registered is None or registered.is_true or registered.reason != REASON_NODE_NOT_FOUND:
        return None
    deadline = registered.last_transition_time + timedelta(seconds=node_lost_timeout)
    return (deadline - now).total_seconds()


def initialization_time_left(
    status: MachineStatus | None, now: datetime, initialization_timeout: float
) -> float | None:
    """Seconds left for a registered Node to initialize (None: not registered, or it initialized once)."""
    conditions = status.conditions if status is not None else None
    registered = find_condition(conditions, names.MACHINE_CONDITION_REGISTERED)
    if registered is None or not registered.is_true:
        return None
    initialized = find_condition(conditions, names.MACHINE_CONDITION_INITIALIZED)
    if initialized is not None and (
        initialized.is_true or initialized.last_transition_time > registered.last_transition_time
    ):
        return None  # initialized, now or before (see the module docstring)
    deadline = registered.last_transition_time + timedelta(seconds=initialization_timeout)
    return (deadline - now).total_seconds()


def registration_time_left(
    status: MachineStatus | None, now: datetime, registration_timeout: float
) -> float | None:
    """Seconds left for a launched node to register (None: not launched yet, or it registered once)."""
    conditions = status.conditions if status is not None else None
    registered = find_condition(conditions, names.MACHINE_CONDITION_REGISTERED)
    if registered is not None and (registered.is_true or registered.reason == REASON_NODE_NOT_FOUND):
        return None  # it did register: a Node lost later is not a launch that never joined
    launched = find_condition(conditions, names.MACHINE_CONDITION_LAUNCHED)
    if launched is None or not launched.is_true:
        return None
    deadline = launched.last_transition_time + timedelta(seconds=registration_timeout)
    return (deadline - now).total_seconds()


def launch_time_left(machine: Machine, now: datetime, launch_timeout: float) -> float:
    """Seconds until the launch deadline (creationTimestamp + timeout); negative once it passed."""
    created = machine.metadata.creation_timestamp
    if created is None:
        return launch_timeout
    deadline = created + timedelta(seconds=launch_timeout)
    return (deadline - now).total_seconds()


def _with(
    status: MachineStatus,
    type_: str,
    value: ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
) -> MachineStatus:
    condition = Condition(
        type=type_,
        status=value,
        reason=reason,
        message=message,
        last_transition_time=now,
    )
    conditions = set_condition(status.conditions, condition)
    ordered = sorted(conditions, key=_order)
    return status.model_copy(update={"conditions": ordered})


def _order(condition: Condition) -> int:
    try:
        return names.MACHINE_CONDITION_TYPES.index(condition.type)
    except ValueError:
        return len(names.MACHINE_CONDITION_TYPES)


def _events(
    old: MachineStatus, new: MachineStatus, failure: tuple[str, str] | None
) -> tuple[MachineEvent, ...]:
    if failure is not None:
        return (MachineEvent("Warning", failure[0], failure[1]),) if not old.failed else ()
    events: list[MachineEvent] = []
    for condition in new.conditions or ():
        before = find_condition(old.conditions, condition.type)
        if before is not None and before.status == condition.status:
            continue
        if condition.status == CONDITION_TRUE and before is not None and before.status == CONDITION_FALSE:
            event = MachineEvent("Normal", condition.type, condition.message)
        elif condition.status == CONDITION_FALSE:
            event = MachineEvent("Warning", condition.reason, condition.message)
        else:
            continue
        if event not in events:  # Ready fails with its blocking condition's sentence: one Warning
            events.append(event)
    return tuple(events)


def changed(old: MachineStatus | None, new: MachineStatus) -> bool:
    """Whether writing `new` would change what the API server holds."""
    return _wire(old or MachineStatus()) != _wire(new)


def _wire(status: MachineStatus) -> dict[str, Any]:
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)
