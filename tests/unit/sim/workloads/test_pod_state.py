"""Tests of the pod predicates every workload controller counts by: active and Ready."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.workloads.pod_state import pod_is_active, pod_is_ready

READY = {"type": "Ready", "status": "True"}
NOT_READY = {"type": "Ready", "status": "False"}


def pod(phase: str | None = "Running", *conditions: dict[str, str], deleting: bool = False) -> dict[str, Any]:
    metadata = {"deletionTimestamp": "2026-01-01T00:00:00Z"} if deleting else {}
    status: dict[str, Any] = {"conditions": list(conditions)}
    if phase is not None:
        status["phase"] = phase
    return {"metadata": metadata, "status": status}


@pytest.mark.parametrize(
    ("obj", "active", "ready"),
    [
        (pod("Pending"), True, False),
        (pod(None), True, False),  # no status yet: just created
        (pod("Running", READY), True, True),
        (pod("Running", NOT_READY), True, False),
        (pod("Running", {"type": "ContainersReady", "status": "True"}), True, False),
        (pod("Running", READY, deleting=True), False, False),
        (pod("Succeeded"), False, False),
        (pod("Failed"), False, False),
        ({}, True, False),
    ],
)
def test_active_and_ready(obj: dict[str, Any], active: bool, ready: bool) -> None:
    assert (pod_is_active(obj), pod_is_ready(obj)) == (active, ready)
