"""Limits on the shape of a decoded request body, checked before anything walks it recursively.

A body decoded from JSON or YAML can be nested deeper than Python's recursion allows (``[[[[...]]]]``), can be
a cycle (YAML's ``&a [*a]``) or can expand to billions of values through YAML aliases (``&x [*x, *x]`` a few
levels deep). kube-apiserver refuses such bodies with 400 before storing them; here the same check runs once,
iteratively, on every decoded body and patch, so the copies, schema checks and merges after it never recurse
past the limit or walk a cycle.
"""

from __future__ import annotations

import math
from typing import Any

from kaito.sim.server.errors import BadRequest

__all__ = ["MAX_DEPTH", "MAX_VALUES", "check_meta_types", "check_shape"]

MAX_DEPTH = 100
"""How deeply objects and lists may nest in a body (kube objects nest a few tens of levels at most)."""

MAX_VALUES = 1_000_000
"""How many values (objects, lists and scalars together) a decoded body may hold."""


def check_shape(value: Any, what: str = "the request body") -> None:
    """Refuse (BadRequest) a decoded body nested deeper than MAX_DEPTH or holding more than MAX_VALUES values.

    A cycle is nested infinitely deep, so it is refused by the depth limit. Values JSON cannot hold (YAML's
    binary and timestamps, NaN and infinities, keys that are not strings) are refused with their path.
    """
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    seen = 0
    while stack:
        node, depth, path = stack.pop()
        seen += 1
        _check_json_scalar(node, path, what)
        if seen > MAX_VALUES:
            raise BadRequest(f"{what} holds more than {MAX_VALUES} values; send a smaller object")
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise BadRequest(
                    f"{what} is nested more than {MAX_DEPTH} levels deep (or refers to itself); "
                    "send an object nested at most that deep"
                )
            if isinstance(node, dict):
                for key, child in node.items():
                    if not isinstance(key, str):
                        raise BadRequest(
                            f"{what} has a key {key!r} ({type(key).__name__}) at {path or 'the top'}; "
                            "object keys must be strings"
                        )
                    stack.append((child, depth + 1, f"{path}.{key}" if path else key))
            else:
                stack.extend((child, depth + 1, f"{path}[{i}]") for i, child in enumerate(node))


def _check_json_scalar(node: Any, path: str, what: str) -> None:
    if node is None or isinstance(node, bool | int | str | dict | list):
        return
    if isinstance(node, float):
        if math.isfinite(node):
            return
        problem = f"the number {node}"
    else:
        problem = f"a value of type {type(node).__name__}"
    raise BadRequest(
        f"{what} holds {problem} at {path or 'the top'}; only strings, finite numbers, booleans, null, "
        "lists and objects are accepted"
    )


_STRING_FIELDS = (
    "name",
    "namespace",
    "generateName",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "selfLink",
)
_MAP_FIELDS = ("labels", "annotations")
_INT_FIELDS = ("generation", "deletionGracePeriodSeconds")
_LIST_OF_OBJECTS = ("ownerReferences", "managedFields")


def check_meta_types(obj: dict[str, Any]) -> None:
    """Refuse (BadRequest) an object whose apiVersion, kind or metadata fields have the wrong JSON type.

    kube-apiserver fails to decode such a body into ObjectMeta and answers 400 naming the field; the store
    relies on these types afterwards (labels are matched, finalizers compared, names joined into keys).
    """
    for key in ("apiVersion", "kind"):
        if key in obj and obj[key] is not None and not isinstance(obj[key], str):
            _wrong(key, "a string", obj[key])
    md = obj.get("metadata")
    if md is None:
        return
    if not isinstance(md, dict):
        _wrong("metadata", "an object", md)
    for key in _STRING_FIELDS:
        if md.get(key) is not None and not isinstance(md[key], str):
            _wrong(f"metadata.{key}", "a string", md[key])
    for key in _MAP_FIELDS:
        value = md.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            _wrong(f"metadata.{key}", "a map of strings to strings", value)
        for k, v in value.items():
            if v is not None and not isinstance(v, str):
                _wrong(f"metadata.{key}.{k}", "a string", v)
    for key in _INT_FIELDS:
        value = md.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**63
        ):
            _wrong(f"metadata.{key}", "a 64-bit integer", value)
    if md.get("finalizers") is not None and (
        not isinstance(md["finalizers"], list) or not all(isinstance(f, str) for f in md["finalizers"])
    ):
        _wrong("metadata.finalizers", "a list of strings", md["finalizers"])
    for key in _LIST_OF_OBJECTS:
        value = md.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, dict) for v in value)):
            _wrong(f"metadata.{key}", "a list of objects", value)


def _wrong(field: str, expected: str, value: Any) -> None:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise BadRequest(f"{field} must be {expected}, not {type(value).__name__} {shown}")
