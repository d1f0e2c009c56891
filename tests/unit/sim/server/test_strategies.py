"""The served kinds' strategies, each seen through the store as a client would see it."""

from __future__ import annotations

import pytest

from kaito.sim.server.errors import Forbidden
from kaito.sim.server.store import Store
from kaito.sim.server.strategies import ClusterIPAllocator


def test_cluster_ip_allocator_skips_the_reserved_addresses_and_resumes_after_what_it_observed() -> None:
    allocator = ClusterIPAllocator()
    assert allocator.allocate() == "10.96.0.17"
    allocator.observe("10.96.1.0")
    allocator.observe("not-an-ip")
    assert allocator.allocate() == "10.96.1.1"


def test_a_service_update_without_a_cluster_ip_keeps_the_allocated_one() -> None:
    store = Store()
    svc = store.create("v1", "Service", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}})
    updated = store.update("v1", "Service", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 81}]}})
    assert updated["spec"]["clusterIP"] == svc["spec"]["clusterIP"]


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
def test_protected_namespaces_are_never_deleted(name: str) -> None:
    with pytest.raises(Forbidden, match="this namespace may not be deleted"):
        Store().delete("v1", "Namespace", name)


def test_a_namespace_delete_marks_it_terminating_until_finalized() -> None:
    store = Store()
    store.create("v1", "Namespace", {"metadata": {"name": "team"}})
    marked = store.delete("v1", "Namespace", "team")
    assert marked["status"]["phase"] == "Terminating" and marked["metadata"]["deletionTimestamp"]
    store.update(
        "v1", "Namespace", {"metadata": {"name": "team"}, "spec": {"finalizers": []}}, subresource="finalize"
    )
    assert store.count("v1", "Namespace") == 4


def test_a_bound_pod_is_deleted_with_its_grace_period_when_graceful_deletion_is_on() -> None:
    store = Store()
    store.graceful_pod_deletion = True
    pod = {"metadata": {"name": "p"}, "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]}}
    store.create("v1", "Pod", pod)
    marked = store.delete("v1", "Pod", "p", "default", grace_period_seconds=10)
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 10
    assert store.get("v1", "Pod", "p", "default")  # still there until the kubelet deletes it with grace 0


def test_a_deployments_generation_grows_when_only_its_annotations_change() -> None:
    store = Store()
    template = {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    spec = {"selector": {"matchLabels": {"a": "b"}}, "template": template}
    store.create("apps/v1", "Deployment", {"metadata": {"name": "d"}, "spec": spec})
    patch = {"metadata": {"annotations": {"note": "x"}}}
    patched = store.patch("apps/v1", "Deployment", "d", patch, "application/merge-patch+json", "default")
    assert patched["metadata"]["generation"] == 2
    store.create("v1", "ConfigMap", {"metadata": {"name": "c"}})
    cm = store.patch("v1", "ConfigMap", "c", patch, "application/merge-patch+json", "default")
    assert "generation" not in cm["metadata"]


@pytest.mark.parametrize(("kind", "api_version"), [("Event", "v1"), ("Lease", "coordination.k8s.io/v1")])
def test_kinds_created_by_a_put_when_missing(kind: str, api_version: str) -> None:
    store = Store()
    body = (
        {"metadata": {"name": "x"}, "involvedObject": {}} if kind == "Event" else {"metadata": {"name": "x"}}
    )
    made = store.update(api_version, kind, body)
    assert made["metadata"]["uid"]
