"""Pod templates: the hash that names a template's revision, and the pods a controller stamps from one.

:func:`template_hash` hashes as kube's ``pod-template-hash`` does (FNV-32a, rendered in the alphabet of
``rand.SafeEncodeString``), over the template's canonical JSON (sorted keys), so equal templates hash alike
however their keys were ordered, and a collision count, when not 0, moves the hash. Deployments name their
ReplicaSets with it and StatefulSets their revisions.

:func:`pod_from_template` builds the body a controller creates: the template's metadata and spec (copies,
so the controller's object is never aliased), the owner's namespace, a controller ownerReference to the
owner, and no name (the caller names the pod, or sets ``generateName``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kaito.sim.server.objects import clone
from kaito.sim.workloads.ownership import owner_reference

__all__ = ["pod_from_template", "template_hash"]

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # kube's rand.SafeEncodeString alphabet


def template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """The ``pod-template-hash`` of a pod template: FNV-32a, rendered with kube's safe alphabet."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    value = 0x811C9DC5
    for byte in data + (str(collision_count).encode() if collision_count else b""):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE_ALPHABET[ord(ch) % len(_SAFE_ALPHABET)] for ch in str(value))


def pod_from_template(
    template: Mapping[str, Any], owner: Mapping[str, Any], *, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """An unnamed Pod body from ``template``, controlled by ``owner``, with ``labels`` added."""
    metadata = clone(dict(template.get("metadata") or {}))
    metadata["labels"] = {**(metadata.get("labels") or {}), **(labels or {})}
    metadata["namespace"] = owner["metadata"]["namespace"]
    metadata["ownerReferences"] = [owner_reference(owner)]
    metadata.pop("name", None)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": clone(dict(template.get("spec") or {})),
    }
