"""Tests of pod templates: the template hash, and the pods a controller stamps from a template."""

from __future__ import annotations

from typing import Any

from kaito.sim.workloads.templates import pod_from_template, template_hash


def test_template_hash_is_stable_and_uses_kubes_safe_alphabet() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    first = template_hash(template)
    assert first == template_hash({"spec": template["spec"], "metadata": template["metadata"]})
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert 1 <= len(first) <= 10
    assert template_hash(template, collision_count=1) != first
    other = {**template, "spec": {"containers": [{"name": "c", "image": "y"}]}}
    assert template_hash(other) != first


def test_pod_from_template_is_unnamed_owned_and_labelled() -> None:
    template: dict[str, Any] = {
        "metadata": {"name": "ignored", "labels": {"app": "web"}, "annotations": {"a": "1"}},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
    }
    owner = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web-1", "namespace": "ns", "uid": "u1"},
    }
    pod = pod_from_template(template, owner, labels={"pod-template-hash": "h"})
    assert pod["apiVersion"] == "v1" and pod["kind"] == "Pod"
    assert "name" not in pod["metadata"]
    assert pod["metadata"]["namespace"] == "ns"
    assert pod["metadata"]["labels"] == {"app": "web", "pod-template-hash": "h"}
    assert pod["metadata"]["annotations"] == {"a": "1"}
    assert [
        (r["kind"], r["name"], r["uid"], r["controller"]) for r in pod["metadata"]["ownerReferences"]
    ] == [("ReplicaSet", "web-1", "u1", True)]
    pod["spec"]["containers"][0]["image"] = "changed"
    pod["metadata"]["labels"]["app"] = "changed"
    assert template["spec"]["containers"][0]["image"] == "x"  # the template is never aliased
    assert template["metadata"]["labels"] == {"app": "web"}
