"""A Workspace's status as a pure function of what one reconcile observed, and the Events its changes tell.

`desired_status(old, observed, now)` returns the whole next `WorkspaceStatus`. Conditions, in the order a
Workspace goes through them:

    ResourceReady       the nodes: True once `target` nodes are Ready; False while waiting (NodesPending)
                        or with the failure (a Machine's cloud reason, NodesNotFound, SizingRefused...).
                        A problem of the workload's own spec (an inference ConfigMap missing or garbled,
                        an unknown preset: `WORKLOAD_SPEC_REASONS`) says nothing about the nodes: it is
                        put here only while the nodes are not known Ready, so nodes that run a workload
                        are not reported lost because its config was edited into garbage.
    InferenceReady      inference only, once a workload exists: its pods ready (WorkloadReady) or not
    JobStarted          tuning only: True once the Job's pod is active; False while pending or failed
    WorkspaceSucceeded  last: True when serving (or the Job completed); False on any failure, naming the
                        field to fix; Unknown while still on the way
    WorkspaceDeleting   True while the finalizer cleans up

and `state`: Failed | Ready | NotReady | Pending for inference, Failed | Succeeded | Running | Pending for
tuning. `lastTransitionTime` moves only when a condition's status changes (`kaito.api.set_condition`), so
an unchanged observation yields an equal status and the reconciler writes nothing.

`status_events(old, new)` lists the Events a change tells, as kube's own controllers do: few, and each one
news. A Warning for every failure (a condition turning False for a reason other than waiting, or failing
for a new reason), once per sentence; a Normal Event for a condition coming back True after a failure (the
Warning's resolution), for a tuning Job starting (JobStarted) and completing (WorkspaceSucceeded with state
Succeeded, as a Job's own `Completed`), and for WorkspaceDeleting. The steps of an inference Workspace that
comes up without trouble (nodes pending, nodes ready, workload pending, ready) are the conditions' business:
`kubectl describe workspace` shows each with its transition time, so an Event for each would only repeat
them, at a write each. Its Events are then the reconciler's actions: `Planned` (the sizing, and the
Machines it created), and `WorkloadApplied` when a spec change rolls the workload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from kaito.api import (
    CONDITION_FALSE,
    CONDITION_INFERENCE_READY,
    CONDITION_JOB_STARTED,
    CONDITION_RESOURCE_READY,
    CONDITION_TRUE,
    CONDITION_UNKNOWN,
    CONDITION_WORKSPACE_DELETING,
    CONDITION_WORKSPACE_SUCCEEDED,
    STATE_FAILED,
    STATE_NOT_READY,
    STATE_PENDING,
    STATE_READY,
    STATE_RUNNING,
    STATE_SUCCEEDED,
    Condition,
    ConditionStatus,
    WorkspaceState,
    WorkspaceStatus,
    find_condition,
    set_condition,
)

__all__ = [
    "REASON_INVALID",
    "WORKLOAD_SPEC_REASONS",
    "Failure",
    "Observed",
    "StatusEvent",
    "desired_status",
    "status_events",
]

REASON_INVALID = "InvalidWorkspace"
_Put = Callable[[str, ConditionStatus, str, str], None]  # sets one condition
_WAITING_REASONS = frozenset(
    {"NodesPending", "WorkloadPending", "WaitingForNodes", "WaitingForWorkload", "JobPending"}
)
# conditions whose turning True is news on its own (the others only when they recover from a failure)
_MILESTONES = frozenset({CONDITION_JOB_STARTED, CONDITION_WORKSPACE_DELETING})
# plan failures about the workload's spec, not the nodes (the reasons of workspace_plan.PlanProblem)
WORKLOAD_SPEC_REASONS = frozenset({"ConfigMapNotFound", "InvalidInferenceConfig", "UnknownPreset"})


@dataclass(frozen=True)
class Failure:
    """Why a step failed: a CamelCase reason and a sentence; `permanent` unless waiting can fix it."""

    reason: str
    message: str
    permanent: bool = True


@dataclass(frozen=True)
class Observed:
    """What one reconcile found. Fields after the first failure are left at their defaults."""

    generation: int | None
    tuning: bool = False
    invalid: list[str] | None = None
    plan_failure: Failure | None = None
    target_nodes: int | None = None
    ready_nodes: list[str] = field(default_factory=list)
    nodes_message: str = ""
    node_failure: Failure | None = None
    workload_failure: Failure | None = None
    workload_exists: bool = False
    workload_ready: bool = False
    workload_message: str = ""
    job_state: Literal["pending", "running", "succeeded", "failed"] | None = None
    job_reason: str = ""
    job_message: str = ""
    deleting_message: str | None = None


@dataclass(frozen=True)
class StatusEvent:
    """An Event to record about the Workspace."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


