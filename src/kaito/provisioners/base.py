"""The provisioner contract: where a Machine's GPU node comes from, seen through four async methods.

    create(machine)   start making the node; idempotent (a second call finds what the first made)
    get(machine)      what the cloud holds for the machine now, as an `ObservedState`
    delete(machine)   start removing it; idempotent (nothing there is success)
    matches(node, m)  whether a Kubernetes Node is the one made for `m` (pure, no I/O)
    list()            what this provisioner made (found by its owner tags/labels), as `OwnedResource`s
    delete_owned(r)   start removing one of those by name, when its Machine no longer exists

`list` and `delete_owned` serve the orphan sweep (`kaito.controllers.orphans`): a resource whose Machine was
force-deleted, or whose create raced the Machine's delete, has no Machine left to clean it up. `list` must
return only what carries this provisioner's ownership marks, so a sweep can never touch anything else.

None of them blocks until a long-running cloud operation ends: `create` and `delete` start it and return,
the Machine reconciler calls `get` again on a later reconcile. That keeps one slow cloud from stalling the
reconcile loop, and it is what makes a restart harmless: everything is re-derived from `get`.

Observed phases (`Phase`), in the order a healthy node goes through them::

    GONE -> PENDING -> PROVISIONING -> RUNNING -> (DELETING -> GONE)
                                    \\-> FAILED (reason, message, retryable)

Errors a provisioner raises, one hierarchy::

    ProvisionerError              reason (CamelCase, the cloud's code when it has one) and message
    ├── RetryableError            try again later; `retry_after` seconds when the cloud said so
    │   ├── ThrottledError        429: the cloud asked us to slow down
    │   └── OperationInProgress   another operation on the resource is running (adopt it, do not fail)
    ├── CapacityError             the cloud has no such machine now (SKU unavailable, allocation failed)
    ├── QuotaError                the subscription may not have more of these
    └── PermanentError            the request itself is wrong; retrying cannot help until the spec changes

`ProvisionerRegistry` picks the implementation from `Machine.spec.provisioner`, else its default.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from kaito.api.machine import Machine
from kaito.runtimes.skus import GpuConfig

__all__ = [
    "CapacityError",
    "ObservedState",
    "OperationInProgress",
    "OwnedResource",
    "PermanentError",
    "Phase",
    "Provisioner",
    "ProvisionerError",
    "ProvisionerRegistry",
    "QuotaError",
    "RetryableError",
    "ThrottledError",
    "UnknownProvisioner",
]


class ProvisionerError(Exception):
    """A cloud refused or failed a request; `reason` is a CamelCase code, `message` a sentence."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message

    @property
    def retryable(self) -> bool:
        return False


class RetryableError(ProvisionerError):
    """Transient (5xx, a dropped connection): try again, after `retry_after` seconds when given."""

    def __init__(self, reason: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason, message)
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return True


class ThrottledError(RetryableError):
    """429 Too Many Requests beyond the SDK's own retries; `retry_after` is the cloud's Retry-After."""


class OperationInProgress(RetryableError):
    """Another operation on the same resource is running; a create adopts it instead of failing."""


class CapacityError(ProvisionerError):
    """The cloud cannot supply this instance type now (SkuNotAvailable, AllocationFailed, ...)."""


class QuotaError(ProvisionerError):
    """The subscription's quota does not allow another node of this family."""


class PermanentError(ProvisionerError):
    """The request is invalid (bad name, unknown size, ...); it fails again until the spec changes."""


class UnknownProvisioner(PermanentError):
    """A Machine names a provisioner this controller does not run."""


class Phase(StrEnum):
    """What the cloud holds for a Machine."""

    GONE = "Gone"  # nothing exists (never created, or deleted)
    PENDING = "Pending"  # accepted, not started (e.g. a NodeClaim Karpenter has not looked at yet)
    PROVISIONING = "Provisioning"  # a create is running
    RUNNING = "Running"  # launched: the VM exists and its node can register
    FAILED = "Failed"  # the create failed; `reason`/`message` say why
    DELETING = "Deleting"  # a delete is running


@dataclass(frozen=True)
class ObservedState:
    """One observation of a Machine's cloud resource.

    Invariants: `reason`/`message` are set when `phase` is FAILED (and may explain PROVISIONING);
    `provider_id`/`node_name` are only ever set for RUNNING; `node_labels` are labels the node is known to
    carry (e.g. `agentpool=<pool>`), to help find it.
    """

    phase: Phase
    provider_id: str | None = None
    node_name: str | None = None
    node_labels: Mapping[str, str] = field(default_factory=dict)
    reason: str | None = None
    message: str | None = None
    retryable: bool = False
    resource: str = ""  # a human name for the cloud resource, for events: "agent pool gpu0001"

    @classmethod
    def gone(cls, resource: str = "") -> ObservedState:
        return cls(Phase.GONE, resource=resource)

    @classmethod
    def pending(cls, resource: str = "", message: str | None = None) -> ObservedState:
        return cls(Phase.PENDING, resource=resource, message=message)

    @classmethod
    def provisioning(cls, resource: str = "", message: str | None = None) -> ObservedState:
        return cls(Phase.PROVISIONING, resource=resource, message=message)

    @classmethod
    def deleting(cls, resource: str = "") -> ObservedState:
        return cls(Phase.DELETING, resource=resource)

    @classmethod
    def running(
        cls,
        resource: str = "",
        *,
        provider_id: str | None = None,
        node_name: str | None = None,
        node_labels: Mapping[str, str] | None = None,
    ) -> ObservedState:
        return cls(
            Phase.RUNNING,
            provider_id=provider_id,
            node_name=node_name,
            node_labels=dict(node_labels or {}),
            resource=resource,
        )

    @classmethod
    def failed(
        cls, reason: str, message: str, *, retryable: bool = False, resource: str = ""
    ) -> ObservedState:
        return cls(Phase.FAILED, reason=reason, message=message, retryable=retryable, resource=resource)

    @property
    def exists(self) -> bool:
        """Whether anything is left in the cloud."""
        return self.phase is not Phase.GONE


