"""The registry of served kinds: built-ins, lookups, and CRD-driven registration."""

from __future__ import annotations

import pytest

from kaito.sim.server.resources import BUILTIN_TYPES, ResourceRegistry, ResourceType


@pytest.mark.parametrize(
    ("api_version", "kind", "plural", "namespaced", "subresources"),
    [
        ("v1", "Namespace", "namespaces", False, {"status", "finalize"}),
        ("v1", "Node", "nodes", False, {"status", "proxy"}),
        (
            "v1",
            "Pod",
            "pods",
            True,
            {"status", "log", "attach", "exec", "binding", "eviction", "ephemeralcontainers"},
        ),
        ("v1", "Service", "services", True, {"status", "proxy"}),
        ("v1", "Endpoints", "endpoints", True, set()),
        ("v1", "ConfigMap", "configmaps", True, set()),
        ("v1", "Secret", "secrets", True, set()),
        ("v1", "Event", "events", True, set()),
        ("v1", "ServiceAccount", "serviceaccounts", True, {"token"}),
        ("apps/v1", "Deployment", "deployments", True, {"status", "scale"}),
        ("apps/v1", "ReplicaSet", "replicasets", True, {"status", "scale"}),
        ("apps/v1", "StatefulSet", "statefulsets", True, {"status", "scale"}),
        ("batch/v1", "Job", "jobs", True, {"status"}),
        ("coordination.k8s.io/v1", "Lease", "leases", True, set()),
        (
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            False,
            {"status"},
        ),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False, set()),
    ],
)
def test_builtins(api_version: str, kind: str, plural: str, namespaced: bool, subresources: set[str]) -> None:
    rt = ResourceRegistry().by_kind(api_version, kind)
    assert rt is not None
    assert (rt.plural, rt.namespaced, set(rt.subresources)) == (plural, namespaced, subresources)
    assert rt.api_version == api_version and rt.list_kind == f"{kind}List"


def test_every_builtin_prints_columns() -> None:
    assert all(rt.printer_columns for rt in BUILTIN_TYPES)
    pod = ResourceRegistry().by_kind("v1", "Pod")
    assert pod is not None
    assert [c["name"] for c in pod.printer_columns if not c.get("priority")] == [
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert [c["name"] for c in pod.printer_columns if c.get("priority")][:2] == ["IP", "Node"]


def test_register_lookup_unregister() -> None:
    registry = ResourceRegistry()
    rt = ResourceType(
        "kaito.sh", "v1beta1", "Workspace", "workspaces", "workspace", True, short_names=("wk",)
    )
    registry.register(rt)
    assert registry.by_plural("kaito.sh", "v1beta1", "workspaces") is rt
    assert registry.by_kind("kaito.sh/v1beta1", "Workspace") is rt
    assert registry.by_name("kaito.sh", "v1beta1", "WK") is rt
    assert registry.groups()["kaito.sh"] == ["v1beta1"]
    assert registry.groups()[""] == ["v1"]
    assert registry.unregister("kaito.sh", "v1beta1", "workspaces") is rt
    assert registry.by_kind("kaito.sh/v1beta1", "Workspace") is None
    assert "kaito.sh" not in registry.groups()


def test_field_selector_support() -> None:
    pod = ResourceRegistry().by_kind("v1", "Pod")
    assert pod is not None
    assert pod.supports_field("spec.nodeName") and pod.supports_field("metadata.name")
    assert not pod.supports_field("spec.containers")
