"""Limits on decoded bodies (kaito.sim.server.bodies): each case is one the fuzz suite found answered 500."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import yaml

from kaito.sim.server.bodies import MAX_DEPTH, check_meta_types, check_shape
from kaito.sim.server.errors import BadRequest


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (_nested(MAX_DEPTH + 5), f"nested more than {MAX_DEPTH} levels deep"),
        (yaml.safe_load("a: &a [*a]\n"), "refers to itself"),
        ({"data": {"a": b"hi"}}, "a value of type bytes at data.a"),
        ({"data": {"a": datetime.datetime(2001, 12, 14)}}, "a value of type datetime at data.a"),
        ({"x": [1, float("nan")]}, "the number nan at x[1]"),
        ({"data": {1: "x"}}, "a key 1 (int) at data"),
    ],
)
def test_bodies_json_cannot_hold_are_refused_naming_where(body: Any, says: str) -> None:
    with pytest.raises(BadRequest) as refused:
        check_shape(body)
    assert says in str(refused.value)


def test_ordinary_objects_pass() -> None:
    check_shape({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}})
    check_shape(_nested(MAX_DEPTH - 1))
    check_meta_types(
        {"apiVersion": "v1", "metadata": {"name": "a", "labels": {"a": "b"}, "finalizers": ["f"]}}
    )


@pytest.mark.parametrize(
    ("obj", "says"),
    [
        ({"metadata": "0"}, "metadata must be an object, not str '0'"),
        ({"metadata": {"labels": "x"}}, "metadata.labels must be a map of strings to strings, not str 'x'"),
        ({"metadata": {"labels": {"a": 1}}}, "metadata.labels.a must be a string, not int 1"),
        ({"metadata": {"name": None, "annotations": []}}, "metadata.annotations must be a map"),
        ({"apiVersion": [None], "kind": "ConfigMap"}, "apiVersion must be a string, not list [None]"),
        ({"metadata": {"name": 5}}, "metadata.name must be a string, not int 5"),
        ({"metadata": {"finalizers": "f"}}, "metadata.finalizers must be a list of strings"),
        ({"metadata": {"generation": 10**30}}, "metadata.generation must be a 64-bit integer"),
        ({"metadata": {"ownerReferences": [1]}}, "metadata.ownerReferences must be a list of objects"),
    ],
)
def test_mistyped_metadata_is_refused_naming_the_field(obj: dict[str, Any], says: str) -> None:
    with pytest.raises(BadRequest) as refused:
        check_meta_types(obj)
    assert says in str(refused.value)
