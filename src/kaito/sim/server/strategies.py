"""The registry strategies of the served kinds: what each kind does differently on a write or a delete.

:func:`default_strategies` builds a store's :class:`~kaito.sim.server.strategy.StrategyRegistry`:

- :class:`BuiltinStrategy` (every built-in kind without its own): kube's create-time preparation and
  defaulting (:mod:`kaito.sim.server.defaults`) and the kind's required fields
  (:mod:`kaito.sim.server.validation`);
- :class:`CustomResourceStrategy` (every custom resource): metadata checks and the CRD's structural schema,
  defaults and CEL rules (:mod:`kaito.sim.server.schema`);
- :class:`NamespaceStrategy`: phase Active/Terminating, the ``kubernetes`` finalizer and the ``finalize``
  subresource, protected names, and a delete that always waits for the namespace controller;
- :class:`ServiceStrategy`: cluster IPs from 10.96.0.0/12 (an update without one keeps the allocated one);
- :class:`PodStrategy`: a bound, unfinished Pod's deletion grace period;
- :class:`DeploymentStrategy`: generation also grows when annotations change (they are rolled out);
- :class:`CustomResourceDefinitionStrategy`: a CRD is validated, gets its status, and serves its kinds as
  soon as it is stored (its objects go with it);
- :class:`CreateOnUpdateStrategy`: Endpoints, Events and Leases are created by a PUT when missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kaito.sim.server.crds import crd_resource_types, crd_status, validate_crd
from kaito.sim.server.defaults import apply_defaults, prepare_create
from kaito.sim.server.errors import FieldError, Forbidden
from kaito.sim.server.objects import clone
from kaito.sim.server.resources import ResourceType
from kaito.sim.server.schema import admit_custom_object
from kaito.sim.server.strategy import Strategy, StrategyContext, StrategyRegistry
from kaito.sim.server.validation import validate_builtin, validate_metadata

__all__ = [
    "PROTECTED_NAMESPACES",
    "BuiltinStrategy",
    "ClusterIPAllocator",
    "CreateOnUpdateStrategy",
    "CustomResourceDefinitionStrategy",
    "CustomResourceStrategy",
    "DeploymentStrategy",
    "NamespaceStrategy",
    "PodStrategy",
    "ServiceStrategy",
    "default_strategies",
]

PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


class BuiltinStrategy(Strategy):
    """A built-in kind: kube's PrepareForCreate and defaults, metadata and required-field validation."""

    # its defaulting only sets absent fields and every stored object went through it, and its validation
    # reads: a status write leaves the spec (and nested metadata) it shares with the stored object as is
    status_write_shares_rest = True

    def prepare_for_create(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        prepare_create(rt.storage_key, obj, has_status=rt.has_status, next_cluster_ip=self.next_cluster_ip)

    def next_cluster_ip(self) -> str:
        """Only Services allocate addresses (see :class:`ServiceStrategy`)."""
        raise RuntimeError("only the Service strategy allocates cluster IPs")

    def prepare_for_write(self, rt: ResourceType, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        apply_defaults(rt.storage_key, new)

    def validate(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        return validate_builtin(rt, obj)


class CustomResourceStrategy(Strategy):
    """A custom resource: metadata checks, then its CRD's schema (pruning, defaults, CEL rules)."""

    delete_returns_object = True

    def validate(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        return [*validate_metadata(rt, obj), *admit_custom_object(rt, obj, old)]


class NamespaceStrategy(BuiltinStrategy):
    """Namespaces: two-phase deletion through the namespace controller, a few names never deleted."""

    status_write_shares_rest = False  # rare writes; its strategy has its own subresource and phase rules

    delete_returns_object = True
    two_phase_delete = True

    def prepare_for_update(self, rt: ResourceType, new: dict[str, Any], old: dict[str, Any]) -> None:
        new["status"] = old.get("status", {"phase": "Active"})

    def update_subresource(
        self, rt: ResourceType, old: dict[str, Any], body: dict[str, Any], subresource: str
    ) -> dict[str, Any]:
        if subresource != "finalize":
            return super().update_subresource(rt, old, body, subresource)
        new = clone(old)
        finalizers = list((body.get("spec") or {}).get("finalizers") or [])
        new["spec"] = dict(old.get("spec") or {}, finalizers=finalizers)
        return new

    def check_delete(self, rt: ResourceType, name: str) -> None:
        if name in PROTECTED_NAMESPACES:
            raise Forbidden.for_object(rt.plural, rt.group, name, "this namespace may not be deleted")

    def mark_deleting(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        new["status"] = dict(old.get("status") or {}, phase="Terminating")

    def held(self, obj: dict[str, Any]) -> bool:
        return super().held(obj) or bool((obj.get("spec") or {}).get("finalizers"))


class ClusterIPAllocator:
    """Addresses of the 10.96.0.0/12 service range, in order; 10.96.0.1..16 stay free (kubernetes, kube-dns).

    Invariant: :meth:`allocate` never returns an address below or equal to one it returned or observed.
    """

    def __init__(self) -> None:
        self._last = 16
        # With the process runtime, ClusterIPs come from a loopback /24 ("127.a.b") so that they are reachable
        # on this machine (kaito.sim.workloads.cluster_ips); None: the 10.96.0.0/12 service range.
        self.loopback_prefix: str | None = None
        self._in_use: Callable[[], set[str]] = set
        self._loopback_last = 0

    def use_loopback(self, prefix: str, in_use: Callable[[], set[str]]) -> None:
        """Allocate from ``prefix``.2-254 from now on, skipping the addresses ``in_use()`` returns."""
        self.loopback_prefix, self._in_use = prefix, in_use

    def allocate(self) -> str:
        if self.loopback_prefix is not None:
            return self._allocate_loopback(self.loopback_prefix)
        self._last += 1
        n = self._last
        return f"10.{96 + (n >> 16) % 16}.{(n >> 8) & 255}.{n & 255}"

    def _allocate_loopback(self, prefix: str) -> str:
        taken = self._in_use()
        for _ in range(253):
            self._loopback_last = self._loopback_last % 253 + 1
            address = f"{prefix}.{self._loopback_last + 1}"
            if address not in taken:
                return address
        raise RuntimeError(f"every ClusterIP of {prefix}.0/24 is taken")

    def observe(self, address: str) -> None:
        """An address already in use (a Service loaded at start-up)."""
        parts = address.split(".")
        if len(parts) == 4 and parts[0] == "10" and all(p.isdigit() for p in parts):
            n = ((int(parts[1]) - 96) << 16) + (int(parts[2]) << 8) + int(parts[3])
            self._last = max(self._last, n)


class ServiceStrategy(BuiltinStrategy):
    """Services: a cluster IP on create, kept by an update that sends none."""

    status_write_shares_rest = False  # its write path rewrites fields of the spec (or status) itself

    delete_returns_object = True

    def __init__(self, allocator: ClusterIPAllocator | None = None) -> None:
        self.allocator = allocator if allocator is not None else ClusterIPAllocator()

    def next_cluster_ip(self) -> str:
        return self.allocator.allocate()

    def prepare_for_write(self, rt: ResourceType, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        super().prepare_for_write(rt, new, old)
        if old is None:
            return
        old_spec = old.get("spec") or {}
        spec = new.get("spec")
        if isinstance(spec, dict) and not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec.setdefault("clusterIPs", old_spec.get("clusterIPs") or [old_spec["clusterIP"]])

    def loaded(self, context: StrategyContext, obj: dict[str, Any]) -> None:
        self.allocator.observe(str((obj.get("spec") or {}).get("clusterIP") or ""))


class PodStrategy(BuiltinStrategy):
    """Pods: a Pod bound to a node and not finished is deleted with a grace period."""

    delete_returns_object = True

    def deletion_grace(self, rt: ResourceType, obj: dict[str, Any], requested: int | None) -> int:
        spec = obj.get("spec") or {}
        if not spec.get("nodeName") or (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        seconds = requested if requested is not None else int(spec.get("terminationGracePeriodSeconds", 30))
        return max(seconds, 0)


class DeploymentStrategy(BuiltinStrategy):
    """Deployments: annotations are copied to the ReplicaSets, so a change to them is a new generation."""

    def generation_changes(self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> bool:
        if super().generation_changes(rt, old, new):
            return True
        return (old["metadata"].get("annotations") or {}) != (new["metadata"].get("annotations") or {})


class CustomResourceDefinitionStrategy(BuiltinStrategy):
    """CRDs: validated, given their status, and serving their kinds from the write that stores them."""

    status_write_shares_rest = False  # its write path rewrites fields of the spec (or status) itself

    def validate(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        return [*super().validate(rt, obj, old), *validate_crd(obj)]

    def derive(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, now: str) -> None:
        status = crd_status(obj, now)
        if old is not None:
            kept = ("conditions", "acceptedNames", "storedVersions")
            status = dict(status, **{k: v for k, v in (obj.get("status") or {}).items() if k not in kept})
        obj["status"] = status

    def committed(self, context: StrategyContext, obj: dict[str, Any], *, deleted: bool) -> None:
        spec = obj.get("spec") or {}
        group = str(spec.get("group", ""))
        plural = str((spec.get("names") or {}).get("plural", ""))
        registry = context.registry
        served_before = {rt.version for rt in registry.versions_of(group, plural)}
        if deleted:
            context.drop_kind(group, plural)
            for version in served_before:
                registry.unregister(group, version, plural)
            return
        types = crd_resource_types(obj)
        for rt in types:
            registry.register(rt)
        for version in served_before - {rt.version for rt in types}:
            registry.unregister(group, version, plural)

    def loaded(self, context: StrategyContext, obj: dict[str, Any]) -> None:
        self.committed(context, obj, deleted=False)


class CreateOnUpdateStrategy(BuiltinStrategy):
    """Kinds a PUT creates when missing (kube's AllowCreateOnUpdate): Endpoints, Events, Leases."""

    create_on_update = True


def default_strategies() -> StrategyRegistry:
    """A fresh registry (with its own cluster-IP allocator) holding the strategies of the served kinds."""
    create_on_update = CreateOnUpdateStrategy()
    return StrategyRegistry(
        {
            ("", "namespaces"): NamespaceStrategy(),
            ("", "services"): ServiceStrategy(),
            ("", "pods"): PodStrategy(),
            ("apps", "deployments"): DeploymentStrategy(),
            ("apiextensions.k8s.io", "customresourcedefinitions"): CustomResourceDefinitionStrategy(),
            ("", "endpoints"): create_on_update,
            ("", "events"): create_on_update,
            ("coordination.k8s.io", "leases"): create_on_update,
        },
        builtin=BuiltinStrategy(),
        custom=CustomResourceStrategy(),
    )