def _condition(
    type_: str, status: ConditionStatus, reason: str, message: str, generation: int | None, now: datetime
) -> Condition:
    return Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message[:32768],
        observed_generation=generation,
        last_transition_time=now,
    )


def desired_status(old: WorkspaceStatus | None, observed: Observed, now: datetime) -> WorkspaceStatus:
    """The whole next status (see the module docstring)."""
    conditions = list(old.conditions or []) if old is not None else []
    gen = observed.generation

    def put(type_: str, status: ConditionStatus, reason: str, message: str) -> None:
        nonlocal conditions
        conditions = set_condition(conditions, _condition(type_, status, reason, message, gen, now))

    worker_nodes = old.worker_nodes if old is not None else None
    target = old.target_node_count if old is not None else None
    state: WorkspaceState

    if observed.deleting_message is not None:
        put(CONDITION_WORKSPACE_DELETING, CONDITION_TRUE, "Deleting", observed.deleting_message)
        state = old.state if old is not None and old.state is not None else STATE_PENDING
        return WorkspaceStatus(
            worker_nodes=worker_nodes, state=state, conditions=conditions, target_node_count=target
        )

    if observed.invalid:
        put(CONDITION_WORKSPACE_SUCCEEDED, CONDITION_FALSE, REASON_INVALID, " ".join(observed.invalid))
        return WorkspaceStatus(
            worker_nodes=worker_nodes, state=STATE_FAILED, conditions=conditions, target_node_count=target
        )

    if observed.plan_failure is not None:
        failure = observed.plan_failure
        resource = find_condition(conditions, CONDITION_RESOURCE_READY)
        if failure.reason not in WORKLOAD_SPEC_REASONS or resource is None or not resource.is_true:
            put(CONDITION_RESOURCE_READY, CONDITION_FALSE, failure.reason, failure.message)
        succeeded: ConditionStatus = CONDITION_FALSE if failure.permanent else CONDITION_UNKNOWN
        put(CONDITION_WORKSPACE_SUCCEEDED, succeeded, failure.reason, failure.message)
        return WorkspaceStatus(
            worker_nodes=worker_nodes,
            state=STATE_FAILED if failure.permanent else STATE_PENDING,
            conditions=conditions,
            target_node_count=target,
        )

    target = observed.target_nodes
    target_count = target or 0
    resources_ready = observed.node_failure is None and len(observed.ready_nodes) >= target_count
    if observed.node_failure is not None:
        failure = observed.node_failure
        put(CONDITION_RESOURCE_READY, CONDITION_FALSE, failure.reason, failure.message)
    elif resources_ready:
        nodes = ", ".join(sorted(observed.ready_nodes))
        put(CONDITION_RESOURCE_READY, CONDITION_TRUE, "NodesReady", f"{target_count} node(s) ready: {nodes}")
        worker_nodes = sorted(observed.ready_nodes)
    else:
        put(CONDITION_RESOURCE_READY, CONDITION_FALSE, "NodesPending", observed.nodes_message)

    if observed.workload_failure is not None:
        failure = observed.workload_failure
        type_ = CONDITION_JOB_STARTED if observed.tuning else CONDITION_INFERENCE_READY
        put(type_, CONDITION_FALSE, failure.reason, failure.message)
        put(CONDITION_WORKSPACE_SUCCEEDED, CONDITION_FALSE, failure.reason, failure.message)
        return WorkspaceStatus(
            worker_nodes=worker_nodes, state=STATE_FAILED, conditions=conditions, target_node_count=target
        )

    if observed.tuning:
        state = _tuning(observed, resources_ready, put)
    else:
        state = _inference(observed, resources_ready, put)
    return WorkspaceStatus(
        worker_nodes=worker_nodes, state=state, conditions=conditions, target_node_count=target
    )


