"""What kinds the embedded API server serves: :class:`ResourceType` descriptions in a
:class:`ResourceRegistry`.

A ResourceType is one (group, version, plural) the server answers for, with what discovery, table printing and
the store need to know about it: scope, subresources, verbs, printer columns, the field selectors it accepts
and, for custom resources, the structural ``openAPIV3Schema`` objects are validated against.

Invariants of the registry:
- ``(group, version, plural)`` and ``(apiVersion, kind)`` each name at most one ResourceType; both indexes are
  updated together in :meth:`ResourceRegistry.register` / :meth:`ResourceRegistry.unregister`.
- All versions of one (group, plural) share storage in the store (kube's "None" conversion strategy): an
  object created as ``v1alpha1`` reads back as ``v1`` with only ``apiVersion`` changed.

:data:`BUILTIN_TYPES` lists the kube built-ins the simulator serves, printer columns in the CRD
``additionalPrinterColumns`` form (``priority: 1`` columns show only with ``-o wide``), and
``generation=True`` on the kinds whose registry strategy keeps ``metadata.generation``. Columns kube computes
in Go (Pod READY ``1/1``) carry a ``jsonPath`` of the source field and ``format: "computed"``; the table
printer knows how to render those.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BUILTIN_TYPES",
    "COMMON_FIELD_SELECTORS",
    "ResourceRegistry",
    "ResourceType",
]

COMMON_FIELD_SELECTORS: tuple[str, ...] = ("metadata.name", "metadata.namespace")
_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One served (group, version, plural) and everything the server needs to know about it."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    verbs: tuple[str, ...] = _ALL_VERBS
    list_kind: str = ""
    printer_columns: tuple[dict[str, Any], ...] = ()
    schema: dict[str, Any] | None = None
    # field selectors accepted beyond metadata.name/metadata.namespace (kube's per-kind GetAttrs)
    field_selectors: tuple[str, ...] = ()
    # True for kinds served from a CustomResourceDefinition (schema validation, no strategic merge patch)
    custom: bool = False
    # the version objects are stored at (CRD storage version); equal to version for built-ins
    storage_version: str = ""
    # CRD scale subresource paths, e.g. {"specReplicasPath": ".spec.replicas", ...}
    scale: dict[str, str] | None = field(default=None, compare=False, hash=False)
    # True for the built-ins whose kube registry strategy sets metadata.generation (see has_generation)
    generation: bool = False

    def __post_init__(self) -> None:
        if not self.list_kind:
            object.__setattr__(self, "list_kind", f"{self.kind}List")
        if not self.storage_version:
            object.__setattr__(self, "storage_version", self.version)

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``group/version`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def has_status(self) -> bool:
        """Whether writes to the main resource ignore ``.status`` (the type has a status subresource)."""
        return "status" in self.subresources

    @property
    def has_generation(self) -> bool:
        """Whether objects carry ``metadata.generation``: kube's strategies set it to 1 on create and bump it
        on spec changes for Deployments, ReplicaSets, StatefulSets, Jobs, CRDs and every custom resource only
        (Pods gained one in 1.33; this simulates 1.32)."""
        return self.generation or self.custom

    @property
    def qualified_resource(self) -> str:
        """``deployments.apps`` (``pods`` for the core group), as kube names a resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def storage_key(self) -> tuple[str, str]:
        """The (group, plural) all versions of this resource share in the store."""
        return (self.group, self.plural)

    def supports_field(self, path: str) -> bool:
        """Whether a field selector may name ``path`` for this kind."""
        return path in COMMON_FIELD_SELECTORS or path in self.field_selectors


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class ResourceRegistry:
    """The set of served ResourceTypes, indexed by plural and by kind. Starts with :data:`BUILTIN_TYPES`."""

    def __init__(self, types: tuple[ResourceType, ...] | list[ResourceType] | None = None) -> None:
        self._by_plural: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str, str], ResourceType] = {}
        self._lock = threading.Lock()
        for rt in BUILTIN_TYPES if types is None else types:
            self.register(rt)

    def register(self, rt: ResourceType) -> None:
        """Serve ``rt``, replacing any type registered under the same (group, version, plural)."""
        with self._lock:
            old = self._by_plural.get((rt.group, rt.version, rt.plural))
            if old is not None:
                self._by_kind.pop((old.group, old.version, old.kind), None)
            self._by_plural[(rt.group, rt.version, rt.plural)] = rt
            self._by_kind[(rt.group, rt.version, rt.kind)] = rt

    def unregister(self, group: str, version: str, plural: str) -> ResourceType | None:
        """Stop serving (group, version, plural); returns what was registered there, if anything."""
        with self._lock:
            rt = self._by_plural.pop((group, version, plural), None)
            if rt is not None:
                self._by_kind.pop((rt.group, rt.version, rt.kind), None)
            return rt

    def by_plural(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_plural.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, version = _split_api_version(api_version)
        return self._by_kind.get((group, version, kind))

    def by_name(self, group: str, version: str, name: str) -> ResourceType | None:
        """Find by plural, singular, kind or short name (what a kubectl user types), case-insensitively."""
        lowered = name.lower()
        for rt in self.all():
            if rt.group == group and rt.version == version:
                names = (rt.plural, rt.singular, rt.kind.lower(), *rt.short_names)
                if lowered in names:
                    return rt
        return None

    def versions_of(self, group: str, plural: str) -> list[ResourceType]:
        """Every served version of (group, plural)."""
        return [rt for rt in self.all() if rt.group == group and rt.plural == plural]

    def all(self) -> list[ResourceType]:
        return list(self._by_plural.values())

    def groups(self) -> dict[str, list[str]]:
        """group -> served versions, in registration order (the preferred version first)."""
        out: dict[str, list[str]] = {}
        for rt in self.all():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return out


def _col(
    name: str, json_path: str, type_: str = "string", *, priority: int = 0, fmt: str = ""
) -> dict[str, Any]:
    col: dict[str, Any] = {"name": name, "type": type_, "jsonPath": json_path}
    if priority:
        col["priority"] = priority
    if fmt:
        col["format"] = fmt
    return col


_AGE = _col("Age", ".metadata.creationTimestamp", "date")
_SELECTOR = _col("Selector", ".spec.selector", priority=1, fmt="computed")
# The -o wide columns of every kind that runs a pod template (Deployment, ReplicaSet, StatefulSet, Job).
_POD_TEMPLATE_WIDE = (
    _col("Containers", ".spec.template.spec.containers[*].name", priority=1),
    _col("Images", ".spec.template.spec.containers[*].image", priority=1),
)
_STATUS = frozenset({"status"})
_SCALE = frozenset({"status", "scale"})

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        False,
        short_names=("ns",),
        subresources=frozenset({"status", "finalize"}),
        printer_columns=(_col("Status", ".status.phase"), _AGE),
        field_selectors=("status.phase",),
    ),
    ResourceType(
        "",
        "v1",
        "Node",
        "nodes",
        "node",
        False,
        short_names=("no",),
        subresources=frozenset({"status", "proxy"}),
        printer_columns=(
            _col("Status", ".status.conditions", fmt="computed"),
            _col("Roles", ".metadata.labels", fmt="computed"),
            _AGE,
            _col("Version", ".status.nodeInfo.kubeletVersion"),
            _col("Internal-IP", ".status.addresses", priority=1, fmt="computed"),
            _col("External-IP", ".status.addresses", priority=1, fmt="computed"),
            _col("OS-Image", ".status.nodeInfo.osImage", priority=1),
            _col("Kernel-Version", ".status.nodeInfo.kernelVersion", priority=1),
            _col("Container-Runtime", ".status.nodeInfo.containerRuntimeVersion", priority=1),
        ),
        field_selectors=("spec.unschedulable",),
    ),
    ResourceType(
        "",
        "v1",
        "Pod",
        "pods",
        "pod",
        True,
        short_names=("po",),
        categories=("all",),
        subresources=frozenset(
            {"status", "log", "attach", "exec", "binding", "eviction", "ephemeralcontainers"}
        ),
        printer_columns=(
            _col("Ready", ".status.containerStatuses", fmt="computed"),
            _col("Status", ".status.phase", fmt="computed"),
            _col("Restarts", ".status.containerStatuses", "integer", fmt="computed"),
            _AGE,
            _col("IP", ".status.podIP", priority=1),
            _col("Node", ".spec.nodeName", priority=1),
            _col("Nominated Node", ".status.nominatedNodeName", priority=1),
            _col("Readiness Gates", ".spec.readinessGates", priority=1, fmt="computed"),
        ),
        field_selectors=(
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ),
    ),
    ResourceType(
        "",
        "v1",
        "Service",
        "services",
        "service",
        True,
        short_names=("svc",),
        categories=("all",),
        subresources=frozenset({"status", "proxy"}),
        printer_columns=(
            _col("Type", ".spec.type"),
            _col("Cluster-IP", ".spec.clusterIP"),
            _col("External-IP", ".status.loadBalancer.ingress", fmt="computed"),
            _col("Port(s)", ".spec.ports", fmt="computed"),
            _AGE,
            _SELECTOR,
        ),
    ),
    ResourceType(
        "",
        "v1",
        "Endpoints",
        "endpoints",
        "endpoints",
        True,
        short_names=("ep",),
        printer_columns=(_col("Endpoints", ".subsets", fmt="computed"), _AGE),
    ),
    ResourceType(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        True,
        short_names=("cm",),
        printer_columns=(_col("Data", ".data", "integer", fmt="computed"), _AGE),
    ),
    ResourceType(
        "",
        "v1",
        "Secret",
        "secrets",
        "secret",
        True,
        printer_columns=(_col("Type", ".type"), _col("Data", ".data", "integer", fmt="computed"), _AGE),
        field_selectors=("type",),
    ),
    ResourceType(
        "",
        "v1",
        "Event",
        "events",
        "event",
        True,
        short_names=("ev",),
        printer_columns=(
            _col("Last Seen", ".lastTimestamp", "date"),
            _col("Type", ".type"),
            _col("Reason", ".reason"),
            _col("Object", ".involvedObject", fmt="computed"),
            _col("Message", ".message"),
            _col("Subobject", ".involvedObject.fieldPath", priority=1),
            _col("Source", ".source.component", priority=1),
            _col("First Seen", ".firstTimestamp", "date", priority=1),
            _col("Count", ".count", "integer", priority=1),
            _col("Name", ".metadata.name", priority=1),
        ),
        field_selectors=(
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ),
    ),
    ResourceType(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        True,
        short_names=("sa",),
        subresources=frozenset({"token"}),
        printer_columns=(_col("Secrets", ".secrets", "integer", fmt="computed"), _AGE),
    ),
    ResourceType(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        True,
        generation=True,
        short_names=("deploy",),
        categories=("all",),
        subresources=_SCALE,
        printer_columns=(
            _col("Ready", ".status.readyReplicas", fmt="computed"),
            _col("Up-to-date", ".status.updatedReplicas", "integer"),
            _col("Available", ".status.availableReplicas", "integer"),
            _AGE,
            *_POD_TEMPLATE_WIDE,
            _SELECTOR,
        ),
    ),
    ResourceType(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        True,
        generation=True,
        short_names=("rs",),
        categories=("all",),
        subresources=_SCALE,
        printer_columns=(
            _col("Desired", ".spec.replicas", "integer"),
            _col("Current", ".status.replicas", "integer"),
            _col("Ready", ".status.readyReplicas", "integer"),
            _AGE,
            *_POD_TEMPLATE_WIDE,
            _SELECTOR,
        ),
        field_selectors=("status.replicas",),
    ),
    ResourceType(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        "statefulset",
        True,
        generation=True,
        short_names=("sts",),
        categories=("all",),
        subresources=_SCALE,
        printer_columns=(
            _col("Ready", ".status.readyReplicas", fmt="computed"),
            _AGE,
            *_POD_TEMPLATE_WIDE,
        ),
    ),
    ResourceType(
        "batch",
        "v1",
        "Job",
        "jobs",
        "job",
        True,
        generation=True,
        categories=("all",),
        subresources=_STATUS,
        printer_columns=(
            _col("Status", ".status.conditions", fmt="computed"),
            _col("Completions", ".status.succeeded", fmt="computed"),
            _col("Duration", ".status.completionTime", fmt="computed"),
            _AGE,
            *_POD_TEMPLATE_WIDE,
            _SELECTOR,
        ),
        field_selectors=("status.successful",),
    ),
    ResourceType(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "lease",
        True,
        printer_columns=(_col("Holder", ".spec.holderIdentity"), _AGE),
    ),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        "customresourcedefinition",
        False,
        generation=True,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        subresources=_STATUS,
        printer_columns=(_col("Created At", ".metadata.creationTimestamp", "date"),),
    ),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        "role",
        True,
        printer_columns=(_col("Created At", ".metadata.creationTimestamp", "date"),),
    ),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        False,
        printer_columns=(_col("Created At", ".metadata.creationTimestamp", "date"),),
    ),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        "rolebinding",
        True,
        printer_columns=(
            _col("Role", ".roleRef", fmt="computed"),
            _AGE,
            _col("Users", ".subjects", priority=1, fmt="computed"),
            _col("Groups", ".subjects", priority=1, fmt="computed"),
            _col("ServiceAccounts", ".subjects", priority=1, fmt="computed"),
        ),
    ),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        False,
        printer_columns=(
            _col("Role", ".roleRef", fmt="computed"),
            _AGE,
            _col("Users", ".subjects", priority=1, fmt="computed"),
            _col("Groups", ".subjects", priority=1, fmt="computed"),
            _col("ServiceAccounts", ".subjects", priority=1, fmt="computed"),
        ),
    ),
)
