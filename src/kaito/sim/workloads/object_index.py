"""Indexes over the store that the workload controllers read instead of listing a whole namespace.

A ReplicaSet's sync needs its own pods, a Deployment's its own ReplicaSets, the kubelet the pods bound to one
Node. Listing the namespace and filtering costs O(objects) per sync, so the work to make N Workspaces Ready
grew as N². :class:`ObjectIndex` keeps, from the store's commit listener:

* by controller: (group, plural, namespace, controller uid) -> names of the objects that controller owns;
* by node: node name -> (namespace, name) of the pods bound to it.

Invariant: after every commit the index holds exactly the stored objects' current owner and node (an update
that changes either moves the entry; a DELETED removes it). Reads return copies through ``Store.get``, so
callers may mutate what they get, as with ``Store.list``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kaito.sim.server.store import Store
from kaito.sim.server.watch import Change
from kaito.sim.workloads.ownership import controller_of

__all__ = ["ObjectIndex"]

_PODS = ("", "pods")
_OwnerKey = tuple[str, str, str, str]  # (group, plural, namespace, controller uid)


class ObjectIndex:
    """Objects by controller uid and pods by node, kept current from the store's commits."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._owned: dict[_OwnerKey, set[str]] = {}
        self._owner_of: dict[tuple[str, str, str, str], _OwnerKey] = {}  # (group, plural, ns, name)
        self._on_node: dict[str, set[tuple[str, str]]] = {}
        self._node_of: dict[tuple[str, str], str] = {}
        for rt, obj in store.objects():
            self._put(rt.storage_key, obj["metadata"].get("namespace", ""), obj)
        self._remove_listener: Callable[[], None] | None = store.add_listener(self._changed)

    def close(self) -> None:
        """Stop following the store."""
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None

    def owned(
        self, api_version: str, kind: str, namespace: str, owner: dict[str, Any], *, copy: bool = True
    ) -> list[dict[str, Any]]:
        """Copies of the ``kind`` objects in ``namespace`` whose controller is ``owner``, in name order;
        ``copy=False`` gives the store's own dicts, for a caller that only reads them (``Store.get``'s)."""
        rt = self._store.resolve(api_version, kind)
        group, plural = rt.storage_key
        names = self._owned.get((group, plural, namespace, str(owner["metadata"]["uid"])), set())
        return [self._store.get(api_version, kind, name, namespace, copy=copy) for name in sorted(names)]

    def pods_on_node(self, node: str) -> list[dict[str, Any]]:
        """Copies of the pods bound to ``node``, in (namespace, name) order."""
        return [self._store.get("v1", "Pod", name, ns) for ns, name in sorted(self._on_node.get(node, ()))]

    def _changed(self, change: Change) -> None:
        group, plural = change.key
        name = str(change.object["metadata"]["name"])
        self._drop(group, plural, change.namespace, name)
        if change.type != "DELETED":
            self._put(change.key, change.namespace, change.object)

    def _put(self, key: tuple[str, str], namespace: str, obj: dict[str, Any]) -> None:
        group, plural = key
        name = str(obj["metadata"]["name"])
        controller = controller_of(obj)
        if controller is not None and controller.get("uid"):
            owner_key = (group, plural, namespace, str(controller["uid"]))
            self._owned.setdefault(owner_key, set()).add(name)
            self._owner_of[(group, plural, namespace, name)] = owner_key
        if key == _PODS:
            node = (obj.get("spec") or {}).get("nodeName")
            if node:
                self._on_node.setdefault(str(node), set()).add((namespace, name))
                self._node_of[(namespace, name)] = str(node)

    def _drop(self, group: str, plural: str, namespace: str, name: str) -> None:
        owner_key = self._owner_of.pop((group, plural, namespace, name), None)
        if owner_key is not None:
            names = self._owned.get(owner_key)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._owned[owner_key]
        if (group, plural) == _PODS:
            node = self._node_of.pop((namespace, name), None)
            if node is not None:
                pods = self._on_node.get(node)
                if pods is not None:
                    pods.discard((namespace, name))
                    if not pods:
                        del self._on_node[node]
