"""Controller ownership: how a workload controller marks what it makes, and finds it again.

A workload controller finds its ReplicaSets and pods through their *controller* ownerReference (the one with
``controller: true``), matched by the owner's uid, never by labels; unlike kube's controllers, they adopt no
orphans. Every reference a controller writes is a controller reference with ``blockOwnerDeletion``, so the
garbage collector (:mod:`kaito.sim.workloads.gc`) deletes what a workload made once the workload is gone, and
a foreground deletion of the workload waits for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["controller_of", "owned_by", "owner_reference"]


def controller_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The object's controller ownerReference (a copy), or None when nothing controls it."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    """The controller ownerReference that points at ``owner``."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_by(objects: Iterable[dict[str, Any]], owner: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Those of ``objects`` whose controller is ``owner`` (matched by uid)."""
    uid = owner["metadata"]["uid"]
    return [o for o in objects if (controller_of(o) or {}).get("uid") == uid]
