"""Failure knobs for the ARM endpoint, set by tests (``arm.faults``) to make Azure misbehave on purpose.

Two kinds of fault:

- Request faults answer the next ``n`` matching HTTP requests (any route, after authentication) with an
  error instead of serving them: :meth:`ArmFaults.throttle` (429 ``TooManyRequests`` + ``Retry-After``)
  and :meth:`ArmFaults.server_errors` (5xx). Each request consumes one unit; they are checked in the
  order they were added.
- Operation faults decide how a create or scale-up operation ends: :meth:`ArmFaults.quota` (a regional
  per-family vCPU limit: ``QuotaExceeded`` when the new VMs would exceed it, in the operation or, with
  ``synchronous=True``, as AKS's preflight 400), :meth:`ArmFaults.sku_not_available` (``SkuNotAvailable``
  for a size until cleared, permanent like Azure's), :meth:`ArmFaults.allocation_failures` (the next ``n``
  operations fail with ``AllocationFailed``, transient like Azure's).

Plain attributes cover slowness and broken nodes: ``provisioning_s`` overrides the server's provisioning
delay (slow provisioning), ``nodes_never_ready`` keeps new nodes NotReady, ``hide_gpus`` makes new GPU
nodes register without ``nvidia.com/gpu`` capacity (device plugin missing). :meth:`ArmFaults.clear`
resets everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from kaito.sim.cloud.arm.errors import ArmError, allocation_failed, sku_not_available
from kaito.sim.cloud.vmsizes import VmSize, find_vm_size

__all__ = ["ArmFaults", "QuotaLimit"]


@dataclass
class _RequestFault:
    remaining: int
    status: int
    code: str
    message: str
    retry_after_s: int | None
    method: str | None


@dataclass(frozen=True)
class QuotaLimit:
    """A regional vCPU limit for one VM family."""

    family: str
    limit_vcpus: int
    synchronous: bool


@dataclass
class _AllocationFault:
    remaining: int
    vm_size: str | None


_SERVER_ERRORS = {
    500: ("InternalServerError", "Encountered internal server error. Please try again later."),
    502: (
        "BadGateway",
        "The gateway did not receive a response from 'Microsoft.ContainerService' within the "
        "specified time period.",
    ),
    503: (
        "ServiceUnavailable",
        "The server (leader) is currently unable to handle the request. Please retry.",
    ),
    504: (
        "GatewayTimeout",
        "The gateway did not receive a response from 'Microsoft.ContainerService' within the "
        "specified time period.",
    ),
}


def _size(vm_size: str) -> VmSize:
    size = find_vm_size(vm_size)
    if size is None:
        raise ValueError(
            f"vm_size {vm_size!r} is not in the sim's VM size catalogue (kaito.sim.cloud.vmsizes)"
        )
    return size


class ArmFaults:
    """The knobs; the server consults them on every request and when an operation ends."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.provisioning_s: float | None = None
        self.nodes_never_ready = False
        self.hide_gpus = False
        self._requests: list[_RequestFault] = []
        self._quotas: dict[str, QuotaLimit] = {}
        self._unavailable: set[str] = set()
        self._allocation: list[_AllocationFault] = []

    # ----------------------------------------------------------------------------------- knobs
    def throttle(self, requests: int, *, retry_after_s: int = 1, method: str | None = None) -> None:
        """Answer the next ``requests`` requests (optionally only one HTTP method) with 429 + Retry-After."""
        self._add_request_fault(
            requests,
            429,
            "TooManyRequests",
            "The request is being throttled as the limit has been reached for operation type - "
            "Write_ObservationWindow_00:01:00. For more information, see - https://aka.ms/srpthrottlinglimits",
            retry_after_s,
            method,
        )

    def server_errors(
        self, requests: int, *, status: int = 503, retry_after_s: int | None = None, method: str | None = None
    ) -> None:
        """Answer the next ``requests`` requests with a transient 5xx (500, 502, 503 or 504)."""
        if status not in _SERVER_ERRORS:
            raise ValueError(f"status is {status}; choose one of {', '.join(map(str, _SERVER_ERRORS))}")
        code, message = _SERVER_ERRORS[status]
        self._add_request_fault(requests, status, code, message, retry_after_s, method)

    def quota(self, vm_size: str, *, limit_vcpus: int, synchronous: bool = False) -> None:
        """Limit the vCPUs of ``vm_size``'s family in the region; creates beyond it fail ``QuotaExceeded``."""
        if limit_vcpus < 0:
            raise ValueError(f"limit_vcpus is {limit_vcpus}; a quota is 0 or more vCPUs")
        family = _size(vm_size).family
        self._quotas[family.lower()] = QuotaLimit(family, limit_vcpus, synchronous)

    def sku_not_available(self, vm_size: str) -> None:
        """Make ``vm_size`` unobtainable here until :meth:`clear`: operations fail ``SkuNotAvailable``."""
        self._unavailable.add(_size(vm_size).name.lower())

    def allocation_failures(self, operations: int = 1, *, vm_size: str | None = None) -> None:
        """Fail the next ``operations`` creates/scale-ups (optionally of one size) with AllocationFailed."""
        if operations < 1:
            raise ValueError(f"operations is {operations}; give 1 or more")
        self._allocation.append(
            _AllocationFault(operations, _size(vm_size).name.lower() if vm_size else None)
        )

    def clear(self) -> None:
        """Remove every fault."""
        self._reset()

    # ----------------------------------------------------------------------------------- checks
    def _add_request_fault(
        self,
        requests: int,
        status: int,
        code: str,
        message: str,
        retry_after_s: int | None,
        method: str | None,
    ) -> None:
        if requests < 1:
            raise ValueError(f"requests is {requests}; give 1 or more")
        if retry_after_s is not None and retry_after_s < 0:
            raise ValueError(f"retry_after_s is {retry_after_s}; use 0 or more whole seconds")
        self._requests.append(
            _RequestFault(requests, status, code, message, retry_after_s, method.upper() if method else None)
        )

    def take_request_fault(self, method: str) -> ArmError | None:
        """The error to answer this request with, consuming one unit of the first matching fault."""
        for fault in self._requests:
            if fault.method is None or fault.method == method.upper():
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._requests.remove(fault)
                headers = {} if fault.retry_after_s is None else {"Retry-After": str(fault.retry_after_s)}
                return ArmError(fault.status, fault.code, fault.message, headers=headers)
        return None

    def quota_for(self, size: VmSize) -> QuotaLimit | None:
        """The quota limiting ``size``'s family, if any."""
        return self._quotas.get(size.family.lower())

    def operation_failure(self, size: VmSize, *, location: str) -> ArmError | None:
        """The capacity error an operation adding VMs of ``size`` ends with (the caller checks quota)."""
        if size.name.lower() in self._unavailable:
            return sku_not_available(vm_size=size.name, location=location)
        for fault in self._allocation:
            if fault.vm_size is None or fault.vm_size == size.name.lower():
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._allocation.remove(fault)
                return allocation_failed()
        return None
