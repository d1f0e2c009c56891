"""Prometheus metrics of the Workspace controller: how long each phase took, and Workspaces by state.

    kaito_workspace_phase_duration_seconds{phase}   histogram; phase is one of
        node_provision   Workspace created -> every Machine Launched (the cloud accepted the nodes)
        node_ready       Workspace created -> ResourceReady True
        workload_ready   ResourceReady True -> InferenceReady True (or the tuning Job completed)
    kaito_workspaces{state}                         gauge; Workspaces per status.state ("" when unset)

The gauge is kept by `WorkspaceStates`, one per reconciler: each state change moves one Workspace from one
label to another, so a reconcile costs the same with ten Workspaces as with ten thousand (recounting every
Workspace on each reconcile made the controller quadratic in their number).

Durations are observed once per Workspace and phase (keyed by uid), from the transition times the status
records, so a restarted controller never observes a phase twice for a Workspace it already saw, and never
observes one it did not see happen (a Workspace already Ready at start-up is not timed). Registered once per
`CollectorRegistry`, like kaito.ctrl's own metrics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Gauge, Histogram

from kaito.api import (
    STATE_FAILED,
    STATE_NOT_READY,
    STATE_PENDING,
    STATE_READY,
    STATE_RUNNING,
    STATE_SUCCEEDED,
)

__all__ = ["PHASES", "WorkspaceMetrics", "WorkspaceStates", "workspace_metrics"]

PHASES = ("node_provision", "node_ready", "workload_ready")
_STATES = (STATE_PENDING, STATE_READY, STATE_NOT_READY, STATE_RUNNING, STATE_SUCCEEDED, STATE_FAILED, "")
_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, float("inf"))


@dataclass
class WorkspaceMetrics:
    """The metric objects plus which (uid, phase) pairs were already observed."""

    phase_duration: Histogram
    workspaces: Gauge
    observed: set[tuple[str, str]] = field(default_factory=set)
    _phases_of: dict[str, set[str]] = field(default_factory=dict)  # uid -> phases in `observed`

    def observe_phase(self, uid: str, phase: str, seconds: float) -> bool:
        """Record a phase duration once per Workspace; returns whether it was recorded now."""
        if phase not in PHASES:
            raise ValueError(f"phase {phase!r} is not one of {', '.join(PHASES)}")
        key = (uid, phase)
        if key in self.observed:
            return False
        self.observed.add(key)
        self._phases_of.setdefault(uid, set()).add(phase)
        self.phase_duration.labels(phase=phase).observe(max(0.0, seconds))
        return True

    def mark_seen(self, uid: str, phase: str) -> None:
        """Remember a phase that finished before we watched, so it is never timed."""
        self.observed.add((uid, phase))
        self._phases_of.setdefault(uid, set()).add(phase)

    def forget(self, uid: str) -> None:
        """Drop what we remember of a deleted Workspace."""
        for phase in self._phases_of.pop(uid, ()):
            self.observed.discard((uid, phase))

    def count_states(self, states: Iterable[str | None]) -> None:
        """Set the gauge from every Workspace's state."""
        counts = dict.fromkeys(_STATES, 0)
        for state in states:
            counts[state or ""] = counts.get(state or "", 0) + 1
        for state, count in counts.items():
            self.workspaces.labels(state=state).set(count)


class WorkspaceStates:
    """Each Workspace's status.state (by "namespace/name") and the `kaito_workspaces` gauge kept from it.

    Invariant: `_counts[s]` is the number of keys whose state is `s` ("" for none), and the gauge's label
    `s` shows it for every state this tally touched (the usual states start at 0)."""

    def __init__(self, metrics: WorkspaceMetrics) -> None:
        self._gauge = metrics.workspaces
        self._states: dict[str, str] = {}
        self._counts: Counter[str] = Counter()
        for state in _STATES:
            self._gauge.labels(state=state).set(0)

    def set(self, key: str, state: str | None) -> None:
        """Record the state of one Workspace; moves it from its old label to the new one."""
        new, old = state or "", self._states.get(key)
        if old == new:
            return
        self._states[key] = new
        self._move(old, new)

    def drop(self, key: str) -> None:
        """Forget a deleted Workspace."""
        old = self._states.pop(key, None)
        if old is not None:
            self._move(old, None)

    def get(self, key: str) -> str | None:
        """The state recorded for `key` ("" for a Workspace without one), or None if unknown."""
        return self._states.get(key)

    def __len__(self) -> int:
        return len(self._states)

    def _move(self, old: str | None, new: str | None) -> None:
        for label, step in ((old, -1), (new, 1)):
            if label is not None:
                self._counts[label] += step
                self._gauge.labels(state=label).set(self._counts[label])


_BY_REGISTRY: dict[int, tuple[CollectorRegistry, WorkspaceMetrics]] = {}


def workspace_metrics(registry: CollectorRegistry) -> WorkspaceMetrics:
    """The Workspace metrics of `registry`, created on first use (a name registers only once)."""
    cached = _BY_REGISTRY.get(id(registry))
    if cached is not None and cached[0] is registry:
        return cached[1]
    metrics = WorkspaceMetrics(
        phase_duration=Histogram(
            "kaito_workspace_phase_duration_seconds",
            "Seconds each phase of bringing up a Workspace took.",
            ["phase"],
            buckets=_BUCKETS,
            registry=registry,
        ),
        workspaces=Gauge("kaito_workspaces", "Workspaces by status.state.", ["state"], registry=registry),
    )
    _BY_REGISTRY[id(registry)] = (registry, metrics)
    return metrics
