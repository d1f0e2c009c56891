"""Built-in validation: object names, labels, finalizers, required fields of the workload kinds."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.server.resources import ResourceRegistry
from kaito.sim.server.validation import validate_builtin, validate_finalizer_change

REGISTRY = ResourceRegistry()


def fields(api_version: str, kind: str, obj: dict[str, Any]) -> list[str]:
    rt = REGISTRY.by_kind(api_version, kind)
    assert rt is not None
    return [e.field for e in validate_builtin(rt, obj)]


TEMPLATE = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}


@pytest.mark.parametrize(
    ("api_version", "kind", "obj", "expected"),
    [
        ("v1", "ConfigMap", {"metadata": {"name": "ok.name-1"}}, []),
        ("v1", "ConfigMap", {"metadata": {"name": "x" * 254}}, ["metadata.name"]),
        ("v1", "Namespace", {"metadata": {"name": "has.dot"}}, ["metadata.name"]),
        ("v1", "ConfigMap", {"metadata": {"name": "c", "labels": {"bad key": "v"}}}, ["metadata.labels"]),
        ("v1", "ConfigMap", {"metadata": {"name": "c", "labels": {"k": "bad value"}}}, ["metadata.labels"]),
        (
            "v1",
            "ConfigMap",
            {"metadata": {"name": "c", "finalizers": ["x.io/ok", "-bad"]}},
            ["metadata.finalizers[1]"],
        ),
        (
            "v1",
            "Pod",
            {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}},
            ["spec.containers[0].image"],
        ),
        (
            "v1",
            "Pod",
            {
                "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "image": "i"}, {"name": "c", "image": "i"}]},
            },
            ["spec.containers[1].name"],
        ),
        (
            "apps/v1",
            "Deployment",
            {"metadata": {"name": "d"}, "spec": {"template": TEMPLATE}},
            ["spec.selector"],
        ),
        (
            "apps/v1",
            "Deployment",
            {
                "metadata": {"name": "d"},
                "spec": {"selector": {"matchLabels": {"app": "b"}}, "template": TEMPLATE},
            },
            ["spec.template.metadata.labels"],
        ),
        ("batch/v1", "Job", {"metadata": {"name": "j"}, "spec": {"template": TEMPLATE}}, []),
        (
            "apps/v1",
            "StatefulSet",
            {"metadata": {"name": "s"}, "spec": {"selector": {"matchLabels": {"app": "a"}}}},
            ["spec.template"],
        ),
    ],
)
def test_validate_builtin(api_version: str, kind: str, obj: dict[str, Any], expected: list[str]) -> None:
    assert fields(api_version, kind, obj) == expected


def test_no_new_finalizers_while_deleting() -> None:
    old = {"metadata": {"deletionTimestamp": "t", "finalizers": ["a"]}}
    assert validate_finalizer_change(old, {"metadata": {"finalizers": []}}) == []
    [error] = validate_finalizer_change(old, {"metadata": {"finalizers": ["a", "b"]}})
    assert error.message().startswith("metadata.finalizers: Forbidden: no new finalizers can be added")
