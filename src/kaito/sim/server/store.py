"""The object store of the embedded API server: kube-apiserver's registry semantics over an in-memory etcd.

Synchronous by design: the whole simulator runs on one asyncio loop, and every method here runs to completion
without awaiting, so each call is atomic with respect to every other (no locks needed). Watchers are fed with
``asyncio.Queue.put_nowait`` inside the writing call (see :mod:`kaito.sim.server.watch`).

Data and its invariants:

- ``_objects[(group, plural)][namespace][name]`` holds the stored form of every object (namespace ``""`` for
  cluster-scoped kinds). A stored dict is never mutated after it is stored: writes build a new dict and
  replace it, so history entries and watch queues can share it. Everything returned to a caller is a copy.
- ``_rv`` is the global revision, like etcd's: +1 per committed write of any kind, never reused, never
  decreasing (also across :meth:`snapshot`/:meth:`from_snapshot`). An object's ``metadata.resourceVersion`` is
  the revision of its last write; a DELETED event carries the revision of the deletion.
- ``_history`` holds the committed changes with revision > ``_compacted``, oldest first, at most
  ``history_limit`` of them; a watch from a revision below ``_compacted`` answers 410 Gone like kube.
- A no-op write (nothing but resourceVersion would change) commits nothing, as in kube.
- ``generation`` exists only on kinds whose kube registry strategy manages it
  (:attr:`ResourceType.has_generation`: Deployments, ReplicaSets, StatefulSets, Jobs, CRDs and every custom
  resource): it is 1 on create and grows by one in each write that changes anything but metadata (and but
  status, for kinds whose status is a subresource); a Deployment's also grows when its annotations change,
  as kube's deployment strategy does. Other kinds (ConfigMap, Pod in kube 1.32, Namespace, Service...) get
  none; as in kube, no update or patch can change the generation an object has.
- ``fieldValidation`` (Strict/Warn/Ignore, :mod:`kaito.sim.server.fieldvalidation`) is settled on the body of
  a create or update and on the patched object of a JSON, merge or strategic-merge patch, before anything else
  is checked; callers that pass none (in-process controllers) get Ignore.
- An object whose ``deletionTimestamp`` is set leaves the store in the write that empties its finalizers.

- Every committed write passes :attr:`Store.persistence` (:mod:`kaito.sim.server.persistence`) before the
  store changes and before any watch or listener hears of it; a write the backend refuses (it raises: a full
  disk) changes nothing. A store given a backend with an image starts from that image.

This is the generic core, as kube-apiserver's ``registry/generic/registry.Store``: what a kind does
differently (defaults, status and scale subresources, validation, field resets on create/update, deletion
rules, a CRD serving its kinds) is asked of the kind's :class:`~kaito.sim.server.strategy.Strategy`
(:mod:`kaito.sim.server.strategies`). Garbage collection and namespace emptying are
:mod:`kaito.sim.workloads.gc`'s.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import random
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from kaito.sim.server import codec, patches
from kaito.sim.server.bodies import check_meta_types
from kaito.sim.server.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    UnsupportedMediaType,
)
from kaito.sim.server.fieldvalidation import FieldValidation, decode_refusal, patch_refusal
from kaito.sim.server.objects import clone, format_time, meta, utcnow
from kaito.sim.server.persistence import (
    CommittedWrite,
    MemoryOnly,
    Persistence,
    StoredObject,
    StoreImage,
)
from kaito.sim.server.resources import ResourceRegistry, ResourceType
from kaito.sim.server.schema import unknown_fields
from kaito.sim.server.selectors import (
    FieldSelector,
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
)
from kaito.sim.server.strategies import PROTECTED_NAMESPACES, ServiceStrategy, default_strategies
from kaito.sim.server.strategy import Strategy, StrategyRegistry
from kaito.sim.server.validation import validate_finalizer_change
from kaito.sim.server.watch import Change, Watch, WatchEvent

__all__ = [
    "APPLY_PATCH",
    "DEFAULT_NAMESPACES",
    "JSON_PATCH",
    "MERGE_PATCH",
    "PROTECTED_NAMESPACES",
    "STRATEGIC_MERGE_PATCH",
    "Store",
    "Watch",
    "WatchEvent",
]

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_PROPAGATIONS = ("Background", "Foreground", "Orphan")
_FOREGROUND = "foregroundDeletion"
_ORPHAN = "orphan"
_NAMESPACE_KEY = ("", "namespaces")
_CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")  # loaded first: they serve the other kinds
# kube's names.SimpleNameGenerator alphabet (no vowels, no look-alikes)
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# metadata the client cannot change with update/patch
_SYSTEM_META = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
)


def _rv_of(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _without(obj: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}


class Store:
    """kube-apiserver's storage semantics for every served kind (see the module docstring for invariants)."""

    def __init__(
        self,
        registry: ResourceRegistry | None = None,
        *,
        history_limit: int = 10_000,
        clock: Callable[[], datetime] = utcnow,
        default_namespaces: bool = True,
        strategies: StrategyRegistry | None = None,
        persistence: Persistence | None = None,
    ) -> None:
        self._registry = registry if registry is not None else ResourceRegistry()
        self.strategies = strategies if strategies is not None else default_strategies()
        self.history_limit = history_limit
        self.clock = clock
        self.bookmark_interval = 1.0
        # Pods bound to a node are deleted gracefully (deletionTimestamp, then the kubelet deletes them with
        # grace 0) when True; when False they go at once, which suits a cluster without a kubelet.
        self.graceful_pod_deletion = False
        self._rv = 0
        self._compacted = 0
        self._objects: dict[tuple[str, str], dict[str, dict[str, dict[str, Any]]]] = {}
        self._history: deque[Change] = deque()
        self._watches: list[Watch] = []
        self._listeners: list[Callable[[Change], None]] = []
        self._persistence: Persistence = MemoryOnly()
        if persistence is not None and self._attach(persistence):
            return
        if default_namespaces:
            for ns in DEFAULT_NAMESPACES:
                self.create("v1", "Namespace", {"metadata": {"name": ns}})

    @property
    def registry(self) -> ResourceRegistry:
        """The served kinds (built-ins, and the kinds of stored CRDs)."""
        return self._registry

    @property
    def cluster_ip_prefix(self) -> str | None:
        """The loopback /24 ("127.a.b") Services' ClusterIPs come from, or None for 10.96.0.0/12."""
        service = self.strategies.for_key(("", "services"))
        return service.allocator.loopback_prefix if isinstance(service, ServiceStrategy) else None

    @cluster_ip_prefix.setter
    def cluster_ip_prefix(self, prefix: str) -> None:
        service = self.strategies.for_key(("", "services"))
        if not isinstance(service, ServiceStrategy):
            raise RuntimeError("this store's Service strategy allocates no cluster IPs")

        def in_use() -> set[str]:
            return {
                str((s.get("spec") or {}).get("clusterIP"))
                for by_name in self._objects.get(("", "services"), {}).values()
                for s in by_name.values()
            }

        service.allocator.use_loopback(prefix, in_use)

    def next_cluster_ip(self) -> str:
        """A free ClusterIP from the Service allocator (the loopback /24 when one is set)."""
        service = self.strategies.for_key(("", "services"))
        if not isinstance(service, ServiceStrategy):
            raise RuntimeError("this store's Service strategy allocates no cluster IPs")
        return service.next_cluster_ip()

    def strategy(self, rt: ResourceType) -> Strategy:
        """The registry strategy of ``rt``'s kind."""
        return self.strategies.for_type(rt)

    # ------------------------------------------------------------------------------------------ persistence
    @property
    def persistence(self) -> Persistence:
        """The backend every committed write passes through (:mod:`kaito.sim.server.persistence`)."""
        return self._persistence

    def use_persistence(self, backend: Persistence) -> None:
        """Attach ``backend``: load its image when it has one (open watches end), else give it this one."""
        self._attach(backend)

    def _attach(self, backend: Persistence) -> bool:
        image = backend.load()
        self._persistence = backend
        if image is None:
            backend.reset(self.image())
            return False
        self.drop_watches()
        self._restore_image(image)
        return True

    # ------------------------------------------------------------------------------------------ basics
    @property
    def resource_version(self) -> int:
        """The current global revision (the resourceVersion of the latest write of any kind)."""
        return self._rv

    @property
    def compacted_revision(self) -> int:
        """Watches from a resourceVersion below this answer 410 Gone."""
        return self._compacted

    def resolve(self, api_version: str, kind: str) -> ResourceType:
        """The served ResourceType of (apiVersion, kind); NotFound like kube for an unknown one."""
        rt = self.registry.by_kind(api_version, kind)
        if rt is None:
            raise NotFound(
                "the server could not find the requested resource "
                f"(kind {kind!r} in {api_version!r} is not served)"
            )
        return rt

    def _bucket(self, rt: ResourceType) -> dict[str, dict[str, dict[str, Any]]]:
        return self._objects.setdefault(rt.storage_key, {})

    def _lookup(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects.get(rt.storage_key, {}).get(namespace, {}).get(name)

    def _namespace_of(self, rt: ResourceType, namespace: str | None) -> str:
        if not rt.namespaced:
            return ""
        return namespace or "default"

    def _present(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        out = clone(obj)
        out["apiVersion"] = rt.api_version
        out["kind"] = rt.kind
        return out

    def _now(self) -> str:
        return format_time(self.clock())

    # ------------------------------------------------------------------------------------------ commit
    def add_listener(self, listener: Callable[[Change], None]) -> Callable[[], None]:
        """Call ``listener(change)`` synchronously after every commit; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _commit(
        self, rt: ResourceType, type_: str, obj: dict[str, Any], prev: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Store (or remove) ``obj`` at a new revision and tell the watches. ``obj`` becomes store-owned.

        The backend hears of the write first: when it refuses (a full disk), the store keeps nothing of it."""
        md = meta(obj)
        md["resourceVersion"] = str(self._rv + 1)
        namespace = md.get("namespace", "") if rt.namespaced else ""
        self._persistence.committed(
            CommittedWrite(self._rv + 1, type_, rt.group, rt.plural, namespace, str(md["name"]), obj, prev)
        )
        self._rv += 1
        bucket = self._bucket(rt)
        if type_ == "DELETED":
            names = bucket.get(namespace, {})
            names.pop(md["name"], None)
            if not names:
                bucket.pop(namespace, None)
        else:
            bucket.setdefault(namespace, {})[md["name"]] = obj
        change = Change(self._rv, type_, rt.storage_key, rt.kind, obj, prev, namespace)
        self._history.append(change)
        while len(self._history) > self.history_limit:
            self._compacted = self._history.popleft().rv
        for watch in list(self._watches):
            watch.offer(change)
        for listener in list(self._listeners):
            listener(change)
        self.strategy(rt).committed(self, obj, deleted=type_ == "DELETED")
        return obj

    # ------------------------------------------------------------------------------------------ create
    def create(
        self,
        api_version: str,
        kind: str,
        obj: dict[str, Any],
        *,
        namespace: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: FieldValidation | None = None,
        copy: bool = True,
    ) -> dict[str, Any]:
        """Create ``obj``; returns it as stored (uid, creationTimestamp, resourceVersion and, for kinds that
        have one, generation set); ``copy=False`` as for :meth:`get` (for a caller that only reads it)."""
        rt = self.resolve(api_version, kind)
        obj = self._check_body(rt, obj)
        self._settle_fields(rt, obj, field_validation, decode_refusal(rt.kind, rt.version))
        md = meta(obj)
        ns = self._namespace_for_write(rt, md, namespace)
        if not md.get("name") and md.get("generateName"):
            md["name"] = self._generate_name(rt, ns, str(md["generateName"]))
        name = str(md.get("name") or "")
        if name and rt.namespaced:
            self._check_namespace_open(rt, ns, name)
        if name and self._lookup(rt, ns, name) is not None:
            raise AlreadyExists.for_object(rt.plural, rt.group, name)
        for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            md.pop(key, None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = self._now()
        if rt.has_generation:
            md["generation"] = 1
        strategy = self.strategy(rt)
        strategy.prepare_for_create(rt, obj)
        if field_manager:
            patches.record_manager(obj, field_manager, "Update", rt.api_version, self._now(), None)
        self._validate(rt, obj, None)
        strategy.derive(rt, obj, None, self._now())
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        if dry_run:
            return self._present(rt, obj)
        return self._out(rt, self._commit(rt, "ADDED", obj, None), copy)

    def _check_body(self, rt: ResourceType, obj: Any, *, status_only: bool = False) -> dict[str, Any]:
        """``obj`` checked as a body of ``rt``'s kind, copied; with ``status_only`` (a status write, which
        takes nothing else from the body) only its metadata and status are copied, the rest shared."""
        if not isinstance(obj, dict):
            raise BadRequest(f"the body of a {rt.kind} must be a JSON object, got {type(obj).__name__}")
        check_meta_types(obj)
        body_kind = obj.get("kind")
        if body_kind and body_kind != rt.kind:
            raise BadRequest(
                f"the kind in the data ({body_kind}) does not match the expected kind ({rt.kind})"
            )
        body_av = obj.get("apiVersion")
        if body_av and body_av != rt.api_version:
            served = {t.api_version for t in self.registry.versions_of(rt.group, rt.plural)}
            if body_av not in served:
                raise BadRequest(
                    f"the API version in the data ({body_av}) does not match the expected API version "
                    f"({rt.api_version})"
                )
        if "metadata" in obj and not isinstance(obj["metadata"], dict):
            raise BadRequest("metadata must be a JSON object")
        if status_only:
            return {k: clone(v) if k in ("metadata", "status") else v for k, v in obj.items()}
        return clone(obj)

    @staticmethod
    def _settle_fields(
        rt: ResourceType,
        obj: dict[str, Any],
        validation: FieldValidation | None,
        refusal: Callable[[str], ApiError],
        *,
        duplicates: bool = True,
    ) -> None:
        """Apply the request's fieldValidation to ``obj`` as decoded (fields a custom kind's schema lacks)."""
        if validation is None or validation.directive == "Ignore":
            return
        unknown = unknown_fields(obj, rt.schema) if rt.custom and rt.schema else []
        validation.settle(unknown, refusal, duplicates=duplicates)

    def _namespace_for_write(self, rt: ResourceType, md: dict[str, Any], namespace: str | None) -> str:
        if not rt.namespaced:
            md.pop("namespace", None)
            return ""
        body_ns = md.get("namespace")
        if namespace and body_ns and body_ns != namespace:
            raise BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        ns = str(namespace or body_ns or "default")
        md["namespace"] = ns
        return ns

    def _generate_name(self, rt: ResourceType, ns: str, prefix: str) -> str:
        prefix = prefix[: 63 - 5]
        for _ in range(16):
            name = prefix + "".join(random.choices(_NAME_ALPHABET, k=5))
            if self._lookup(rt, ns, name) is None:
                return name
        raise AlreadyExists.for_object(rt.plural, rt.group, prefix)

    def _check_namespace_open(self, rt: ResourceType, ns: str, name: str) -> None:
        namespace = self._objects.get(_NAMESPACE_KEY, {}).get("", {}).get(ns)
        if namespace is None:
            raise NotFound.for_object("namespaces", "", ns)
        if (namespace.get("metadata") or {}).get("deletionTimestamp"):
            error = Forbidden.for_object(
                rt.plural,
                rt.group,
                name,
                f"unable to create new content in namespace {ns} because it is being terminated",
            )
            assert error.details is not None
            error.details["causes"] = [
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {ns} is being terminated",
                    "field": "metadata.namespace",
                }
            ]
            raise error

    def _validate(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        errors = self.strategy(rt).validate(rt, obj, old)
        if old is not None:
            errors.extend(validate_finalizer_change(old, obj))
        if errors:
            raise Invalid.for_object(rt.kind, rt.group, str(meta(obj).get("name", "")), errors)

    # ------------------------------------------------------------------------------------------ read
    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None, *, copy: bool = True
    ) -> dict[str, Any]:
        """The object, as a copy; NotFound like kube when absent.

        ``copy=False`` returns the store's own dict (when its apiVersion is the one asked for): for a caller
        that only serialises it and never mutates it, such as the HTTP layer.
        """
        rt = self.resolve(api_version, kind)
        obj = self._lookup(rt, self._namespace_of(rt, namespace), name)
        if obj is None:
            raise NotFound.for_object(rt.plural, rt.group, name)
        return self._out(rt, obj, copy)

    def _out(self, rt: ResourceType, obj: dict[str, Any], copy: bool) -> dict[str, Any]:
        if not copy and obj.get("apiVersion") == rt.api_version:
            return obj
        return self._present(rt, obj)

    def _scan(
        self, rt: ResourceType, namespace: str | None, labels: LabelSelector, fields: FieldSelector
    ) -> Iterator[dict[str, Any]]:
        """Stored objects in key order (namespace, name) that match, without copying."""
        bucket = self._objects.get(rt.storage_key, {})
        pinned_ns = fields.value_of("metadata.namespace")
        if namespace is not None and rt.namespaced:
            namespaces = [namespace]
        elif pinned_ns is not None and rt.namespaced:
            namespaces = [pinned_ns]
        else:
            namespaces = sorted(bucket)
        pinned_name = fields.value_of("metadata.name")
        for ns in namespaces:
            names = bucket.get(ns)
            if not names:
                continue
            if pinned_name is not None:
                candidates = [names[pinned_name]] if pinned_name in names else []
            else:
                candidates = [names[n] for n in sorted(names)]
            for obj in candidates:
                if labels.requirements and not labels.matches_object(obj):
                    continue
                if fields.requirements and not fields.matches(obj):
                    continue
                yield obj

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        copy: bool = True,
    ) -> tuple[list[dict[str, Any]], str]:
        """(matching objects in key order, the list resourceVersion); ``copy=False`` as for :meth:`get`."""
        rt = self.resolve(api_version, kind)
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, rt)
        items = [self._out(rt, obj, copy) for obj in self._scan(rt, namespace or None, labels, fields)]
        return items, str(self._rv)

    def count(self, api_version: str, kind: str, namespace: str | None = None) -> int:
        """How many objects of the kind exist (in the namespace), without copying them."""
        rt = self.resolve(api_version, kind)
        bucket = self._objects.get(rt.storage_key, {})
        if namespace is not None and rt.namespaced:
            return len(bucket.get(namespace, {}))
        return sum(len(names) for names in bucket.values())

    # ------------------------------------------------------------------------------------------ update
    def update(
        self,
        api_version: str,
        kind: str,
        obj: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        namespace: str | None = None,
        field_manager: str | None = None,
        field_validation: FieldValidation | None = None,
        copy: bool = True,
    ) -> dict[str, Any]:
        """Replace the object (or its status); 409 Conflict when ``metadata.resourceVersion`` is stale.

        Returns the object as stored; ``copy=False`` as for :meth:`get` (for a caller that only reads it)."""
        rt = self.resolve(api_version, kind)
        body = self._check_body(rt, obj, status_only=subresource == "status")
        self._settle_fields(rt, body, field_validation, decode_refusal(rt.kind, rt.version))
        md = meta(body)
        ns = self._namespace_for_write(rt, md, namespace)
        name = str(md.get("name") or "")
        if not name:
            raise Invalid.for_object(
                rt.kind, rt.group, "", [FieldError("FieldValueRequired", "metadata.name", "name is required")]
            )
        old = self._lookup(rt, ns, name)
        if old is None:
            if subresource is None and self.strategy(rt).create_on_update and not md.get("resourceVersion"):
                return self.create(api_version, kind, body, namespace=ns or None, dry_run=dry_run, copy=copy)
            raise NotFound.for_object(rt.plural, rt.group, name)
        return self._replace(rt, old, body, subresource, field_manager, dry_run, copy=copy)

    def _replace(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        body: dict[str, Any],
        subresource: str | None,
        field_manager: str | None,
        dry_run: bool,
        *,
        copy: bool = True,
    ) -> dict[str, Any]:
        """The tail of an update or a (non-apply) patch: ``body``'s uid and resourceVersion preconditions,
        the merge into ``old``, ``field_manager``'s Update entry in managedFields, then the write."""
        md = meta(body)
        self._check_preconditions(rt, old, md.get("uid"), md.get("resourceVersion"))
        new = self._merge_write(rt, old, body, subresource)
        if field_manager:
            patches.record_manager(
                new,
                field_manager,
                "Update",
                rt.api_version,
                self._now(),
                subresource,
                custom=rt.custom,
                previous=old,
            )
        return self._write(rt, old, new, dry_run=dry_run, copy=copy)

    def _check_preconditions(self, rt: ResourceType, old: dict[str, Any], uid: Any, rv: Any) -> None:
        old_md = old["metadata"]
        name = old_md["name"]
        if uid and uid != old_md.get("uid"):
            raise Conflict.for_object(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {old_md.get('uid')}",
            )
        if rv and str(rv) != old_md.get("resourceVersion"):
            raise Conflict.stale(rt.plural, rt.group, name)

    def _merge_write(
        self, rt: ResourceType, old: dict[str, Any], body: dict[str, Any], subresource: str | None
    ) -> dict[str, Any]:
        """What a write of ``body`` to the resource (or ``subresource``) makes of ``old``."""
        if subresource is None:
            new = body
            md = meta(new)
            old_md = old["metadata"]
            for key in (*_SYSTEM_META, "namespace", "name"):
                if key in old_md:
                    md[key] = old_md[key]
                else:
                    md.pop(key, None)
            if "managedFields" not in md and "managedFields" in old_md:
                md["managedFields"] = old_md["managedFields"]
            self.strategy(rt).prepare_for_update(rt, new, old)
            return new
        return self.strategy(rt).update_subresource(rt, old, body, subresource)

    def _write(
        self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any], *, dry_run: bool, copy: bool = True
    ) -> dict[str, Any]:
        """Default, validate, bump generation, and commit ``new`` over ``old`` (or finish a deletion)."""
        strategy = self.strategy(rt)
        strategy.prepare_for_write(rt, new, old)
        self._validate(rt, new, old)
        strategy.derive(rt, new, old, self._now())
        new["apiVersion"] = rt.api_version
        new["kind"] = rt.kind
        if rt.has_generation and strategy.generation_changes(rt, old, new):
            meta(new)["generation"] = int(old["metadata"].get("generation", 1)) + 1
        new_md = meta(new)
        new_md["resourceVersion"] = old["metadata"].get("resourceVersion")
        if _normalised(new) == _normalised(old):
            return self._out(rt, old, copy)
        if dry_run:
            return self._present(rt, new)
        if new_md.get("deletionTimestamp") and not strategy.held(new):
            return self._out(rt, self._commit(rt, "DELETED", new, old), copy)
        return self._out(rt, self._commit(rt, "MODIFIED", new, old), copy)

    # ------------------------------------------------------------------------------------------ patch
    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Any,
        patch_type: str,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        field_manager: str | None = None,
        force: bool = False,
        dry_run: bool = False,
        field_validation: FieldValidation | None = None,
    ) -> dict[str, Any]:
        """Patch the object; ``application/apply-patch+yaml`` (server-side apply) creates it when missing.

        ``field_validation`` is settled on the patched object (not for server-side apply: see
        :mod:`kaito.sim.server.fieldvalidation`).
        """
        rt = self.resolve(api_version, kind)
        if patch_type not in _PATCH_TYPES:
            raise UnsupportedMediaType(
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(_PATCH_TYPES if not rt.custom else (JSON_PATCH, MERGE_PATCH, APPLY_PATCH))}"
            )
        if patch_type == STRATEGIC_MERGE_PATCH and rt.custom:
            raise UnsupportedMediaType(
                f"strategic merge patch is not supported for {rt.kind}.{rt.group}: the body of the request "
                "was in an unknown format - accepted media types include: "
                f"{JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}"
            )
        body = _decode_patch(patch, patch_type)
        ns = self._namespace_of(rt, namespace)
        old = self._lookup(rt, ns, name)
        if patch_type == APPLY_PATCH:
            return self._apply(rt, old, body, name, ns, subresource, field_manager, force, dry_run)
        if old is None:
            raise NotFound.for_object(rt.plural, rt.group, name)
        current = dict(old, apiVersion=rt.api_version, kind=rt.kind)  # the patch functions copy
        try:
            if patch_type == JSON_PATCH:
                patched = patches.json_patch(current, body)
            elif patch_type == MERGE_PATCH:
                patched = patches.merge_patch(current, body)
            else:
                patched = patches.strategic_merge_patch(current, body)
        except patches.PatchError as e:
            raise _patch_failed(rt, name, str(e)) from e
        if not isinstance(patched, dict):
            raise BadRequest(
                f"the patch turned the {rt.kind} into a {type(patched).__name__}; it must stay an object"
            )
        check_meta_types(patched)
        self._check_patched_identity(rt, patched, name, ns)
        self._settle_fields(
            rt, patched, field_validation, patch_refusal(patched), duplicates=patch_type != JSON_PATCH
        )
        return self._replace(rt, old, patched, subresource, field_manager, dry_run)

    def _check_patched_identity(self, rt: ResourceType, patched: dict[str, Any], name: str, ns: str) -> None:
        md = meta(patched)
        if md.get("name", name) != name:
            raise BadRequest(
                f"the name of the object ({md.get('name')}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and md.get("namespace", ns) != ns:
            raise BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request"
            )

    def _apply(
        self,
        rt: ResourceType,
        old: dict[str, Any] | None,
        config: Any,
        name: str,
        ns: str,
        subresource: str | None,
        field_manager: str | None,
        force: bool,
        dry_run: bool,
    ) -> dict[str, Any]:
        if not field_manager:
            raise BadRequest(
                "PATCH request must specify a fieldManager for server-side apply "
                "(application/apply-patch+yaml)"
            )
        if not isinstance(config, dict):
            raise BadRequest("an apply patch must be a single object (a YAML or JSON mapping)")
        self._check_body(rt, config)
        for field_name, example in (("apiVersion", rt.api_version), ("kind", rt.kind)):
            if not config.get(field_name):
                raise BadRequest(f"{field_name} must be set in an apply configuration (here {example!r})")
        self._check_patched_identity(rt, config, name, ns)
        now = self._now()
        if old is None:
            if subresource is not None:
                raise NotFound.for_object(rt.plural, rt.group, name)
            created = clone(config)
            meta(created)["name"] = name
            if rt.namespaced:
                meta(created)["namespace"] = ns
            patches.record_manager(
                created, field_manager, "Apply", rt.api_version, now, None, applied=config, custom=rt.custom
            )
            return self.create(rt.api_version, rt.kind, created, namespace=ns or None, dry_run=dry_run)
        current = dict(old, apiVersion=rt.api_version, kind=rt.kind)  # the patch functions copy
        try:
            merged = patches.apply_patch(current, config, field_manager, custom=rt.custom, force=force)
        except patches.ApplyConflict as e:
            raise Conflict(
                str(e),
                details={
                    "name": name,
                    "kind": rt.plural,
                    **({"group": rt.group} if rt.group else {}),
                    "causes": [
                        {
                            "reason": "FieldManagerConflict",
                            "message": f'conflict with "{m}" using {av}',
                            "field": p,
                        }
                        for m, av, p in e.conflicts
                    ],
                },
            ) from e
        except patches.PatchError as e:
            raise _patch_failed(rt, name, str(e)) from e
        md = meta(merged)
        self._check_preconditions(
            rt, old, md.get("uid"), (config.get("metadata") or {}).get("resourceVersion")
        )
        patches.record_manager(
            merged,
            field_manager,
            "Apply",
            rt.api_version,
            now,
            subresource,
            applied=config,
            custom=rt.custom,
        )
        new = self._merge_write(rt, old, merged, subresource)
        return self._write(rt, old, new, dry_run=dry_run)

    # ------------------------------------------------------------------------------------------ delete
    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str | None = "Background",
        preconditions: dict[str, Any] | None = None,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Delete, or mark for deletion when finalizers (or Foreground/Orphan propagation) hold the object."""
        rt = self.resolve(api_version, kind)
        propagation = propagation or "Background"
        if propagation not in _PROPAGATIONS:
            raise BadRequest(
                f'Unsupported propagation policy "{propagation}": '
                'supported values: "Background", "Foreground", "Orphan"'
            )
        ns = self._namespace_of(rt, namespace)
        old = self._lookup(rt, ns, name)
        if old is None:
            raise NotFound.for_object(rt.plural, rt.group, name)
        pre = preconditions or {}
        self._check_preconditions(rt, old, pre.get("uid"), None)
        if pre.get("resourceVersion") and str(pre["resourceVersion"]) != old["metadata"].get(
            "resourceVersion"
        ):
            raise Conflict.for_object(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                f"ResourceVersion in object meta: {old['metadata'].get('resourceVersion')}",
            )
        strategy = self.strategy(rt)
        strategy.check_delete(rt, name)
        old_md = old["metadata"]
        grace = strategy.deletion_grace(rt, old, grace_period_seconds)
        graceful_pod = grace if grace and self.graceful_pod_deletion else None
        if old_md.get("deletionTimestamp"):
            # already being deleted: idempotent, except a kubelet's final grace-0 delete of a graceful pod
            if graceful_pod is not None or old_md.get("finalizers") or strategy.two_phase_delete:
                return self._present(rt, old)
            if dry_run:
                return self._present(rt, old)
            return self._present(rt, self._commit(rt, "DELETED", clone(old), old))
        finalizers = list(old_md.get("finalizers") or [])
        if propagation == "Foreground" and _FOREGROUND not in finalizers:
            finalizers.append(_FOREGROUND)
        if propagation == "Orphan" and _ORPHAN not in finalizers:
            finalizers.append(_ORPHAN)
        if finalizers or graceful_pod is not None or strategy.two_phase_delete:
            new = dict(old)
            new["metadata"] = dict(
                old_md,
                deletionTimestamp=format_time(self.clock() + timedelta(seconds=grace)),
                deletionGracePeriodSeconds=grace,
            )
            if finalizers:
                new["metadata"]["finalizers"] = finalizers
            strategy.mark_deleting(new, old)
            if dry_run:
                return self._present(rt, new)
            return self._present(rt, self._commit(rt, "MODIFIED", new, old))
        if dry_run:
            return self._present(rt, old)
        return self._present(rt, self._commit(rt, "DELETED", clone(old), old))

    def delete_collection(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        *,
        propagation: str | None = "Background",
    ) -> builtins.list[dict[str, Any]]:
        """Delete every matching object; returns what each delete returned."""
        items, _ = self.list(
            api_version, kind, namespace, label_selector=label_selector, field_selector=field_selector
        )
        out = []
        for item in items:
            md = item["metadata"]
            try:
                out.append(
                    self.delete(api_version, kind, md["name"], md.get("namespace"), propagation=propagation)
                )
            except NotFound:
                continue  # removed by a cascade of an earlier delete
        return out

    # ------------------------------------------------------------------------------------------ watch
    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        allow_bookmarks: bool = False,
        copy_objects: bool = True,
    ) -> Watch:
        """Watch a kind: synthetic ADDEDs first when ``resource_version`` is unset or "0", else replay.

        ``copy_objects=False`` delivers the store's own dicts, for a reader that never mutates them (the
        HTTP layer only serialises them)."""
        rt = self.resolve(api_version, kind)
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, rt)
        ns = namespace if namespace and rt.namespaced else None
        since = self._parse_rv(resource_version)
        watch = Watch(
            current_rv=lambda: self._rv,
            key=rt.storage_key,
            api_version=rt.api_version,
            kind=rt.kind,
            namespace=ns,
            label_selector=labels,
            field_selector=fields,
            allow_bookmarks=allow_bookmarks,
            bookmark_interval=self.bookmark_interval,
            copy_objects=copy_objects,
            on_close=self._forget,
        )
        if since is None:
            for obj in self._scan(rt, ns, labels, fields):
                watch.put_initial(obj, rt.kind)
        else:
            self._replay(watch, since)
        self._watches.append(watch)
        return watch

    def _parse_rv(self, resource_version: str | None) -> int | None:
        if resource_version in (None, "", "0"):
            return None
        try:
            since = int(str(resource_version))
        except ValueError:
            raise BadRequest(
                f'invalid resource version "{resource_version}": must be a non-negative integer'
            ) from None
        if since < 0:
            raise BadRequest(f'invalid resource version "{resource_version}": must be a non-negative integer')
        if since < self._compacted:
            raise Gone.too_old(since, self._compacted)
        return since

    def _replay(self, watch: Watch, since: int) -> None:
        for change in self._history:
            if change.rv > since:
                watch.offer(change)

    def subscribe_all(self, *, resource_version: str | None = None, copy_objects: bool = True) -> Watch:
        """A watch on every kind, from now (or replaying after ``resource_version``)."""
        since = self._parse_rv(resource_version)
        watch = Watch(
            current_rv=lambda: self._rv,
            key=None,
            api_version=None,
            kind=None,
            copy_objects=copy_objects,
            on_close=self._forget,
        )
        if since is not None:
            self._replay(watch, since)
        self._watches.append(watch)
        return watch

    def _forget(self, watch: Watch) -> None:
        if watch in self._watches:
            self._watches.remove(watch)

    def drop_watches(self) -> int:
        """End every open watch (a fault a client must survive); returns how many were open."""
        watches, self._watches = self._watches, []
        for watch in watches:
            watch.close()
        return len(watches)

    @property
    def watch_count(self) -> int:
        return len(self._watches)

    def compact(self, resource_version: int | None = None) -> None:
        """Forget history up to ``resource_version`` (default: all of it), like etcd compaction."""
        upto = self._rv if resource_version is None else min(int(resource_version), self._rv)
        while self._history and self._history[0].rv <= upto:
            self._history.popleft()
        self._compacted = max(self._compacted, upto)

    # ------------------------------------------------------------------------------------------ iteration
    def objects(self) -> Iterator[tuple[ResourceType, dict[str, Any]]]:
        """Every stored object with a served type of it, without copying (read-only; for gc and snapshots)."""
        for key, bucket in list(self._objects.items()):
            rt = self._type_for_key(key)
            if rt is None:
                continue
            for names in list(bucket.values()):
                for obj in list(names.values()):
                    yield rt, obj

    def peek(self, key: tuple[str, str], namespace: str, name: str) -> dict[str, Any] | None:
        """The stored object at (group, plural), namespace, name without copying (read-only), or None."""
        return self._objects.get(key, {}).get(namespace, {}).get(name)

    def objects_in_namespace(self, namespace: str) -> builtins.list[tuple[ResourceType, dict[str, Any]]]:
        """Every namespaced object in ``namespace``, without copying (read-only; for namespace deletion)."""
        out: builtins.list[tuple[ResourceType, dict[str, Any]]] = []
        for key, bucket in list(self._objects.items()):
            names = bucket.get(namespace)
            rt = self._type_for_key(key) if names else None
            if rt is None or not rt.namespaced or not names:
                continue
            out.extend((rt, obj) for obj in list(names.values()))
        return out

    def _type_for_key(self, key: tuple[str, str]) -> ResourceType | None:
        versions = self.registry.versions_of(*key)
        if not versions:
            return None
        return next((rt for rt in versions if rt.version == rt.storage_version), versions[0])

    def type_for(self, group: str, plural: str) -> ResourceType | None:
        """The served ResourceType used for stored objects of (group, plural) (the storage version)."""
        return self._type_for_key((group, plural))

    # ------------------------------------------------------------------------------------------ strategies
    def drop_kind(self, group: str, plural: str) -> None:
        """Delete every stored object of (group, plural), each with a DELETED event (a CRD was deleted)."""
        for rt in self.registry.versions_of(group, plural):
            for obj in [
                o for names in self._objects.get(rt.storage_key, {}).values() for o in names.values()
            ]:
                self._commit(rt, "DELETED", clone(obj), obj)
            break
        self._objects.pop((group, plural), None)

    # ------------------------------------------------------------------------------------------ snapshot
    def image(self) -> StoreImage:
        """Every stored object (the store's own dicts: read-only) and the revision counter."""
        return StoreImage(
            self._rv,
            tuple(
                StoredObject(key[0], key[1], obj)
                for key, bucket in self._objects.items()
                for names in bucket.values()
                for obj in names.values()
            ),
        )

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able image of every object and the revision counter."""
        return clone(self.image().to_json())

    @classmethod
    def from_snapshot(
        cls,
        data: dict[str, Any],
        registry: ResourceRegistry | None = None,
        *,
        history_limit: int = 10_000,
        clock: Callable[[], datetime] = utcnow,
    ) -> Store:
        """A store with the snapshot's objects, revision counter and CRD-served kinds; history empty."""
        store = cls(registry, history_limit=history_limit, clock=clock, default_namespaces=False)
        store._restore(data)
        return store

    def _restore(self, data: dict[str, Any]) -> None:
        self._restore_image(StoreImage.from_json(data))
        self._persistence.reset(self.image())

    def _restore_image(self, image: StoreImage) -> None:
        """Replace the content with ``image`` (no commit: nothing is told to watches or the backend)."""
        self._objects.clear()
        self._history.clear()
        for entry in image.objects:  # CRDs first so that their kinds are served
            if (entry.group, entry.plural) == _CRD_KEY:
                self._loaded(entry)
        for entry in image.objects:
            bucket = self._objects.setdefault((entry.group, entry.plural), {})
            bucket.setdefault(entry.namespace, {})[entry.name] = entry.object
        for entry in image.objects:
            if (entry.group, entry.plural) != _CRD_KEY:
                self._loaded(entry)
        self._rv = image.resource_version
        self._compacted = self._rv if image.compacted is None else image.compacted
        kept = image.history[-self.history_limit :] if self.history_limit > 0 else ()
        if len(kept) < len(image.history):  # the older part of the image's window is compacted here
            self._compacted = max(self._compacted, kept[0].revision - 1 if kept else self._rv)
        for write in kept:
            rt = self._type_for_key((write.group, write.plural))
            if rt is not None and write.revision > self._compacted:
                change = Change(write.revision, write.type, rt.storage_key, rt.kind, write.object, write.prev,
                                write.namespace)  # fmt: skip
                self._history.append(change)

    def _loaded(self, entry: StoredObject) -> None:
        rt = self._type_for_key((entry.group, entry.plural))
        if rt is not None:
            self.strategy(rt).loaded(self, entry.object)

    def save(self, path: str | Path) -> None:
        """Write :meth:`snapshot` to ``path`` atomically (write a sibling file, then rename), mode 0600: it
        holds every Secret."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(self.snapshot(), separators=(",", ":")))
        tmp.chmod(0o600)
        tmp.replace(target)

    def load(self, path: str | Path) -> None:
        """Replace this store's content with the snapshot at ``path`` (open watches are ended)."""
        data = json.loads(Path(path).read_text())
        self.drop_watches()
        self._restore(data)


def _normalised(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without what changes on every write (for no-op detection)."""
    md = {
        k: v for k, v in (obj.get("metadata") or {}).items() if k not in ("resourceVersion", "managedFields")
    }
    mf = [
        {k: v for k, v in e.items() if k != "time"}
        for e in (obj.get("metadata") or {}).get("managedFields") or []
    ]
    return dict(obj, metadata=dict(md, managedFields=mf))


def _decode_patch(patch: Any, patch_type: str) -> Any:
    if isinstance(patch, bytes | bytearray):
        patch = patch.decode()
    if isinstance(patch, str):
        try:
            return codec.load_yaml(patch) if patch_type == APPLY_PATCH else json.loads(patch)
        except (ValueError, yaml.YAMLError) as e:
            raise BadRequest(
                f"the patch is not valid {'YAML' if patch_type == APPLY_PATCH else 'JSON'}: {e}"
            ) from e
    return clone(patch)


def _patch_failed(rt: ResourceType, name: str, why: str) -> ApiError:
    return Invalid(
        f'{rt.kind}.{rt.group} "{name}" is invalid: {why}'
        if rt.group
        else f'{rt.kind} "{name}" is invalid: {why}',
        details={
            "name": name,
            "kind": rt.kind,
            "causes": [{"reason": "FieldValueInvalid", "message": why, "field": ""}],
        },
    )