def _node_wait(observed: Observed, put: _Put) -> WorkspaceState:
    if observed.node_failure is not None:
        failure = observed.node_failure
        status: ConditionStatus = CONDITION_FALSE if failure.permanent else CONDITION_UNKNOWN
        put(CONDITION_WORKSPACE_SUCCEEDED, status, failure.reason, failure.message)
        return STATE_FAILED if failure.permanent else STATE_PENDING
    put(CONDITION_WORKSPACE_SUCCEEDED, CONDITION_UNKNOWN, "WaitingForNodes", observed.nodes_message)
    return STATE_PENDING


def _inference(observed: Observed, resources_ready: bool, put: _Put) -> WorkspaceState:
    if observed.workload_exists:
        if observed.workload_ready:
            put(CONDITION_INFERENCE_READY, CONDITION_TRUE, "WorkloadReady", observed.workload_message)
        else:
            put(CONDITION_INFERENCE_READY, CONDITION_FALSE, "WorkloadPending", observed.workload_message)
    if not resources_ready:
        return _node_wait(observed, put)
    if observed.workload_exists and observed.workload_ready:
        put(CONDITION_WORKSPACE_SUCCEEDED, CONDITION_TRUE, "WorkspaceSucceeded", "inference is ready")
        return STATE_READY
    put(CONDITION_WORKSPACE_SUCCEEDED, CONDITION_UNKNOWN, "WaitingForWorkload", observed.workload_message)
    return STATE_NOT_READY


def _tuning(observed: Observed, resources_ready: bool, put: _Put) -> WorkspaceState:
    if observed.job_state == "pending":
        put(CONDITION_JOB_STARTED, CONDITION_FALSE, "JobPending", observed.job_message)
    elif observed.job_state in ("running", "succeeded"):
        put(CONDITION_JOB_STARTED, CONDITION_TRUE, "JobStarted", observed.job_message)
    elif observed.job_state == "failed":
        put(CONDITION_JOB_STARTED, CONDITION_FALSE, "JobFailed", observed.job_message)
    if observed.job_state == "succeeded":
        put(CONDITION_WORKSPACE_SUCCEEDED, CONDITION_TRUE, observed.job_reason, observed.job_message)
        return STATE_SUCCEEDED
    if observed.job_state == "failed":
        put(CONDITION_WORKSPACE_SUCCEEDED, CONDITION_FALSE, observed.job_reason, observed.job_message)
        return STATE_FAILED
    if not resources_ready and observed.job_state is None:
        return _node_wait(observed, put)
    reason = "JobPending" if observed.job_state == "pending" else "JobRunning"
    put(CONDITION_WORKSPACE_SUCCEEDED, CONDITION_UNKNOWN, reason, observed.job_message or "starting")
    return STATE_RUNNING


def status_events(old: WorkspaceStatus | None, new: WorkspaceStatus) -> list[StatusEvent]:
    """The Events that tell a change (see the module docstring): Warnings for failures, Normal milestones."""
    events: list[StatusEvent] = []
    previous = old.conditions if old is not None else None
    for condition in new.conditions or []:
        before = find_condition(previous, condition.type)
        if before is not None and (before.status, before.reason) == (condition.status, condition.reason):
            continue
        message = condition.message or f"{condition.type} is {condition.status}"
        if _is_failure(condition.status, condition.reason):
            event = StatusEvent("Warning", condition.reason, message)
        elif condition.status == CONDITION_TRUE and (
            condition.type in _MILESTONES
            or (condition.type == CONDITION_WORKSPACE_SUCCEEDED and new.state == STATE_SUCCEEDED)
            or (before is not None and _is_failure(before.status, before.reason))
        ):
            event = StatusEvent("Normal", condition.reason, message)
        else:
            continue
        if event not in events:  # one failure often fails two conditions with the same sentence
            events.append(event)
    return events


def _is_failure(status: ConditionStatus, reason: str) -> bool:
    return status == CONDITION_FALSE and reason not in _WAITING_REASONS
