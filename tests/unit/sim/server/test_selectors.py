"""Label and field selector parsing and matching (kube's grammar and error messages)."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.server.errors import BadRequest
from kaito.sim.server.resources import ResourceRegistry
from kaito.sim.server.selectors import LabelSelector, field_value, parse_field_selector, parse_label_selector

LABELS = {"app": "web", "tier": "front", "example.com/role": "x"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app = web", True),
        ("app==web", True),
        ("app!=web", False),
        ("missing!=x", True),
        ("app in (web,db)", True),
        ("app in (db)", False),
        ("app notin (db)", True),
        ("missing notin (db)", True),
        ("tier", True),
        ("!tier", False),
        ("!missing", True),
        ("example.com/role=x", True),
        ("app=web,tier in (front, back),!missing", True),
        ("app=web,tier=back", False),
    ],
)
def test_label_selector_matching(selector: str, matches: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is matches


@pytest.mark.parametrize("selector", ["app in ()", "a b c", "app=", "=web,x", "app=web,", "bad key!=1"])
def test_malformed_label_selectors_are_bad_requests(selector: str) -> None:
    if selector == "app=":  # an empty value is valid: it matches the empty label value
        assert parse_label_selector(selector).matches({"app": ""})
        return
    with pytest.raises(BadRequest, match="unable to parse requirement"):
        parse_label_selector(selector)


@pytest.mark.parametrize(
    ("structured", "labels", "matches"),
    [
        ({"matchLabels": {"app": "web"}}, {"app": "web"}, True),
        (
            {"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "web"]}]},
            {"app": "web"},
            True,
        ),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, {"app": "web"}, False),
        ({}, {"anything": "x"}, True),
    ],
)
def test_structured_label_selectors(
    structured: dict[str, Any], labels: dict[str, str], matches: bool
) -> None:
    assert LabelSelector.from_dict(structured).matches(labels) is matches


def test_field_selectors_per_kind() -> None:
    registry = ResourceRegistry()
    pods = registry.by_kind("v1", "Pod")
    assert pods is not None
    selector = parse_field_selector("spec.nodeName=n1,status.phase!=Failed", pods)
    assert selector.matches({"spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})
    assert not selector.matches({"spec": {"nodeName": "n2"}})
    assert selector.value_of("spec.nodeName") == "n1"
    with pytest.raises(BadRequest) as err:
        parse_field_selector("foo=bar", pods)
    assert err.value.message == "field label not supported: foo"
    configmaps = registry.by_kind("v1", "ConfigMap")
    assert parse_field_selector("metadata.uid=u", configmaps).matches({"metadata": {"uid": "u"}})


@pytest.mark.parametrize(
    ("obj", "path", "value"),
    [
        ({"spec": {"unschedulable": True}}, "spec.unschedulable", "true"),
        ({}, "spec.nodeName", ""),
        ({"source": {"component": "kubelet"}}, "source", "kubelet"),
        ({"status": {"replicas": 3}}, "status.replicas", "3"),
    ],
)
def test_field_values_are_strings(obj: dict[str, Any], path: str, value: str) -> None:
    assert field_value(obj, path) == value
