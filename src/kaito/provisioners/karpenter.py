"""The Karpenter provisioner: a Machine is a `karpenter.sh/v1` NodeClaim, written through kaito.ctrl's Client.

The claim's shape and the meaning of its status are the pure functions of
`kaito.provisioners.karpenter_claim`; this module is the thin async shell. Karpenter does the launching:
`create` writes the claim (AlreadyExists means an earlier call or an earlier process did: it is adopted),
`get` reads it back, `delete` deletes it (Karpenter's termination finalizer then removes the Node and the
instance; the claim is GONE once that finished). NodeClaims carry `kaito.sh/machine`, so the Machine
controller watches them (`watched_kinds`) and wakes the Machine on every status change.

Given the manager's cached client (`cache`), reads come from the NodeClaim informer the Machine controller
keeps anyway (one GET per look at a Machine was 3.6 GETs per Machine brought up): `get` reads the cache and
asks the server only on a miss, since a claim created a moment ago may not have reached the cache yet and
GONE after a create would fail the Machine. A claim read from the server (or returned by the create) while
the cache lacked it is kept until the cache holds that version or a newer one, so a later `get` never
answers from an older copy than an earlier one did (the Machine's status would step back and forth, a
write each way); otherwise a cached copy behind the server is harmless: the watch event that brings the
cache up to date wakes the Machine again.

`list()` lists the NodeClaims labelled with our node pool and `kaito.sh/machine` (the label selector does
the filtering server-side; `owned_nodeclaim` checks again); `delete_owned` deletes one by name.

API failures map onto the provisioner errors: 429 -> ThrottledError (Retry-After kept), 5xx and lost
connections -> RetryableError, a cluster without the NodeClaim CRD or a refused claim -> PermanentError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kaito import ctrl
from kaito.api import names
from kaito.api.machine import Machine
from kaito.provisioners.base import (
    ObservedState,
    OwnedResource,
    PermanentError,
    Provisioner,
    ProvisionerError,
    RetryableError,
    ThrottledError,
)
from kaito.provisioners.karpenter_claim import (
    LABEL_NODE_POOL,
    NODECLAIM_API_VERSION,
    NODECLAIM_KIND,
    KarpenterConfig,
    build_nodeclaim,
    nodeclaim_name,
    observe_nodeclaim,
    owned_nodeclaim,
    trim_nodeclaim,
)

__all__ = ["NODECLAIM", "KarpenterProvisioner", "classify_api_error"]

NODECLAIM = ctrl.GVK(NODECLAIM_API_VERSION, NODECLAIM_KIND)


def classify_api_error(exc: ctrl.CtrlError) -> ProvisionerError:
    """The provisioner error for a failed Kubernetes API call about a NodeClaim."""
    if isinstance(exc, ctrl.TooManyRequests):
        return ThrottledError("TooManyRequests", exc.message, retry_after=exc.retry_after)
    if isinstance(exc, ctrl.ServerError | ctrl.TransportError):
        return RetryableError(type(exc).__name__, str(exc))
    if isinstance(exc, ctrl.UnknownKind):
        return PermanentError(
            "NodeClaimCRDMissing",
            f"The cluster does not serve {NODECLAIM_KIND} in {NODECLAIM_API_VERSION} ({exc}); install "
            "Karpenter (v1 CRDs) or set the Machine's spec.provisioner to aks.",
        )
    if isinstance(exc, ctrl.ApiError):
        return PermanentError(
            exc.reason or "NodeClaimRejected", f"The API server refused the NodeClaim: {exc.message}"
        )
    return RetryableError(type(exc).__name__, str(exc))


class KarpenterProvisioner(Provisioner):
    """Machines as Karpenter NodeClaims."""

    name = names.PROVISIONER_KARPENTER

    def __init__(
        self,
        client: ctrl.Client,
        config: KarpenterConfig | None = None,
        *,
        cache: ctrl.CachedClient | None = None,
    ) -> None:
        self.client = client
        self.config = config or KarpenterConfig()
        self.cache = cache
        # claim name -> the copy the server gave us while the cache had none as new (see the module)
        self._read_ahead: dict[str, Mapping[str, Any]] = {}

    def _cached_claim(self, name: str) -> Mapping[str, Any] | None:
        """The NodeClaim from the synced cache unless the server already gave us a newer copy; None when
        there is no cache, it has not synced, or it does not hold the claim (yet)."""
        informer = self.cache.informer_serving(NODECLAIM, None) if self.cache is not None else None
        if informer is None:
            return None
        claim: Mapping[str, Any] | None = informer.store.get_object(name)
        ahead = self._read_ahead.get(name)
        if ahead is not None and claim is not None:
            if _older(claim, ahead):
                return ahead
            del self._read_ahead[name]  # the cache caught up
        return claim

    def _note_read(self, name: str, claim: Mapping[str, Any] | None) -> None:
        if self.cache is None:
            return
        if claim is None:
            self._read_ahead.pop(name, None)
        else:
            self._read_ahead[name] = trim_nodeclaim(claim)

    async def create(self, machine: Machine) -> ObservedState:
        claim = build_nodeclaim(machine, self.config)
        try:
            created = await self.client.create(claim)
        except ctrl.AlreadyExists:
            return await self.get(machine)
        except ctrl.CtrlError as exc:
            raise classify_api_error(exc) from exc
        self._note_read(claim["metadata"]["name"], created)
        return observe_nodeclaim(created, machine_name=machine.metadata.name or "")

    async def get(self, machine: Machine) -> ObservedState:
        name = machine.metadata.name or ""
        cached = self._cached_claim(nodeclaim_name(name))
        if cached is not None:
            return observe_nodeclaim(cached, machine_name=name)
        try:
            claim = await self.client.get(NODECLAIM, nodeclaim_name(name))
        except ctrl.NotFound:
            self._note_read(nodeclaim_name(name), None)
            return observe_nodeclaim(None, machine_name=name)
        except ctrl.CtrlError as exc:
            raise classify_api_error(exc) from exc
        self._note_read(nodeclaim_name(name), claim)
        return observe_nodeclaim(claim, machine_name=name)

    async def delete(self, machine: Machine) -> None:
        await self._delete_claim(nodeclaim_name(machine.metadata.name or ""))

    async def list(self) -> Sequence[OwnedResource]:
        selector = f"{LABEL_NODE_POOL}={self.config.node_pool},{names.LABEL_MACHINE}"
        reader: ctrl.Client | ctrl.CachedClient = self.cache if self.cache is not None else self.client
        try:
            claims = await reader.list(NODECLAIM, label_selector=selector)
        except ctrl.CtrlError as exc:
            raise classify_api_error(exc) from exc
        found = (owned_nodeclaim(claim, self.config.node_pool) for claim in claims.items)
        return [owned for owned in found if owned is not None]

    async def delete_owned(self, owned: OwnedResource) -> None:
        await self._delete_claim(owned.name)

    async def _delete_claim(self, name: str) -> None:
        self._read_ahead.pop(name, None)
        try:
            await self.client.delete(NODECLAIM, name)
        except ctrl.NotFound:
            return
        except ctrl.CtrlError as exc:
            raise classify_api_error(exc) from exc

    def matches(self, node: Mapping[str, Any], machine: Machine) -> bool:
        labels = (node.get("metadata") or {}).get("labels") or {}
        return (
            labels.get(names.LABEL_MACHINE) == machine.metadata.name
            and labels.get("karpenter.sh/nodepool") == self.config.node_pool
        )

    def watched_kinds(self) -> Sequence[tuple[str, str]]:
        return [(NODECLAIM_API_VERSION, NODECLAIM_KIND)]

    def cache_transform(
        self, kind: tuple[str, str]
    ) -> Callable[[Mapping[str, Any]], Mapping[str, Any]] | None:
        return trim_nodeclaim if kind == (NODECLAIM_API_VERSION, NODECLAIM_KIND) else None


def _older(cached: Mapping[str, Any], read: Mapping[str, Any]) -> bool:
    """Whether the cached copy of a claim is older than one read from the server: by resourceVersion, when
    both are numeric (the API server's are); otherwise the cache is taken as current."""
    versions = [str((c.get("metadata") or {}).get("resourceVersion") or "") for c in (cached, read)]
    return all(v.isdigit() for v in versions) and int(versions[0]) < int(versions[1])
