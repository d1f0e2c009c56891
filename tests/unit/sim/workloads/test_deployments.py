"""Tests of the Deployment controller's pure rollout arithmetic and conditions (its reconcile runs in
test_workloads.py, against a real Store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kaito.sim.workloads.deployments import (
    deployment_conditions,
    new_replica_set_replicas,
    old_replica_sets_scale_down,
    resolve_fenceposts,
)


@pytest.mark.parametrize(
    ("strategy", "replicas", "expected"),
    [
        (None, 4, (1, 1)),
        (None, 1, (1, 0)),
        (None, 10, (3, 2)),
        ({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}, 3, (0, 1)),
        ({"rollingUpdate": {"maxSurge": "50%", "maxUnavailable": 2}}, 3, (2, 2)),
    ],
)
def test_resolve_fenceposts(
    strategy: dict[str, Any] | None, replicas: int, expected: tuple[int, int]
) -> None:
    assert resolve_fenceposts(strategy, replicas) == expected


def rs(name: str, replicas: int, available: int = 0, created: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "creationTimestamp": created},
        "spec": {"replicas": replicas},
        "status": {"availableReplicas": available},
    }


@pytest.mark.parametrize(
    ("desired", "surge", "new", "old", "expected"),
    [
        (3, 1, rs("new", 0), [rs("old", 3, 3)], 1),  # surge by one
        (3, 1, rs("new", 1), [rs("old", 3, 3)], 1),  # already at replicas + surge
        (3, 1, rs("new", 1), [rs("old", 2, 2)], 2),
        (3, 0, rs("new", 0), [rs("old", 3, 3)], 0),
        (3, 1, rs("new", 0), [], 3),
    ],
)
def test_new_replica_set_grows_within_surge(
    desired: int, surge: int, new: dict[str, Any], old: list[dict[str, Any]], expected: int
) -> None:
    assert new_replica_set_replicas(desired, surge, new, [new, *old]) == expected


@pytest.mark.parametrize(
    ("desired", "unavailable", "new", "old", "expected"),
    [
        (1, 0, rs("new", 1, 0), [rs("old", 1, 1)], {"old": 1}),  # new not available yet: keep the old one
        (1, 0, rs("new", 1, 1), [rs("old", 1, 1)], {"old": 0}),
        (4, 1, rs("new", 1, 0), [rs("old", 4, 4)], {"old": 3}),
        (2, 0, rs("new", 2, 2), [rs("old", 2, 0)], {"old": 0}),  # unhealthy replicas go first
        (
            2,
            0,
            rs("new", 2, 2),
            [rs("b", 1, 1, "2026-01-02T00:00:00Z"), rs("a", 1, 1, "2026-01-01T00:00:00Z")],
            {"a": 0, "b": 0},
        ),
    ],
)
def test_old_replica_sets_scale_down_keeps_availability(
    desired: int, unavailable: int, new: dict[str, Any], old: list[dict[str, Any]], expected: dict[str, int]
) -> None:
    assert old_replica_sets_scale_down(desired, unavailable, new, old) == expected


def test_deployment_conditions_follow_the_rollout() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    counts = {"replicas": 1, "updatedReplicas": 1, "readyReplicas": 0, "availableReplicas": 0}
    kwargs: dict[str, Any] = {"desired": 1, "max_unavailable": 0, "new_rs_name": "web-abc", "deadline_s": 600}
    created = deployment_conditions(
        [], status=counts, created_new_rs=True, progressed=False, now=now, **kwargs
    )
    assert [(c["type"], c["status"], c["reason"]) for c in created] == [
        ("Available", "False", "MinimumReplicasUnavailable"),
        ("Progressing", "True", "NewReplicaSetCreated"),
    ]
    done = {**counts, "readyReplicas": 1, "availableReplicas": 1}
    later = now + timedelta(seconds=5)
    final = deployment_conditions(
        created, status=done, created_new_rs=False, progressed=True, now=later, **kwargs
    )
    assert [(c["type"], c["status"], c["reason"]) for c in final] == [
        ("Available", "True", "MinimumReplicasAvailable"),
        ("Progressing", "True", "NewReplicaSetAvailable"),
    ]
    assert final[1]["message"] == 'ReplicaSet "web-abc" has successfully progressed.'
    assert final[1]["lastTransitionTime"] == "2026-01-01T00:00:00Z"  # still True: no transition
    stuck = deployment_conditions(
        created,
        status=counts,
        created_new_rs=False,
        progressed=False,
        now=now + timedelta(seconds=601),
        **kwargs,
    )
    assert (stuck[1]["status"], stuck[1]["reason"]) == ("False", "ProgressDeadlineExceeded")
