"""kube-scheduler's cache: the Nodes, what each can hold, and what the pods bound to each already request.

A scheduling pass used to list every Node and every Pod and sum the requests of all bound pods (O(pods)),
then filter every pending pod against every Node; with one GPU node per Workspace the work to make N
Workspaces Ready grew as N² (and, with every Node event retrying every waiting pod, worse). kube-scheduler
keeps a per-node cache of requested resources updated on pod bind and delete; so does :class:`SchedulerCache`,
from the store's commit listener:

* ``nodes``: name -> the stored Node (the store's own dict: read-only), and its parsed allocatable;
* ``usage``: node name -> the summed requests of the non-terminal pods bound to it, exactly what
  :func:`~kaito.sim.workloads.scheduler.bound_usage` computes from a full list of pods.

Invariant: after every commit, ``usage`` equals ``bound_usage`` of the stored pods and ``nodes`` holds exactly
the stored Nodes (each pod's contribution is remembered, so an update or delete takes back what it added).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from kaito.sim.server.store import Store
from kaito.sim.server.watch import Change
from kaito.sim.workloads.scheduler import node_allocatable, pod_requests

__all__ = ["SchedulerCache"]

_NODES = ("", "nodes")
_PODS = ("", "pods")
_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})

_PodKey = tuple[str, str]  # (namespace, name)


def _requests(pod: dict[str, Any]) -> dict[str, Decimal]:
    """:func:`pod_requests`, or only the pod slot when a quantity does not parse: the store takes such a pod
    (kube's validation would not), and a listener must not fail the write that told it."""
    try:
        return pod_requests(pod)
    except ValueError:
        return {"pods": Decimal(1)}


class SchedulerCache:
    """Nodes by name with their allocatable, and per-node requested resources, kept current from commits."""

    def __init__(self, store: Store) -> None:
        self._nodes: dict[str, dict[str, Any]] = {}
        self._allocatable: dict[str, dict[str, Decimal]] = {}
        self._usage: dict[str, dict[str, Decimal]] = {}
        # per bound, non-terminal pod: its node, its requests (what it added to _usage), the spec they are of
        self._bound: dict[_PodKey, tuple[str, dict[str, Decimal], object]] = {}
        for rt, obj in store.objects():
            if rt.storage_key == _NODES:
                self._node_changed(obj, deleted=False)
            elif rt.storage_key == _PODS:
                self._pod_changed(obj, deleted=False)
        self._remove_listener: Callable[[], None] | None = store.add_listener(self._changed)

    def close(self) -> None:
        """Stop following the store."""
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None

    @property
    def nodes(self) -> Mapping[str, dict[str, Any]]:
        """The stored Nodes by name (the store's own dicts: never mutate them)."""
        return self._nodes

    @property
    def allocatable(self) -> Mapping[str, Mapping[str, Decimal]]:
        """Each Node's :func:`~kaito.sim.workloads.scheduler.node_allocatable`, parsed once per write."""
        return self._allocatable

    @property
    def usage(self) -> Mapping[str, Mapping[str, Decimal]]:
        """Per node name, the summed requests of the non-terminal pods bound to it."""
        return self._usage

    def _changed(self, change: Change) -> None:
        if change.key == _PODS:
            self._pod_changed(change.object, deleted=change.type == "DELETED")
        elif change.key == _NODES:
            self._node_changed(change.object, deleted=change.type == "DELETED")

    def _node_changed(self, node: dict[str, Any], *, deleted: bool) -> None:
        name = str(node["metadata"]["name"])
        if deleted:
            self._nodes.pop(name, None)
            self._allocatable.pop(name, None)
            return
        previous = self._nodes.get(name)
        self._nodes[name] = node
        if previous is None or previous.get("status") is not node.get("status"):
            self._allocatable[name] = node_allocatable(node)

    def _pod_changed(self, pod: dict[str, Any], *, deleted: bool) -> None:
        metadata = pod["metadata"]
        key = (str(metadata.get("namespace", "")), str(metadata["name"]))
        spec = pod.get("spec") or {}
        node_name = spec.get("nodeName")
        counts = (
            not deleted and bool(node_name) and (pod.get("status") or {}).get("phase") not in _TERMINAL_PHASES
        )
        before = self._bound.get(key)
        if before is not None and counts and before[0] == node_name and before[2] is spec:
            return  # same node, same spec (a status or metadata write): its requests are unchanged
        if before is not None:
            del self._bound[key]
            self._add(before[0], before[1], -1)
        if counts:
            requests = _requests(pod)
            self._bound[key] = (str(node_name), requests, spec)
            self._add(str(node_name), requests, 1)

    def _add(self, node_name: str, requests: Mapping[str, Decimal], sign: int) -> None:
        used = self._usage.setdefault(node_name, {})
        for resource, amount in requests.items():
            used[resource] = used.get(resource, Decimal(0)) + sign * amount
        if sign < 0 and not any(used.values()):
            del self._usage[node_name]
