"""Request handlers: which requests an event enqueues."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.ctrl.handlers import EnqueueRequestForObject, EnqueueRequestForOwner, EnqueueRequestsFromMapFunc
from kaito.ctrl.reconcile import Request


def pod(*owners: dict[str, Any], ns: str = "default") -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": ns, "ownerReferences": list(owners)}}


def ref(kind: str, name: str, api_version: str = "apps/v1", controller: bool = True) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": name, "controller": controller}


def test_enqueue_for_object() -> None:
    handler = EnqueueRequestForObject()
    assert list(handler.create({"metadata": {"name": "n"}})) == [Request("", "n")]
    assert list(handler.update(pod(), pod(ns="x"))) == [Request("x", "p")]
    assert list(handler.delete(pod())) == [Request("default", "p")]


@pytest.mark.parametrize(
    ("owners", "only_controller", "expected"),
    [
        ([ref("ReplicaSet", "rs1")], True, ["rs1"]),
        ([ref("ReplicaSet", "rs1", api_version="apps/v2")], True, ["rs1"]),  # the version is ignored
        ([ref("ReplicaSet", "rs1", api_version="extensions/v1beta1")], True, []),  # the group is not
        ([ref("Deployment", "d1")], True, []),
        ([ref("ReplicaSet", "rs1", controller=False)], True, []),
        ([ref("ReplicaSet", "rs1", controller=False), ref("ReplicaSet", "rs2")], False, ["rs1", "rs2"]),
    ],
)
def test_enqueue_for_owner_matches_group_and_kind(
    owners: list[dict[str, Any]], only_controller: bool, expected: list[str]
) -> None:
    handler = EnqueueRequestForOwner(("apps/v1", "ReplicaSet"), only_controller=only_controller)
    assert [r.name for r in handler.create(pod(*owners))] == expected


def test_owner_update_enqueues_old_and_new_owners_once() -> None:
    handler = EnqueueRequestForOwner(("apps/v1", "ReplicaSet"))
    old, new = pod(ref("ReplicaSet", "a")), pod(ref("ReplicaSet", "b"))
    assert list(handler.update(old, new)) == [Request("default", "a"), Request("default", "b")]
    assert list(handler.update(old, old)) == [Request("default", "a")]


def test_map_func_runs_on_old_and_new() -> None:
    handler = EnqueueRequestsFromMapFunc(lambda o: [Request("ns", o["metadata"]["labels"]["owner"])])
    old = {"metadata": {"labels": {"owner": "x"}}}
    new = {"metadata": {"labels": {"owner": "y"}}}
    assert list(handler.update(old, new)) == [Request("ns", "x"), Request("ns", "y")]
    assert list(handler.create(new)) == list(handler.delete(new)) == [Request("ns", "y")]
