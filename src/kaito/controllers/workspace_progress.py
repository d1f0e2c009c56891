"""How far a Workspace has got, as the phases a person watching it cares about: pure.

`workspace_progress(workspace, machines)` reads a Workspace (wire form) and its Machines and returns the
phases reached so far, in order, each with a stable key and a line to print:

    validated · planned N node(s) · machines launched (or: using existing nodes) · nodes ready ·
    workload created (or: job started) · inference ready (or: job completed)

plus `done` (WorkspaceSucceeded True) and `failure` (WorkspaceSucceeded False: its reason and message).
Phases only accumulate while the Workspace moves forward, so a watcher prints each key once (`kaito up`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kaito.api import (
    CONDITION_INFERENCE_READY,
    CONDITION_JOB_STARTED,
    CONDITION_RESOURCE_READY,
    CONDITION_WORKSPACE_SUCCEEDED,
    MACHINE_CONDITION_LAUNCHED,
)

__all__ = ["Phase", "Progress", "workspace_progress"]


@dataclass(frozen=True)
class Phase:
    """One phase reached: a key to print it once, and the line."""

    key: str
    line: str


@dataclass(frozen=True)
class Progress:
    """The phases reached, and whether the Workspace is done or failed."""

    phases: list[Phase] = field(default_factory=list)
    done: bool = False
    failure: str | None = None


def _conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in (obj.get("status") or {}).get("conditions") or []}


def _launched(machine: Mapping[str, Any]) -> bool:
    return _conditions(machine).get(MACHINE_CONDITION_LAUNCHED, {}).get("status") == "True"


def workspace_progress(workspace: Mapping[str, Any], machines: Sequence[Mapping[str, Any]]) -> Progress:
    """See the module docstring."""
    status = workspace.get("status") or {}
    conditions = _conditions(workspace)
    succeeded = conditions.get(CONDITION_WORKSPACE_SUCCEEDED, {})
    failure = None
    if succeeded.get("status") == "False":
        failure = f"{succeeded.get('reason')}: {succeeded.get('message')}"
    phases: list[Phase] = []
    target = status.get("targetNodeCount")
    if target is None:
        return Progress(phases, False, failure)
    phases.append(Phase("validated", "validated"))
    resource = workspace.get("resource") or {}
    instance_type = resource.get("instanceType")
    where = f" of {instance_type}" if instance_type else ""
    phases.append(Phase("planned", f"planned {target} node(s){where}"))
    launched = [m for m in machines if _launched(m)]
    if not instance_type:
        phases.append(Phase("machines", "using existing nodes (bring your own): no machines to launch"))
    elif len(launched) >= int(target):
        names = ", ".join(sorted(str(m["metadata"]["name"]) for m in launched))
        phases.append(Phase("machines", f"machines launched: {names}"))
    resource_ready = conditions.get(CONDITION_RESOURCE_READY, {})
    if resource_ready.get("status") != "True":
        return Progress(phases, False, failure)
    if "machines" not in {p.key for p in phases}:
        phases.append(Phase("machines", "machines launched"))
    phases.append(Phase("nodes", f"nodes ready: {', '.join(status.get('workerNodes') or [])}"))
    if workspace.get("tuning") is not None:
        started = conditions.get(CONDITION_JOB_STARTED, {})
        if started.get("status") == "True":
            phases.append(Phase("workload", f"job started: {started.get('message', '')}"))
        if succeeded.get("status") == "True":
            phases.append(Phase("ready", f"job completed: {succeeded.get('message', '')}"))
    else:
        inference = conditions.get(CONDITION_INFERENCE_READY)
        if inference is not None:
            phases.append(Phase("workload", "workload created"))
            if inference.get("status") == "True":
                phases.append(Phase("ready", f"inference ready: {inference.get('message', '')}"))
    return Progress(phases, succeeded.get("status") == "True", failure)
