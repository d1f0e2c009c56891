"""A small fake Karpenter for the embedded cluster: NodeClaims (karpenter.sh/v1) become Nodes.

It is a cloud with Karpenter in front, not a test double of the operator: it reads NodeClaims from the
store like Karpenter's lifecycle controller and writes back what Karpenter would. ``start()`` installs the
NodeClaim CRD (``data/nodeclaim-crd.yaml``) when the store lacks it, then follows every NodeClaim:

    created      -> finalizer karpenter.sh/termination; Launched/Registered/Initialized/Ready Unknown
                    (reason AwaitingReconciliation)
    +launch_s    -> Launched True: providerID, imageID, capacity/allocatable of the instance type
                    (from :mod:`kaito.sim.cloud.vmsizes`, the first value of its
                    node.kubernetes.io/instance-type
                    requirement); or, when that type is short of capacity, Launched False
                    (reason InsufficientCapacity) and Karpenter deletes the claim itself
    +register_s  -> the Node registers (claim labels and taints, the start-up not-ready taint, GPU
                    feature-discovery labels, providerID); Registered True, status.nodeName
    +ready_s     -> the Node turns Ready and drops the not-ready taint; Initialized and Ready True
    deleted      -> after termination_s the Node is deleted, then the termination finalizer is removed

Knobs (plain attributes, read when each step runs): ``launch_s``/``register_s``/``ready_s``/``termination_s``
(slow launches), ``insufficient_capacity`` (instance type names, or ``"*"`` for all), ``never_register``
(launched VMs whose kubelet never joins), ``hide_gpus`` (nodes without ``nvidia.com/gpu``). ``launched``
counts successful launches.

Invariants: every effect is a one-shot timer on the injected clock (nothing polls, and the store's
synchronous listeners never write re-entrantly: they only schedule); at most one pending step per claim
(``_steps``); a step re-reads the claim and does nothing if it is gone or no longer in the state the step
expects, so a step that lost a race is harmless. The same re-reading makes a restart safe: the simulator
keeps nothing a snapshot must carry (``launched`` is a tally, ``_terminating`` only marks a grace period
begun), so one started over a restored store schedules every claim at once and each resumes from its
conditions (a grace period begun before the stop starts again).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable
from importlib import resources
from typing import Any, Final

import yaml

from kaito.sim.cloud.arm.clock import Clock, LoopClock, Timer
from kaito.sim.cloud.vmsizes import VmSize, find_vm_size
from kaito.sim.server.errors import AlreadyExists, Conflict, NotFound
from kaito.sim.server.objects import format_time
from kaito.sim.server.store import Store
from kaito.sim.server.watch import Change

__all__ = [
    "NODECLAIM_API_VERSION",
    "NODECLAIM_KIND",
    "TERMINATION_FINALIZER",
    "KarpenterSimulator",
    "nodeclaim_crd",
]

NODECLAIM_API_VERSION: Final = "karpenter.sh/v1"
NODECLAIM_KIND: Final = "NodeClaim"
TERMINATION_FINALIZER: Final = "karpenter.sh/termination"
INSTANCE_TYPE_LABEL: Final = "node.kubernetes.io/instance-type"
NOT_READY_TAINT: Final = "node.kubernetes.io/not-ready"
_CRD_API: Final = "apiextensions.k8s.io/v1"
_CLAIMS_KEY: Final = ("karpenter.sh", "nodeclaims")
_CONDITIONS: Final = ("Launched", "Registered", "Initialized", "Ready")
_DEFAULT_STORAGE_GIB: Final = 128

log = logging.getLogger(__name__)


def nodeclaim_crd() -> dict[str, Any]:
    """The karpenter.sh/v1 NodeClaim CustomResourceDefinition the fake serves."""
    text = resources.files("kaito.sim.cloud").joinpath("data/nodeclaim-crd.yaml").read_text()
    crd: dict[str, Any] = yaml.safe_load(text)
    return crd


class KarpenterSimulator:
    """Karpenter's NodeClaim lifecycle over a kaito.sim store (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        launch_s: float = 0.2,
        register_s: float = 0.1,
        ready_s: float = 0.1,
        termination_s: float = 0.1,
        subscription_id: str = "00000000-0000-0000-0000-000000000000",
        node_resource_group: str = "MC_kaito-rg_kaito_eastus",
        location: str = "eastus",
    ) -> None:
        for label, value in (
            ("launch_s", launch_s),
            ("register_s", register_s),
            ("ready_s", ready_s),
            ("termination_s", termination_s),
        ):
            if value < 0:
                raise ValueError(f"{label} is {value}; it must be 0 or more seconds")
        self.store = store
        self.clock: Clock = clock or LoopClock()
        self.launch_s = launch_s
        self.register_s = register_s
        self.ready_s = ready_s
        self.termination_s = termination_s
        self.subscription_id = subscription_id
        self.node_resource_group = node_resource_group
        self.location = location
        self.insufficient_capacity: set[str] = set()
        self.never_register = False
        self.hide_gpus = False
        self.launched = 0
        self._steps: dict[str, Timer] = {}
        self._terminating: set[str] = set()  # claims whose termination grace (termination_s) has started
        self._unsubscribe: Callable[[], None] | None = None

    # ------------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Install the CRD if missing and follow every NodeClaim (existing ones included)."""
        if self._unsubscribe is not None:
            return
        with contextlib.suppress(AlreadyExists):
            self.store.create(_CRD_API, "CustomResourceDefinition", nodeclaim_crd())
        self._unsubscribe = self.store.add_listener(self._on_change)
        for claim in self.store.list(NODECLAIM_API_VERSION, NODECLAIM_KIND)[0]:
            self._schedule(claim["metadata"]["name"], 0.0)

    def stop(self) -> None:
        """Stop following claims and cancel pending steps (claims and Nodes stay as they are)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for timer in self._steps.values():
            timer.cancel()
        self._steps.clear()

    async def __aenter__(self) -> KarpenterSimulator:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def node_name(self, claim_name: str) -> str:
        """The Node a claim's VM registers as (Karpenter's Azure provider names VMs aks-<claim>)."""
        return f"aks-{claim_name}"

    def provider_id(self, claim_name: str) -> str:
        return (
            f"azure:///subscriptions/{self.subscription_id}/resourceGroups/{self.node_resource_group.lower()}"
            f"/providers/Microsoft.Compute/virtualMachines/{self.node_name(claim_name)}"
        )

    # ------------------------------------------------------------------------------ scheduling
    def _on_change(self, change: Change) -> None:
        if change.key != _CLAIMS_KEY:
            return
        name = change.object["metadata"]["name"]
        if change.type == "DELETED":
            timer = self._steps.pop(name, None)
            if timer is not None:
                timer.cancel()
            self._terminating.discard(name)
            return
        deleting = bool(change.object["metadata"].get("deletionTimestamp"))
        was_deleting = bool(((change.prev or {}).get("metadata") or {}).get("deletionTimestamp"))
        if change.type == "ADDED" or (deleting and not was_deleting):
            self._schedule(name, 0.0)

    def _schedule(self, name: str, delay: float) -> None:
        old = self._steps.pop(name, None)
        if old is not None:
            old.cancel()
        self._steps[name] = self.clock.call_later(delay, lambda: self._step(name))

    def _step(self, name: str) -> None:
        self._steps.pop(name, None)
        try:
            claim = self.store.get(NODECLAIM_API_VERSION, NODECLAIM_KIND, name)
        except NotFound:
            return
        try:
            self._advance(claim)
        except Exception:  # a timer callback has no caller to raise to; keep the loop alive
            log.exception("fake Karpenter failed on NodeClaim %s", name)

    def _advance(self, claim: dict[str, Any]) -> None:
        name = claim["metadata"]["name"]
        if claim["metadata"].get("deletionTimestamp"):
            self._terminate(claim)
            return
        if TERMINATION_FINALIZER not in (claim["metadata"].get("finalizers") or []):
            self._initialise(name)
            self._schedule(name, self.launch_s)
            return
        state = {c["type"]: c["status"] for c in (claim.get("status") or {}).get("conditions") or []}
        if state.get("Launched") != "True":
            self._launch(claim)
        elif state.get("Registered") != "True":
            self._register(claim)
        elif state.get("Initialized") != "True":
            self._initialize(claim)

    # ------------------------------------------------------------------------------ steps
    def _initialise(self, name: str) -> None:
        def change(claim: dict[str, Any]) -> None:
            finalizers = claim["metadata"].setdefault("finalizers", [])
            if TERMINATION_FINALIZER not in finalizers:
                finalizers.append(TERMINATION_FINALIZER)

        self._write(name, change, status=False)

        def conditions(claim: dict[str, Any]) -> None:
            for kind in _CONDITIONS:
                message = "object is awaiting reconciliation"
                _set_condition(claim, kind, "Unknown", "AwaitingReconciliation", message, self._now())

        self._write(name, conditions, status=True)

    def _launch(self, claim: dict[str, Any]) -> None:
        name = claim["metadata"]["name"]
        instance_type = _instance_type(claim)
        size = find_vm_size(instance_type) if instance_type else None
        short = "*" in self.insufficient_capacity or (
            instance_type is not None
            and instance_type.lower() in {t.lower() for t in self.insufficient_capacity}
        )
        if size is None or short:
            offered = instance_type or "(none requested)"
            message = (
                f"creating instance, insufficient capacity, all requested instance types were unavailable "
                f"during launch (instance types: {offered})"
            )

            def failed(obj: dict[str, Any]) -> None:
                _set_condition(obj, "Launched", "False", "InsufficientCapacity", message, self._now())

            self._write(name, failed, status=True)
            with contextlib.suppress(NotFound):  # Karpenter gives up on the claim and deletes it
                self.store.delete(NODECLAIM_API_VERSION, NODECLAIM_KIND, name)
            return
        storage_gib = _storage_gib(claim)

        def launched(obj: dict[str, Any]) -> None:
            status = obj.setdefault("status", {})
            status["providerID"] = self.provider_id(name)
            status["imageID"] = (
                f"/subscriptions/{self.subscription_id}/resourceGroups/AKS-Ubuntu/providers/"
                "Microsoft.Compute/galleries/AKSUbuntu/images/2204gen2containerd/versions/202511.07.0"
            )
            status["capacity"] = _capacity(size, storage_gib, gpus=not self.hide_gpus)
            status["allocatable"] = _allocatable(size, storage_gib, gpus=not self.hide_gpus)
            _set_condition(obj, "Launched", "True", "Launched", "", self._now())

        self._write(name, launched, status=True)
        self.launched += 1
        if not self.never_register:
            self._schedule(name, self.register_s)

    def _register(self, claim: dict[str, Any]) -> None:
        name = claim["metadata"]["name"]
        size = find_vm_size(_instance_type(claim) or "")
        if size is None:
            return
        node_name = self.node_name(name)
        storage_gib = _storage_gib(claim)
        spec = claim.get("spec") or {}
        labels = dict(claim["metadata"].get("labels") or {})
        labels |= _node_labels(size, node_name, self.location, gpus=not self.hide_gpus)
        labels["karpenter.sh/registered"] = "true"
        taints = [_taint(t) for t in [*(spec.get("taints") or []), *(spec.get("startupTaints") or [])]]
        taints.append({"key": NOT_READY_TAINT, "effect": "NoSchedule", "timeAdded": self._now()})
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node_name,
                "labels": labels,
                "ownerReferences": [
                    {
                        "apiVersion": NODECLAIM_API_VERSION,
                        "kind": NODECLAIM_KIND,
                        "name": name,
                        "uid": claim["metadata"]["uid"],
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {"providerID": self.provider_id(name), "taints": taints},
        }
        try:
            stored = self.store.create("v1", "Node", node)
        except AlreadyExists:
            stored = self.store.get("v1", "Node", node_name)
        stored["status"] = {
            "capacity": _capacity(size, storage_gib, gpus=not self.hide_gpus),
            "allocatable": _allocatable(size, storage_gib, gpus=not self.hide_gpus),
            "conditions": [_node_ready(False, self._now())],
            "nodeInfo": {"kubeletVersion": "v1.32.7", "operatingSystem": "linux", "architecture": "amd64"},
        }
        self.store.update("v1", "Node", stored, subresource="status")

        def registered(obj: dict[str, Any]) -> None:
            obj.setdefault("status", {})["nodeName"] = node_name
            _set_condition(obj, "Registered", "True", "Registered", "", self._now())

        self._write(name, registered, status=True)
        self._schedule(name, self.ready_s)

    def _initialize(self, claim: dict[str, Any]) -> None:
        name = claim["metadata"]["name"]
        node_name = (claim.get("status") or {}).get("nodeName") or self.node_name(name)

        def ready(node: dict[str, Any]) -> None:
            status = node.setdefault("status", {})
            status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "Ready"] + [
                _node_ready(True, self._now())
            ]

        def untaint(node: dict[str, Any]) -> None:
            taints = [t for t in node["spec"].get("taints") or [] if t.get("key") != NOT_READY_TAINT]
            node["spec"]["taints"] = taints
            node["metadata"].setdefault("labels", {})["karpenter.sh/initialized"] = "true"

        if not self._write_node(node_name, ready, status=True):
            return
        self._write_node(node_name, untaint, status=False)

        def initialized(obj: dict[str, Any]) -> None:
            _set_condition(obj, "Initialized", "True", "Initialized", "", self._now())
            _set_condition(obj, "Ready", "True", "Ready", "", self._now())

        self._write(name, initialized, status=True)

    def _terminate(self, claim: dict[str, Any]) -> None:
        name = claim["metadata"]["name"]
        if TERMINATION_FINALIZER not in (claim["metadata"].get("finalizers") or []):
            return
        if name not in self._terminating:  # first look: give termination its time
            self._terminating.add(name)
            self._schedule(name, self.termination_s)
            return
        self._terminating.discard(name)
        node_name = (claim.get("status") or {}).get("nodeName") or self.node_name(name)
        with contextlib.suppress(NotFound):
            self.store.delete("v1", "Node", node_name)

        def release(obj: dict[str, Any]) -> None:
            obj["metadata"]["finalizers"] = [
                f for f in obj["metadata"].get("finalizers") or [] if f != TERMINATION_FINALIZER
            ]

        self._write(name, release, status=False)

    # ------------------------------------------------------------------------------ writes
    def _now(self) -> str:
        return format_time(self.clock.now())

    def _write(self, name: str, change: Callable[[dict[str, Any]], None], *, status: bool) -> bool:
        return self._update(NODECLAIM_API_VERSION, NODECLAIM_KIND, name, change, status=status)

    def _write_node(self, name: str, change: Callable[[dict[str, Any]], None], *, status: bool) -> bool:
        return self._update("v1", "Node", name, change, status=status)

    def _update(
        self,
        api_version: str,
        kind: str,
        name: str,
        change: Callable[[dict[str, Any]], None],
        *,
        status: bool,
    ) -> bool:
        for _ in range(3):  # another writer may bump the resourceVersion between get and update
            try:
                obj = self.store.get(api_version, kind, name)
                change(obj)
                subresource = "status" if status else None
                self.store.update(api_version, kind, obj, subresource=subresource, copy=False)
                return True
            except NotFound:
                return False
            except Conflict:
                continue
        log.warning("gave up updating %s %s after 3 conflicting writes", kind, name)
        return False


# ---------------------------------------------------------------------------------- pure helpers
def _instance_type(claim: dict[str, Any]) -> str | None:
    for requirement in (claim.get("spec") or {}).get("requirements") or []:
        if requirement.get("key") == INSTANCE_TYPE_LABEL and requirement.get("operator") == "In":
            values = requirement.get("values") or []
            if values:
                return str(values[0])
    return None


def _storage_gib(claim: dict[str, Any]) -> int:
    requested = ((claim.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
    if requested is None:
        return _DEFAULT_STORAGE_GIB
    text = str(requested)
    for suffix, factor in (
        ("Ti", 1024.0),
        ("Gi", 1.0),
        ("Mi", 1 / 1024),
        ("G", 1e9 / 2**30),
        ("T", 1e12 / 2**30),
    ):
        if text.endswith(suffix):
            return max(1, int(float(text[: -len(suffix)]) * factor + 0.999))
    return max(1, int(float(text) / 2**30 + 0.999))


def _capacity(size: VmSize, storage_gib: int, *, gpus: bool) -> dict[str, str]:
    capacity = {
        "cpu": str(size.vcpus),
        "memory": f"{size.memory_mib * 1024}Ki",
        "ephemeral-storage": f"{storage_gib}Gi",
        "pods": "110",
    }
    if size.gpus and gpus:
        capacity["nvidia.com/gpu"] = str(size.gpus)
    return capacity


def _allocatable(size: VmSize, storage_gib: int, *, gpus: bool) -> dict[str, str]:
    allocatable = _capacity(size, storage_gib, gpus=gpus)
    allocatable["cpu"] = f"{size.vcpus * 1000 - min(60 + 10 * size.vcpus, 1000)}m"
    allocatable["memory"] = f"{int(size.memory_mib * 0.9) * 1024}Ki"
    allocatable["ephemeral-storage"] = str(storage_gib * 1024**3 * 9 // 10)
    return allocatable


def _node_labels(size: VmSize, node_name: str, location: str, *, gpus: bool) -> dict[str, str]:
    zone = int(hashlib.sha256(node_name.encode()).hexdigest(), 16) % 3 + 1
    labels = {
        INSTANCE_TYPE_LABEL: size.name,
        "beta.kubernetes.io/instance-type": size.name,
        "kubernetes.io/hostname": node_name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "karpenter.sh/capacity-type": "on-demand",
        "topology.kubernetes.io/region": location,
        "topology.kubernetes.io/zone": f"{location}-{zone}",
    }
    if size.gpus and size.cuda_compute is not None and gpus:
        labels |= {
            "kubernetes.azure.com/accelerator": "nvidia",
            "nvidia.com/gpu.present": "true",
            "nvidia.com/gpu.product": str(size.gpu_product),
            "nvidia.com/gpu.count": str(size.gpus),
            "nvidia.com/gpu.memory": str(size.gpu_memory_mib),
            "nvidia.com/cuda.compute.major": str(size.cuda_compute[0]),
            "nvidia.com/cuda.compute.minor": str(size.cuda_compute[1]),
        }
    return labels


def _taint(taint: dict[str, Any]) -> dict[str, Any]:
    return {key: taint[key] for key in ("key", "value", "effect") if taint.get(key) is not None}


def _node_ready(ready: bool, now: str) -> dict[str, str]:
    return {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "KubeletReady" if ready else "KubeletNotReady",
        "message": "kubelet is posting ready status" if ready else "container runtime network not ready",
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }


def _set_condition(obj: dict[str, Any], kind: str, status: str, reason: str, message: str, now: str) -> None:
    conditions = obj.setdefault("status", {}).setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") == kind:
            if condition.get("status") != status:
                condition["lastTransitionTime"] = now
            condition.update(status=status, reason=reason, message=message)
            return
    conditions.append(
        {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": now}
    )
