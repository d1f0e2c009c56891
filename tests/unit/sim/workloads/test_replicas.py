"""Tests of replica counts read from a workload object, with kube's defaults for what is absent."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.workloads.replicas import spec_replicas, status_count


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({}, 1),
        ({"spec": {}}, 1),
        ({"spec": {"replicas": None}}, 1),
        ({"spec": {"replicas": 0}}, 0),
        ({"spec": {"replicas": 3}}, 3),
    ],
)
def test_spec_replicas_defaults_to_one(obj: dict[str, Any], expected: int) -> None:
    assert spec_replicas(obj) == expected


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({}, 0),
        ({"status": None}, 0),
        ({"status": {"readyReplicas": None}}, 0),
        ({"status": {"readyReplicas": 2}}, 2),
    ],
)
def test_status_count_defaults_to_zero(obj: dict[str, Any], expected: int) -> None:
    assert status_count(obj, "readyReplicas") == expected
