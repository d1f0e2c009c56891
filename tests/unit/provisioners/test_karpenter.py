"""The Karpenter provisioner's async shell over a scripted stand-in for kaito.ctrl's Client."""

from __future__ import annotations

from typing import Any

import pytest

from kaito import ctrl
from kaito.api.machine import Machine, MachineSpec
from kaito.api.meta import ObjectMeta
from kaito.ctrl.informer import SharedInformerFactory
from kaito.provisioners.base import PermanentError, Phase, ProvisionerError, RetryableError, ThrottledError
from kaito.provisioners.karpenter import NODECLAIM, KarpenterProvisioner, classify_api_error
from kaito.provisioners.karpenter_claim import KarpenterConfig, build_nodeclaim, nodeclaim_name

MACHINE = Machine(
    metadata=ObjectMeta(name="m1"),
    spec=MachineSpec(instance_type="Standard_NC24ads_A100_v4", provisioner="karpenter"),
)


class FakeClient:
    """create/get/delete of NodeClaims in a dict, with scripted errors."""

    def __init__(self) -> None:
        self.claims: dict[str, dict[str, Any]] = {}
        self.errors: list[ctrl.CtrlError] = []
        self.creates = 0

    def _raise(self) -> None:
        if self.errors:
            raise self.errors.pop(0)

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._raise()
        name = obj["metadata"]["name"]
        if name in self.claims:
            raise ctrl.AlreadyExists(409, "AlreadyExists", f"nodeclaims {name} already exists")
        self.creates += 1
        self.claims[name] = obj
        return obj

    async def get(self, kind: Any, name: str) -> dict[str, Any]:
        self._raise()
        if name not in self.claims:
            raise ctrl.NotFound(404, "NotFound", f"nodeclaims {name} not found")
        return self.claims[name]

    async def delete(self, kind: Any, name: str) -> dict[str, Any]:
        self._raise()
        if name not in self.claims:
            raise ctrl.NotFound(404, "NotFound", f"nodeclaims {name} not found")
        return self.claims.pop(name)


@pytest.fixture
def fake() -> FakeClient:
    return FakeClient()


@pytest.fixture
def karpenter(fake: FakeClient) -> KarpenterProvisioner:
    return KarpenterProvisioner(fake)  # type: ignore[arg-type]


async def test_create_writes_one_claim_and_adopts_it_on_a_second_call(
    karpenter: KarpenterProvisioner, fake: FakeClient
) -> None:
    assert (await karpenter.create(MACHINE)).phase is Phase.PENDING
    assert (await karpenter.create(MACHINE)).phase is Phase.PENDING
    assert fake.creates == 1 and list(fake.claims) == [nodeclaim_name("m1")]


async def test_get_and_delete(karpenter: KarpenterProvisioner, fake: FakeClient) -> None:
    assert (await karpenter.get(MACHINE)).phase is Phase.GONE
    await karpenter.create(MACHINE)
    await karpenter.delete(MACHINE)
    await karpenter.delete(MACHINE)  # already gone: success
    assert fake.claims == {}


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ctrl.TooManyRequests(429, "TooManyRequests", "slow", retry_after=4.0), ThrottledError),
        (ctrl.ServerError(503, "ServiceUnavailable", "down"), RetryableError),
        (ctrl.TransportError("connection refused"), RetryableError),
        (ctrl.UnknownKind("no NodeClaim"), PermanentError),
        (ctrl.Invalid(422, "Invalid", "spec.requirements: Too many"), PermanentError),
    ],
)
async def test_api_failures_become_provisioner_errors(
    karpenter: KarpenterProvisioner, fake: FakeClient, error: ctrl.CtrlError, kind: type[ProvisionerError]
) -> None:
    fake.errors.append(error)
    with pytest.raises(kind):
        await karpenter.get(MACHINE)


def test_a_missing_crd_says_what_to_install() -> None:
    error = classify_api_error(ctrl.UnknownKind("no NodeClaim in karpenter.sh/v1"))
    assert error.reason == "NodeClaimCRDMissing" and "install Karpenter" in error.message


def test_a_throttle_keeps_the_retry_after() -> None:
    error = classify_api_error(ctrl.TooManyRequests(429, "TooManyRequests", "slow", retry_after=4.0))
    assert isinstance(error, ThrottledError) and error.retry_after == 4.0


