"""Workspace conversion between kaito.sh/v1alpha1 and kaito.sh/v1beta1 (the storage version), as pure
functions of wire dicts; the operator's `/convert` webhook (`kaito.controllers.webhook_server`) calls them.

Conversion must be lossless both ways, because the API server converts on every read and write of a
non-storage version and an update through v1alpha1 must not erase what only v1beta1 can hold. So:

- v1beta1 -> v1alpha1 moves the fields v1alpha1 lacks (`kaito.api.v1alpha1` lists them) into the annotation
  `kaito.sh/conversion-data` (a JSON object of wire path -> value), the convention Cluster API uses;
- v1alpha1 -> v1beta1 puts them back from that annotation and removes it. A v1alpha1 object without the
  annotation (written by a user) simply has none of them.

Both directions work on any object, also with fields this version of kaito-py does not know: everything not
listed is copied unchanged, so `up(down(x)) == x` for every v1beta1 object and `down(up(y)) == y` for every
v1alpha1 object (tested field by field, status included).
"""

from __future__ import annotations

import copy
import json
from typing import Any, Final

from kaito.api import names
from kaito.api.v1alpha1 import V1ALPHA1_API_VERSION

__all__ = [
    "CONVERSION_ANNOTATION",
    "V1BETA1_ONLY_FIELDS",
    "ConversionError",
    "convert_workspace",
    "to_v1alpha1",
    "to_v1beta1",
]

CONVERSION_ANNOTATION: Final = "kaito.sh/conversion-data"
"""Where v1alpha1 keeps the v1beta1-only fields of an object, as JSON."""

V1BETA1_ONLY_FIELDS: Final[tuple[tuple[str, ...], ...]] = (
    ("inference", "preset", "presetOptions", "modelAccessSecret"),
    ("tuning", "preset", "presetOptions", "modelAccessSecret"),
    ("status", "state"),
    ("status", "targetNodeCount"),
)
_VERSIONS = (V1ALPHA1_API_VERSION, names.API_VERSION)


class ConversionError(ValueError):
    """An object that cannot be converted; the message names the field and what would be accepted."""


def _pop(obj: dict[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    parents: list[dict[str, Any]] = []
    node: Any = obj
    for key in path[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(key), dict):
            return False, None
        parents.append(node)
        node = node[key]
    if not isinstance(node, dict) or path[-1] not in node:
        return False, None
    value = node.pop(path[-1])
    # drop containers the move emptied (presetOptions: {} would otherwise appear from nowhere)
    for depth in range(len(path) - 1, 0, -1):
        parent = parents[depth - 1]
        child = parent.get(path[depth - 1])
        if isinstance(child, dict) and not child:
            del parent[path[depth - 1]]
        else:
            break
    return True, value


def _put(obj: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = obj
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value


def to_v1alpha1(workspace: dict[str, Any]) -> dict[str, Any]:
    """The v1alpha1 form of a v1beta1 Workspace (a new dict); v1beta1-only fields go to the annotation."""
    out = copy.deepcopy(workspace)
    kept: dict[str, Any] = {}
    for path in V1BETA1_ONLY_FIELDS:
        found, value = _pop(out, path)
        if found:
            kept[".".join(path)] = value
    metadata = out.setdefault("metadata", {})
    annotations = dict(metadata.get("annotations") or {})
    annotations.pop(CONVERSION_ANNOTATION, None)
    if kept:
        annotations[CONVERSION_ANNOTATION] = json.dumps(kept, sort_keys=True, separators=(",", ":"))
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    out["apiVersion"] = V1ALPHA1_API_VERSION
    return out


def to_v1beta1(workspace: dict[str, Any]) -> dict[str, Any]:
    """The v1beta1 form of a v1alpha1 Workspace (a new dict); raises ConversionError on a bad annotation."""
    out = copy.deepcopy(workspace)
    metadata = out.get("metadata")
    annotations = dict((metadata or {}).get("annotations") or {})
    raw = annotations.pop(CONVERSION_ANNOTATION, None)
    if raw is not None:
        try:
            kept = json.loads(raw)
        except (TypeError, json.JSONDecodeError):
            kept = None
        known = {".".join(path): path for path in V1BETA1_ONLY_FIELDS}
        if not isinstance(kept, dict) or not set(kept) <= set(known):
            raise ConversionError(
                f"metadata.annotations[{CONVERSION_ANNOTATION}]: {raw!r} is not what kaito wrote there; "
                f"it must be a JSON object with keys from {', '.join(sorted(known))}, or be removed"
            )
        for key, value in kept.items():
            _put(out, known[key], value)
        assert isinstance(metadata, dict)
        if annotations:
            metadata["annotations"] = annotations
        else:
            metadata.pop("annotations", None)
    out["apiVersion"] = names.API_VERSION
    return out


def convert_workspace(workspace: dict[str, Any], desired_api_version: str) -> dict[str, Any]:
    """`workspace` in `desired_api_version` (v1alpha1 or v1beta1 of kaito.sh); raises ConversionError."""
    if desired_api_version not in _VERSIONS:
        raise ConversionError(
            f"desiredAPIVersion: {desired_api_version!r} is not served; use one of {', '.join(_VERSIONS)}"
        )
    current = workspace.get("apiVersion")
    if current not in _VERSIONS:
        raise ConversionError(
            f"apiVersion: {current!r} is not a Workspace version; use one of {', '.join(_VERSIONS)}"
        )
    if workspace.get("kind") != names.KIND_WORKSPACE:
        raise ConversionError(f"kind: {workspace.get('kind')!r} cannot be converted; only Workspace can")
    if current == desired_api_version:
        return copy.deepcopy(workspace)
    if desired_api_version == V1ALPHA1_API_VERSION:
        return to_v1alpha1(workspace)
    return to_v1beta1(workspace)
