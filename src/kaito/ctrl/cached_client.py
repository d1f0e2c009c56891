"""The manager's client: reads of watched kinds come from the informer cache, writes go to the API server.

This is controller-runtime's delegating client. `Manager.cached_client` is one; reconcilers should read
and write through it instead of wiring informer stores by hand:

    workspace = await manager.cached_client.get(Workspace, "phi", "team")        # cache: no request
    pods = await manager.cached_client.list(POD, "team", label_selector="app=x")  # cache if Pods are watched
    mine = await manager.cached_client.list_owned(DEPLOYMENT, workspace_uid, "team")  # owner-uid index
    await manager.cached_client.apply(deployment)                                 # always the API server

Rules:

* A read is served from the cache when the manager has a *synced* informer for the kind that covers the
  request: no label selector of its own, and either all namespaces or the namespace asked for. Kinds
  become cached by being watched (`ControllerBuilder.for_/owns/watches`) or by `cache(kind)` before the
  manager starts.
* Any other read goes to the API server (`direct`), unlike controller-runtime, which starts an informer on
  the first read of an unwatched kind. We read through instead because an implicit informer is a hidden
  cost: it lists and watches the whole kind for the life of the process (memory, a watch connection, and
  list/watch RBAC) for what may be a single read, and its first answer waits for a full list anyway.
  Reads that need what a cache cannot give (field selectors, `limit`, a `resource_version`) also go to
  the API server.
* Objects read from the cache are frozen (`kaito.ctrl.frozen`), shared with every other reader: `thaw`
  one to change it. Model reads (`get(Workspace, ...)`) parse a fresh pydantic object from the cache.
  A cache miss raises `NotFound`, as the server would; the cache may lag the server by an event, so
  writes should carry `metadata.resourceVersion` (optimistic concurrency) where staleness matters.
* Writes (create, update, update_status, patch, apply, delete) go to the API server; the cache sees
  their effect when the watch delivers it.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, TypeVar, overload

from pydantic import BaseModel

from kaito.ctrl.client import GVK, Client, KindRef, ObjectList, PatchType, gvk_of
from kaito.ctrl.errors import NotFound
from kaito.ctrl.frozen import thaw
from kaito.ctrl.informer import SharedInformer, SharedInformerFactory
from kaito.ctrl.selectors import parse_label_selector
from kaito.ctrl.store import BY_LABEL, BY_NAMESPACE, BY_OWNER_UID, index_by_owner_uid

__all__ = ["CachedClient"]

M = TypeVar("M", bound=BaseModel)
Obj = dict[str, Any]


class CachedClient:
    """Reads from the manager's informer caches where it can, writes through `direct`; see the module."""

    def __init__(self, direct: Client, informers: SharedInformerFactory) -> None:
        self.direct = direct
        self.informers = informers

    def cache(self, kind: KindRef, *, namespace: str | None = None) -> None:
        """Watch `kind` (all namespaces, or one) so later reads of it are served from the cache."""
        self.informers.informer_for(kind, namespace=namespace)

    def informer_serving(self, kind: KindRef, namespace: str | None) -> SharedInformer | None:
        """The synced informer whose cache answers reads of `kind` in `namespace` (None: all), if any."""
        gvk: GVK = gvk_of(kind)
        best: SharedInformer | None = None
        for informer in self.informers.informers:
            if (
                informer.gvk != gvk
                or informer.reflector.label_selector is not None
                or not informer.has_synced
            ):
                continue
            if informer.namespace is None:
                return informer
            if namespace is not None and informer.namespace == namespace:
                best = informer
        return best

    @staticmethod
    def _parse(kind: KindRef, obj: Any) -> Any:
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind.model_validate(thaw(obj))
        return obj

    # ---- reads --------------------------------------------------------------------------------------

    @overload
    async def get(self, kind: type[M], name: str, namespace: str | None = None) -> M: ...
    @overload
    async def get(self, kind: GVK | tuple[str, str], name: str, namespace: str | None = None) -> Any: ...
    async def get(self, kind: KindRef, name: str, namespace: str | None = None) -> Any:
        """One object, from the cache when the kind is cached; NotFound if it does not exist."""
        resource = await self.direct.resource_for(kind)  # discovery is cached: no request after the first
        ns = (namespace or self.direct.default_namespace) if resource.namespaced else None
        informer = self.informer_serving(kind, ns)
        if informer is None:
            return await self.direct.get(kind, name, namespace)
        obj = informer.store.get_object(name, ns)
        if obj is None:
            where = f" in namespace {ns!r}" if ns else ""
            raise NotFound(404, "NotFound", f"{resource.kind} {name!r} not found{where} (cache)")
        return self._parse(kind, obj)

    @overload
    async def list(
        self,
        kind: type[M],
        namespace: str | None = None,
        *,
        label_selector: str | Mapping[str, str] | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        resource_version: str | None = None,
    ) -> ObjectList[M]: ...
    @overload
    async def list(
        self,
        kind: GVK | tuple[str, str],
        namespace: str | None = None,
        *,
        label_selector: str | Mapping[str, str] | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        resource_version: str | None = None,
    ) -> ObjectList[Any]: ...
    async def list(
        self,
        kind: KindRef,
        namespace: str | None = None,
        *,
        label_selector: str | Mapping[str, str] | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        resource_version: str | None = None,
    ) -> ObjectList[Any]:
        """Objects of `kind` (all namespaces when `namespace` is None) matching `label_selector`."""
        selector = parse_label_selector(label_selector)
        informer = None
        if field_selector is None and limit is None and resource_version is None:
            informer = self.informer_serving(kind, namespace)
        if informer is None:
            return await self.direct.list(
                kind,
                namespace,
                label_selector=selector.text or None,
                field_selector=field_selector,
                limit=limit,
                resource_version=resource_version,
            )
        if selector.equalities:  # the label index narrows first: no scan of every cached object
            store = informer.store
            narrowest = min(selector.equalities, key=lambda value: store.count_in_index(BY_LABEL, value))
            candidates = store.by_index(BY_LABEL, narrowest)
            if namespace is not None:
                candidates = [
                    o for o in candidates if (o.get("metadata") or {}).get("namespace") == namespace
                ]
        elif namespace is not None:
            candidates = informer.store.by_index(BY_NAMESPACE, namespace)
        else:
            candidates = informer.store.list()
        items = [
            self._parse(kind, obj)
            for obj in candidates
            if selector.matches((obj.get("metadata") or {}).get("labels"))
        ]
        return ObjectList(items, informer.reflector.last_resource_version)

    async def list_owned(
        self, kind: KindRef, owner_uid: str, namespace: str | None = None
    ) -> builtins.list[Any]:
        """Objects of `kind` (in `namespace`; None: all) with an ownerReference to `owner_uid`.

        From the cache's owner-uid index when the kind is cached, so a reconcile touches only its own
        objects instead of filtering every object of the namespace; otherwise one list from the server,
        filtered here. Sorted by namespace/name, like the cache's other reads."""
        if not owner_uid:
            raise ValueError("list_owned: owner_uid is empty; give the owner's metadata.uid")
        informer = self.informer_serving(kind, namespace)
        if informer is not None:
            candidates = informer.store.by_index(BY_OWNER_UID, owner_uid)
        else:
            candidates = (await self.direct.list(kind, namespace)).items
        return [
            self._parse(kind, obj)
            for obj in candidates
            if owner_uid in index_by_owner_uid(obj)
            and (namespace is None or (obj.get("metadata") or {}).get("namespace") == namespace)
        ]

    # ---- writes: always the API server --------------------------------------------------------------

    async def create(self, obj: Any, *, namespace: str | None = None, dry_run: bool = False) -> Any:
        return await self.direct.create(obj, namespace=namespace, dry_run=dry_run)

    async def update(self, obj: Any) -> Any:
        return await self.direct.update(obj)

    async def update_status(self, obj: Any) -> Any:
        return await self.direct.update_status(obj)

    async def patch(
        self,
        kind: KindRef,
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
        subresource: str | None = None,
        force: bool = False,
    ) -> Any:
        return await self.direct.patch(
            kind,
            name,
            patch,
            namespace=namespace,
            patch_type=patch_type,
            subresource=subresource,
            force=force,
        )

    async def apply(self, obj: Any, *, force: bool = True, subresource: str | None = None) -> Any:
        return await self.direct.apply(obj, force=force, subresource=subresource)

    async def delete(
        self,
        kind: KindRef,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: str | None = None,
        preconditions: Mapping[str, str] | None = None,
        grace_period_seconds: int | None = None,
    ) -> Obj:
        return await self.direct.delete(
            kind,
            name,
            namespace,
            propagation_policy=propagation_policy,
            preconditions=preconditions,
            grace_period_seconds=grace_period_seconds,
        )