@dataclass(frozen=True)
class OwnedResource:
    """A cloud resource a provisioner made, as its listing shows it.

    Invariants: only resources carrying the provisioner's ownership marks are ever built (an AKS pool tagged
    `kaito.sh-created-by=kaito`, a NodeClaim labelled with our node pool and `kaito.sh/machine`);
    `machine` is the Machine named by those marks; `created` is when the resource was made, None when the
    cloud does not say (the sweep then ages it from when it first saw it).
    """

    name: str  # the cloud's name for it: the pool name, the NodeClaim name
    machine: str  # the Machine it was made for
    created: datetime | None = None
    deleting: bool = False  # a delete is already running
    resource: str = ""  # a human name for events: "agent pool gpu0001"


class Provisioner(abc.ABC):
    """Makes and removes the cloud resource behind one Machine (see the module docstring)."""

    name: ClassVar[str]

    @abc.abstractmethod
    async def create(self, machine: Machine) -> ObservedState:
        """Start creating the machine's node; returns what exists afterwards. Idempotent."""

    @abc.abstractmethod
    async def get(self, machine: Machine) -> ObservedState:
        """What the cloud holds for `machine` now."""

    @abc.abstractmethod
    async def delete(self, machine: Machine) -> None:
        """Start deleting the machine's cloud resource; success when there is none. Idempotent."""

    @abc.abstractmethod
    def matches(self, node: Mapping[str, Any], machine: Machine) -> bool:
        """Whether `node` (a core/v1 Node as a dict) is the node made for `machine`."""

    @abc.abstractmethod
    async def list(self) -> Sequence[OwnedResource]:
        """Every resource this provisioner made (ownership marks only; see `OwnedResource`)."""

    @abc.abstractmethod
    async def delete_owned(self, owned: OwnedResource) -> None:
        """Start deleting a resource `list` returned; success when it is already gone. Idempotent."""

    def watched_kinds(self) -> Sequence[tuple[str, str]]:
        """Kinds (apiVersion, kind) whose objects carry `kaito.sh/machine` and should wake the Machine."""
        return ()

    def cache_transform(
        self, kind: tuple[str, str]
    ) -> Callable[[Mapping[str, Any]], Mapping[str, Any]] | None:
        """What the operator's cache keeps of an object of one of `watched_kinds()` (None: all of it); the
        Machine controller installs it, so fields the provisioner never reads cost no memory."""
        return None

    async def close(self) -> None:  # noqa: B027 - optional hook: most provisioners hold nothing
        """Release clients and connections."""

    async def gpu_config(self, instance_type: str) -> GpuConfig | None:
        """The node shape of an instance type the SKU catalog does not list, when this cloud can tell it.

        None: this provisioner cannot (the default); the AKS provisioner asks ARM's resource SKUs.
        """
        return None


class ProvisionerRegistry:
    """The provisioners a controller runs, by name, and the default for Machines that name none."""

    def __init__(self, provisioners: Iterable[Provisioner], *, default: str | None = None) -> None:
        self._by_name: dict[str, Provisioner] = {}
        for provisioner in provisioners:
            if provisioner.name in self._by_name:
                raise ValueError(f"two provisioners are named {provisioner.name!r}; names must be unique")
            self._by_name[provisioner.name] = provisioner
        if not self._by_name:
            raise ValueError("a ProvisionerRegistry needs at least one provisioner")
        if default is None:
            if len(self._by_name) > 1:
                raise ValueError(
                    f"default is unset but {len(self._by_name)} provisioners are registered "
                    f"({', '.join(sorted(self._by_name))}); name the default"
                )
            default = next(iter(self._by_name))
        if default not in self._by_name:
            raise ValueError(
                f"default provisioner {default!r} is not registered; choose one of "
                f"{', '.join(sorted(self._by_name))}"
            )
        self.default = default

    @property
    def names(self) -> list[str]:
        return sorted(self._by_name)

    def all(self) -> list[Provisioner]:
        return [self._by_name[name] for name in self.names]

    def get(self, name: str) -> Provisioner:
        found = self._by_name.get(name)
        if found is None:
            raise UnknownProvisioner(
                "UnknownProvisioner",
                f"spec.provisioner is {name!r}, but this controller runs only "
                f"{', '.join(repr(n) for n in self.names)}; set spec.provisioner to one of them or leave it "
                f"unset for the default ({self.default!r}).",
            )
        return found

    def for_machine(self, machine: Machine) -> Provisioner:
        """The provisioner named by `machine.spec.provisioner`, or the default."""
        return self.get(machine.spec.provisioner or self.default)

    async def gpu_config(self, instance_type: str) -> GpuConfig | None:
        """The first shape a provisioner (the default first) reports for an unlisted instance type."""
        ordered = [self._by_name[self.default], *(p for n, p in self._by_name.items() if n != self.default)]
        for provisioner in ordered:
            found = await provisioner.gpu_config(instance_type)
            if found is not None:
                return found
        return None

    async def close(self) -> None:
        for provisioner in self._by_name.values():
            await provisioner.close()
