"""CRD objects turned into served types and the status kube gives them."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.server.crds import crd_resource_types, crd_status, validate_crd


def crd(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "group": "kaito.sh",
        "scope": "Namespaced",
        "names": {"kind": "Machine", "plural": "machines", "categories": ["kaito"]},
        "versions": [
            {
                "name": "v1alpha5",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
                },
                "selectableFields": [{"jsonPath": ".spec.nodeClass"}],
                "schema": {"openAPIV3Schema": {"type": "object"}},
            },
            {
                "name": "v1alpha4",
                "served": False,
                "storage": False,
                "schema": {"openAPIV3Schema": {"type": "object"}},
            },
        ],
    }
    base.update(spec)
    return {"metadata": {"name": "machines.kaito.sh"}, "spec": base}


def test_served_versions_become_types() -> None:
    [rt] = crd_resource_types(crd())
    assert (rt.api_version, rt.kind, rt.singular, rt.list_kind) == (
        "kaito.sh/v1alpha5",
        "Machine",
        "machine",
        "MachineList",
    )
    assert rt.custom and rt.has_status and "scale" in rt.subresources
    assert rt.scale == {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
    assert rt.categories == ("kaito",) and rt.supports_field("spec.nodeClass")


def test_status_is_established_and_keeps_transition_times() -> None:
    first = crd_status(crd(), "2026-01-01T00:00:00Z")
    assert [c["type"] for c in first["conditions"]] == ["NamesAccepted", "Established"]
    assert first["acceptedNames"]["plural"] == "machines"
    later = crd_status({**crd(), "status": first}, "2026-02-02T00:00:00Z")
    assert later["conditions"][1]["lastTransitionTime"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"scope": "Galaxy"}, "spec.scope"),
        ({"versions": []}, "spec.versions"),
        ({"group": ""}, "spec.group"),
        (
            {
                "versions": [
                    {"name": "v1", "storage": False, "schema": {"openAPIV3Schema": {"type": "object"}}}
                ]
            },
            "spec.versions",
        ),
        (
            {
                "versions": [
                    {"name": "v1", "storage": True, "schema": {"openAPIV3Schema": {"type": "string"}}}
                ]
            },
            "spec.versions[0].schema.openAPIV3Schema.type",
        ),
    ],
)
def test_invalid_crds(spec: dict[str, Any], field: str) -> None:
    assert field in [e.field for e in validate_crd(crd(**spec))]


def test_valid_crd_has_no_errors() -> None:
    assert validate_crd(crd()) == []
