"""Tests of controller ownership: the reference a controller writes, and finding its objects by it."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.workloads.ownership import controller_of, owned_by, owner_reference

OWNER = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "uid": "u1"}}


def pod(name: str, *refs: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "ownerReferences": list(refs)}}


def test_owner_reference_is_a_blocking_controller_reference() -> None:
    assert owner_reference(OWNER) == {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web-1",
        "uid": "u1",
        "controller": True,
        "blockOwnerDeletion": True,
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({}, None),
        (pod("p"), None),
        (pod("p", {"kind": "ConfigMap", "uid": "c", "name": "cm"}), None),  # an owner, but not the controller
        (pod("p", {"kind": "ConfigMap", "uid": "c"}, {"kind": "Job", "uid": "j", "controller": True}), "j"),
    ],
)
def test_controller_of_finds_only_the_controller_reference(obj: dict[str, Any], expected: str | None) -> None:
    found = controller_of(obj)
    assert (found or {}).get("uid") == expected


def test_owned_by_matches_the_controller_uid_not_the_name() -> None:
    same_name_other_uid = {**owner_reference(OWNER), "uid": "u2"}
    not_controller = {**owner_reference(OWNER), "controller": False}
    objects = [
        pod("mine", owner_reference(OWNER)),
        pod("recreated-owner", same_name_other_uid),
        pod("merely-owned", not_controller),
        pod("orphan"),
    ]
    assert [o["metadata"]["name"] for o in owned_by(objects, OWNER)] == ["mine"]
