"""Discovery documents computed from the registry: legacy, aggregated (v2) and OpenAPI v3."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.server.discovery import (
    aggregated_discovery,
    api_group,
    api_group_list,
    api_resource_list,
    api_versions,
    openapi_v3_document,
    openapi_v3_index,
    sorted_versions,
    version_info,
    wants_aggregated,
)
from kaito.sim.server.resources import ResourceRegistry, ResourceType


def _widget(version: str) -> ResourceType:
    return ResourceType(
        "example.com",
        version,
        "Widget",
        "widgets",
        "widget",
        True,
        short_names=("wd",),
        subresources=frozenset({"status", "scale"}),
        custom=True,
        schema={"type": "object", "properties": {"spec": {"type": "object"}}},
    )


@pytest.fixture
def registry() -> ResourceRegistry:
    reg = ResourceRegistry()
    reg.register(_widget("v1alpha1"))
    reg.register(_widget("v1"))
    return reg


def test_version_is_a_1_32_server() -> None:
    info = version_info()
    assert (info["major"], info["minor"]) == ("1", "32")
    assert info["gitVersion"].startswith("v1.32.")


@pytest.mark.parametrize(
    ("versions", "ordered"),
    [
        (["v1alpha1", "v1", "v1beta1"], ["v1", "v1beta1", "v1alpha1"]),
        (["v1beta1", "v1beta2", "v2"], ["v2", "v1beta2", "v1beta1"]),
        (["foo", "v1"], ["v1", "foo"]),
    ],
)
def test_versions_sort_by_kube_priority(versions: list[str], ordered: list[str]) -> None:
    assert sorted_versions(versions) == ordered


def test_legacy_documents_list_groups_and_resources(registry: ResourceRegistry) -> None:
    assert api_versions("127.0.0.1:1")["versions"] == ["v1"]
    groups = {g["name"]: g for g in api_group_list(registry)["groups"]}
    assert "" not in groups
    assert groups["apps"]["preferredVersion"]["groupVersion"] == "apps/v1"
    assert groups["example.com"]["preferredVersion"]["version"] == "v1"
    assert [v["version"] for v in groups["example.com"]["versions"]] == ["v1", "v1alpha1"]
    assert api_group(registry, "example.com")["kind"] == "APIGroup"  # type: ignore[index]
    assert api_group(registry, "nope.io") is None


def test_resource_list_advertises_served_subresources_only(registry: ResourceRegistry) -> None:
    core = api_resource_list(registry, "", "v1")
    assert core is not None and core["groupVersion"] == "v1"
    names = {r["name"]: r for r in core["resources"]}
    assert names["pods"]["namespaced"] and names["pods"]["shortNames"] == ["po"]
    assert names["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert names["pods/log"]["verbs"] == ["get"]
    assert "pods/exec" not in names  # not served here, so not advertised
    assert not names["nodes"]["namespaced"]
    widgets = api_resource_list(registry, "example.com", "v1")
    assert widgets is not None
    scale = next(r for r in widgets["resources"] if r["name"] == "widgets/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert api_resource_list(registry, "example.com", "v9") is None


@pytest.mark.parametrize(
    ("accept", "aggregated"),
    [
        (
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
            True,
        ),
        ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json", False),
        ("application/json", False),
        ("", False),
    ],
)
def test_aggregated_discovery_only_when_v2_is_preferred(accept: str, aggregated: bool) -> None:
    assert wants_aggregated(accept) is aggregated


def test_aggregated_discovery_document(registry: ResourceRegistry) -> None:
    core = aggregated_discovery(registry, core=True)
    assert core["kind"] == "APIGroupDiscoveryList" and core["apiVersion"] == "apidiscovery.k8s.io/v2"
    assert [i["metadata"]["name"] for i in core["items"]] == [""]
    groups = {i["metadata"]["name"]: i for i in aggregated_discovery(registry, core=False)["items"]}
    widget_versions = groups["example.com"]["versions"]
    assert [v["version"] for v in widget_versions] == ["v1", "v1alpha1"]  # preferred first
    resource: dict[str, Any] = widget_versions[0]["resources"][0]
    assert resource["resource"] == "widgets" and resource["scope"] == "Namespaced"
    assert resource["responseKind"] == {"group": "example.com", "version": "v1", "kind": "Widget"}
    assert {s["subresource"] for s in resource["subresources"]} == {"scale", "status"}


def test_openapi_v3_patch_operations_declare_field_validation(registry: ResourceRegistry) -> None:
    index = openapi_v3_index(registry)["paths"]
    assert index["api/v1"]["serverRelativeURL"].startswith("/openapi/v3/api/v1?hash=")
    assert "apis/example.com/v1" in index
    doc = openapi_v3_document(registry, "example.com", "v1")
    assert doc is not None
    item = doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "example.com",
        "version": "v1",
        "kind": "Widget",
    }
    assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in patch["parameters"])
    # kubectl then computes strategic merge patches from its own types, not from schemas we do not carry
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    schema = doc["components"]["schemas"]["com.example.v1.Widget"]
    assert schema["properties"] == {"spec": {"type": "object"}}
    assert openapi_v3_document(registry, "nope.io", "v1") is None