def test_matches_nodes_of_its_machine_and_node_pool(karpenter: KarpenterProvisioner) -> None:
    def node(**labels: str) -> dict[str, Any]:
        return {"metadata": {"labels": labels}}

    assert karpenter.matches(node(**{"kaito.sh/machine": "m1", "karpenter.sh/nodepool": "kaito"}), MACHINE)
    assert not karpenter.matches(
        node(**{"kaito.sh/machine": "m1", "karpenter.sh/nodepool": "default"}), MACHINE
    )
    assert not karpenter.matches(
        node(**{"kaito.sh/machine": "m2", "karpenter.sh/nodepool": "kaito"}), MACHINE
    )


def test_it_asks_to_watch_nodeclaims(karpenter: KarpenterProvisioner) -> None:
    assert list(karpenter.watched_kinds()) == [("karpenter.sh/v1", "NodeClaim")]


def synced_cache(fake: FakeClient, *claims: dict[str, Any]) -> ctrl.CachedClient:
    """The manager's cached client with a NodeClaim informer that has listed `claims`."""
    informers = SharedInformerFactory(fake)  # type: ignore[arg-type]
    informers.informer_for(NODECLAIM).replace(list(claims), "1")  # as its first list would
    return ctrl.CachedClient(fake, informers)  # type: ignore[arg-type]


async def test_get_reads_a_cached_claim_without_asking_the_server(fake: FakeClient) -> None:
    claim = build_nodeclaim(MACHINE, KarpenterConfig())
    claim["status"] = {"conditions": [{"type": "Launched", "status": "True"}], "nodeName": "n1"}
    fake.errors.append(ctrl.ServerError(500, "InternalError", "a GET would fail"))
    provisioner = KarpenterProvisioner(fake, cache=synced_cache(fake, claim))  # type: ignore[arg-type]
    observed = await provisioner.get(MACHINE)
    assert (observed.phase, observed.node_name) == (Phase.RUNNING, "n1")
    assert fake.errors  # the scripted error is still there: nothing was sent


async def test_a_claim_missing_from_the_cache_is_read_from_the_server(fake: FakeClient) -> None:
    provisioner = KarpenterProvisioner(fake, cache=synced_cache(fake))  # type: ignore[arg-type]
    await provisioner.create(MACHINE)  # the cache has not seen it yet: GONE would fail the Machine
    assert (await provisioner.get(MACHINE)).phase is Phase.PENDING
    fake.claims.clear()
    assert (await provisioner.get(MACHINE)).phase is Phase.GONE


async def test_the_cache_keeps_only_what_observing_a_claim_reads() -> None:
    karpenter = KarpenterProvisioner(FakeClient())  # type: ignore[arg-type]
    transform = karpenter.cache_transform((NODECLAIM.api_version, NODECLAIM.kind))
    assert transform is not None and karpenter.cache_transform(("v1", "Node")) is None
    claim = build_nodeclaim(MACHINE, KarpenterConfig())
    claim["status"] = {"providerID": "azure:///vm", "imageID": "/img", "capacity": {"cpu": "6"}}
    trimmed = transform(claim)
    assert set(trimmed) == {"apiVersion", "kind", "metadata", "status"}
    assert trimmed["status"] == {"providerID": "azure:///vm"}


async def test_a_cached_claim_older_than_one_read_from_the_server_is_not_believed(fake: FakeClient) -> None:
    claim = build_nodeclaim(MACHINE, KarpenterConfig())
    older = {**claim, "metadata": {**claim["metadata"], "resourceVersion": "5"}}
    cache = synced_cache(fake)
    provisioner = KarpenterProvisioner(fake, cache=cache)  # type: ignore[arg-type]
    launched = {"conditions": [{"type": "Launched", "status": "True"}], "nodeName": "n1"}
    fake.claims[claim["metadata"]["name"]] = {
        **claim,
        "metadata": {**claim["metadata"], "resourceVersion": "7"},
        "status": launched,
    }
    assert (await provisioner.get(MACHINE)).phase is Phase.RUNNING  # not cached yet: read from the server
    informer = cache.informer_serving(NODECLAIM, None)
    assert informer is not None
    informer.apply("ADDED", older)  # the cache now has an older copy (no status yet)
    fake.errors.append(ctrl.ServerError(500, "InternalError", "a GET would fail"))
    assert (await provisioner.get(MACHINE)).phase is Phase.RUNNING  # not stepped back to PENDING
    newer = {**claim, "metadata": {**claim["metadata"], "resourceVersion": "8"}}
    informer.apply("MODIFIED", newer)  # the cache is ahead now: it wins, and nothing is kept
    assert (await provisioner.get(MACHINE)).phase is Phase.PENDING
    assert provisioner._read_ahead == {} and fake.errors  # nothing was sent
