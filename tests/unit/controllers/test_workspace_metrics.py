"""Workspace metrics: each phase timed once per Workspace, and Workspaces counted by state."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from kaito.controllers.workspace_metrics import WorkspaceStates, workspace_metrics


def test_a_phase_is_observed_once_per_workspace() -> None:
    registry = CollectorRegistry()
    metrics = workspace_metrics(registry)
    assert workspace_metrics(registry) is metrics  # one set per registry
    assert metrics.observe_phase("u1", "node_ready", 42.0)
    assert not metrics.observe_phase("u1", "node_ready", 43.0)
    metrics.mark_seen("u2", "node_ready")
    assert not metrics.observe_phase("u2", "node_ready", 1.0)
    sample = registry.get_sample_value
    assert sample("kaito_workspace_phase_duration_seconds_count", {"phase": "node_ready"}) == 1
    assert sample("kaito_workspace_phase_duration_seconds_sum", {"phase": "node_ready"}) == 42.0
    metrics.forget("u1")
    assert metrics.observe_phase("u1", "node_ready", 5.0)
    with pytest.raises(ValueError, match="node_provision, node_ready, workload_ready"):
        metrics.observe_phase("u1", "coffee", 1.0)


def test_workspaces_are_counted_by_state() -> None:
    registry = CollectorRegistry()
    metrics = workspace_metrics(registry)
    metrics.count_states(["Ready", "Ready", "Pending", None])
    assert registry.get_sample_value("kaito_workspaces", {"state": "Ready"}) == 2
    assert registry.get_sample_value("kaito_workspaces", {"state": ""}) == 1
    metrics.count_states(["Failed"])
    assert registry.get_sample_value("kaito_workspaces", {"state": "Ready"}) == 0
    assert registry.get_sample_value("kaito_workspaces", {"state": "Failed"}) == 1


def test_workspace_states_move_one_workspace_between_labels() -> None:
    registry = CollectorRegistry()
    states = WorkspaceStates(workspace_metrics(registry))

    def gauge() -> dict[str, float | None]:
        return {
            s: registry.get_sample_value("kaito_workspaces", {"state": s}) for s in ("", "Pending", "Ready")
        }

    assert gauge() == {"": 0, "Pending": 0, "Ready": 0}
    states.set("ns/a", None)
    states.set("ns/b", "Pending")
    states.set("ns/c", "Pending")
    assert gauge() == {"": 1, "Pending": 2, "Ready": 0}
    states.set("ns/a", "Pending")
    states.set("ns/b", "Ready")
    states.set("ns/b", "Ready")  # unchanged: counted once
    assert gauge() == {"": 0, "Pending": 2, "Ready": 1}
    states.drop("ns/c")
    states.drop("ns/gone")
    assert gauge() == {"": 0, "Pending": 1, "Ready": 1}
    assert (len(states), states.get("ns/b"), states.get("ns/c")) == (2, "Ready", None)
