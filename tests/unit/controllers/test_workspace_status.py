"""desired_status and status_events: the conditions and state a user reads, and the story Events tell."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kaito.api import find_condition
from kaito.controllers.workspace_status import Failure, Observed, desired_status, status_events

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def summary(observed: Observed) -> tuple[str | None, dict[str, tuple[str, str]]]:
    status = desired_status(None, observed, NOW)
    return status.state, {c.type: (c.status, c.reason) for c in status.conditions or []}


@pytest.mark.parametrize(
    ("observed", "state", "conditions"),
    [
        (
            Observed(1, invalid=["metadata.name: bad."]),
            "Failed",
            {"WorkspaceSucceeded": ("False", "InvalidWorkspace")},
        ),
        (
            Observed(1, plan_failure=Failure("SizingRefused", "resource.instanceType: too small.")),
            "Failed",
            {"ResourceReady": ("False", "SizingRefused"), "WorkspaceSucceeded": ("False", "SizingRefused")},
        ),
        (
            Observed(
                1, plan_failure=Failure("NodesNotFound", "resource.labelSelector: none.", permanent=False)
            ),
            "Pending",
            {"ResourceReady": ("False", "NodesNotFound"), "WorkspaceSucceeded": ("Unknown", "NodesNotFound")},
        ),
        (
            Observed(1, target_nodes=2, ready_nodes=["n0"], nodes_message="1 of 2"),
            "Pending",
            {
                "ResourceReady": ("False", "NodesPending"),
                "WorkspaceSucceeded": ("Unknown", "WaitingForNodes"),
            },
        ),
        (
            Observed(
                1, target_nodes=1, node_failure=Failure("QuotaExceeded", "resource.instanceType: quota.")
            ),
            "Failed",
            {"ResourceReady": ("False", "QuotaExceeded"), "WorkspaceSucceeded": ("False", "QuotaExceeded")},
        ),
        (
            Observed(1, target_nodes=1, ready_nodes=["n0"], workload_exists=True, workload_message="0 of 1"),
            "NotReady",
            {
                "ResourceReady": ("True", "NodesReady"),
                "InferenceReady": ("False", "WorkloadPending"),
                "WorkspaceSucceeded": ("Unknown", "WaitingForWorkload"),
            },
        ),
        (
            Observed(1, target_nodes=1, ready_nodes=["n0"], workload_exists=True, workload_ready=True),
            "Ready",
            {
                "ResourceReady": ("True", "NodesReady"),
                "InferenceReady": ("True", "WorkloadReady"),
                "WorkspaceSucceeded": ("True", "WorkspaceSucceeded"),
            },
        ),
        (
            Observed(
                1,
                target_nodes=1,
                ready_nodes=["n0"],
                workload_failure=Failure("UnsupportedRequest", "inference: x."),
            ),
            "Failed",
            {
                "ResourceReady": ("True", "NodesReady"),
                "InferenceReady": ("False", "UnsupportedRequest"),
                "WorkspaceSucceeded": ("False", "UnsupportedRequest"),
            },
        ),
        (
            Observed(
                1, tuning=True, target_nodes=1, ready_nodes=["n0"], job_state="pending", job_message="Job t"
            ),
            "Running",
            {
                "ResourceReady": ("True", "NodesReady"),
                "JobStarted": ("False", "JobPending"),
                "WorkspaceSucceeded": ("Unknown", "JobPending"),
            },
        ),
        (
            Observed(
                1, tuning=True, target_nodes=1, ready_nodes=["n0"], job_state="running", job_message="Job t"
            ),
            "Running",
            {
                "ResourceReady": ("True", "NodesReady"),
                "JobStarted": ("True", "JobStarted"),
                "WorkspaceSucceeded": ("Unknown", "JobRunning"),
            },
        ),
        (
            Observed(
                1,
                tuning=True,
                target_nodes=1,
                ready_nodes=["n0"],
                job_state="succeeded",
                job_reason="JobSucceeded",
            ),
            "Succeeded",
            {
                "ResourceReady": ("True", "NodesReady"),
                "JobStarted": ("True", "JobStarted"),
                "WorkspaceSucceeded": ("True", "JobSucceeded"),
            },
        ),
        (
            Observed(
                1,
                tuning=True,
                target_nodes=1,
                ready_nodes=["n0"],
                job_state="failed",
                job_reason="BackoffLimitExceeded",
            ),
            "Failed",
            {
                "ResourceReady": ("True", "NodesReady"),
                "JobStarted": ("False", "JobFailed"),
                "WorkspaceSucceeded": ("False", "BackoffLimitExceeded"),
            },
        ),
    ],
)
def test_state_and_conditions(observed: Observed, state: str, conditions: dict[str, tuple[str, str]]) -> None:
    assert summary(observed) == (state, conditions)


def test_worker_nodes_and_target_are_recorded() -> None:
    status = desired_status(None, Observed(3, target_nodes=2, ready_nodes=["b", "a"]), NOW)
    assert status.worker_nodes == ["a", "b"]
    assert status.target_node_count == 2
    assert all(c.observed_generation == 3 for c in status.conditions or [])


def test_an_unchanged_observation_gives_an_equal_status_with_the_old_transition_times() -> None:
    observed = Observed(1, target_nodes=1, ready_nodes=["n0"], workload_exists=True, workload_ready=True)
    first = desired_status(None, observed, NOW)
    again = desired_status(first, observed, NOW + timedelta(minutes=5))
    assert again == first
    later = desired_status(
        first,
        Observed(1, target_nodes=1, ready_nodes=[], nodes_message="0 of 1", workload_exists=True),
        NOW + timedelta(minutes=5),
    )
    resource = find_condition(later.conditions, "ResourceReady")
    assert resource is not None and resource.last_transition_time == NOW + timedelta(minutes=5)


def test_deleting_keeps_the_rest_of_the_status() -> None:
    ready = desired_status(
        None, Observed(1, target_nodes=1, ready_nodes=["n0"], workload_exists=True, workload_ready=True), NOW
    )
    deleting = desired_status(ready, Observed(1, deleting_message="waiting for 1 Machine(s)"), NOW)
    assert deleting.state == "Ready"
    assert {c.type for c in deleting.conditions or []} >= {"WorkspaceDeleting", "ResourceReady"}


@pytest.mark.parametrize(
    ("failure", "resource_ready"),
    [
        (Failure("InvalidInferenceConfig", "inference.config: not valid YAML."), ("True", "NodesReady")),
        (Failure("ConfigMapNotFound", "inference.config: gone.", permanent=False), ("True", "NodesReady")),
        (Failure("UnknownPreset", "inference.preset.name: unknown."), ("True", "NodesReady")),
        (Failure("SizingRefused", "resource.instanceType: too small."), ("False", "SizingRefused")),
        (
            Failure("NodesNotFound", "resource.labelSelector: none.", permanent=False),
            ("False", "NodesNotFound"),
        ),
    ],
)
def test_a_workload_spec_problem_on_a_running_workspace_does_not_report_its_nodes_lost(
    failure: Failure, resource_ready: tuple[str, str]
) -> None:
    ready = desired_status(
        None, Observed(1, target_nodes=1, ready_nodes=["n0"], workload_exists=True, workload_ready=True), NOW
    )
    broken = desired_status(ready, Observed(1, plan_failure=failure), NOW)
    conditions = {c.type: (c.status, c.reason) for c in broken.conditions or []}
    assert conditions["ResourceReady"] == resource_ready
    assert conditions["WorkspaceSucceeded"][1] == failure.reason
    assert conditions["InferenceReady"] == ("True", "WorkloadReady")  # still serving the old rendering
    assert broken.worker_nodes == ["n0"]


def test_events_tell_milestones_and_failures_not_each_step() -> None:
    pending = desired_status(None, Observed(1, target_nodes=1, nodes_message="0 of 1"), NOW)
    assert status_events(None, pending) == []  # waiting for nodes is the conditions' business
    nodes = desired_status(
        pending, Observed(1, target_nodes=1, ready_nodes=["n0"], workload_exists=True), NOW
    )
    assert status_events(pending, nodes) == []  # nodes ready, workload pending: steps, not milestones
    ready = desired_status(
        nodes,
        Observed(1, target_nodes=1, ready_nodes=["n0"], workload_exists=True, workload_ready=True),
        NOW,
    )
    assert status_events(nodes, ready) == []  # ready: the conditions say so, with the time
    assert status_events(ready, ready) == []


def test_every_failure_is_a_warning_once_and_a_recovery_is_told() -> None:
    failed = desired_status(
        None, Observed(1, target_nodes=1, node_failure=Failure("QuotaExceeded", "quota.")), NOW
    )
    # ResourceReady and WorkspaceSucceeded both fail with the same sentence: one Warning
    assert [(e.type, e.reason, e.message) for e in status_events(None, failed)] == [
        ("Warning", "QuotaExceeded", "quota."),
    ]
    other = desired_status(
        failed, Observed(1, target_nodes=1, node_failure=Failure("SkuNotAvailable", "no sku.")), NOW
    )
    assert [(e.type, e.reason) for e in status_events(failed, other)] == [("Warning", "SkuNotAvailable")]
    recovered = desired_status(other, Observed(1, target_nodes=1, ready_nodes=["n0"]), NOW)
    assert [(e.type, e.reason) for e in status_events(other, recovered)] == [("Normal", "NodesReady")]
    tuning = desired_status(
        None,
        Observed(1, tuning=True, target_nodes=1, ready_nodes=["n0"], job_state="running", job_message="r"),
        NOW,
    )
    assert [(e.type, e.reason) for e in status_events(None, tuning)] == [("Normal", "JobStarted")]
    done = desired_status(
        tuning,
        Observed(
            1,
            tuning=True,
            target_nodes=1,
            ready_nodes=["n0"],
            job_state="succeeded",
            job_reason="JobSucceeded",
            job_message="done",
        ),
        NOW,
    )
    assert [(e.type, e.reason) for e in status_events(tuning, done)] == [("Normal", "JobSucceeded")]


def test_an_inference_workspace_back_from_a_failure_tells_the_recovery() -> None:
    broken = desired_status(
        None,
        Observed(
            1, target_nodes=1, ready_nodes=["n0"], workload_failure=Failure("UnsupportedRequest", "bad.")
        ),
        NOW,
    )
    fixed = desired_status(
        broken,
        Observed(1, target_nodes=1, ready_nodes=["n0"], workload_exists=True, workload_ready=True),
        NOW,
    )
    assert ("Normal", "WorkspaceSucceeded") in [(e.type, e.reason) for e in status_events(broken, fixed)]
