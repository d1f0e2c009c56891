"""The AKS provisioner's async shell over a scripted stand-in for the SDK's agent_pools operations.

(The real SDK against the sim's ARM endpoint is exercised by tests/integration/machine.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.mgmt.containerservice.models import AgentPool

from kaito.api.machine import Machine, MachineSpec
from kaito.api.meta import ObjectMeta
from kaito.ctrl.testing import FakeClock
from kaito.provisioners.aks import AksConfig, AksProvisioner, StaticTokenCredential
from kaito.provisioners.base import Phase, QuotaError, ThrottledError

CONFIG = AksConfig(subscription_id="sub", resource_group="rg", cluster_name="aks")


class _Response:
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self.status_code, self.headers, self.reason = status, headers or {}, "reason"
        self.request = HttpRequest("PUT", "https://arm.example/")
        self.content_type = "application/json"
        self._body = json.dumps({"error": {"code": code, "message": message}}).encode()

    def body(self) -> bytes:
        return self._body

    def text(self, encoding: str | None = None) -> str:
        return self._body.decode()


def _error(
    cls: type[HttpResponseError], status: int, code: str, message: str, **headers: str
) -> HttpResponseError:
    return cls(response=_Response(status, code, message, headers))


class _Done:
    def __init__(self, value: Any) -> None:
        self.value = value

    async def result(self) -> Any:
        return self.value


class FakeAgentPools:
    """agent_pools of one cluster: a dict of pool states plus scripted errors per verb."""

    def __init__(self) -> None:
        self.pools: dict[str, str] = {}
        self.errors: dict[str, list[Exception]] = {"get": [], "put": [], "delete": []}
        self.calls: list[tuple[str, str]] = []

    def _raise(self, verb: str) -> None:
        if self.errors[verb]:
            raise self.errors[verb].pop(0)

    async def get(self, rg: str, cluster: str, name: str) -> AgentPool:
        self.calls.append(("get", name))
        self._raise("get")
        if name not in self.pools:
            raise _error(ResourceNotFoundError, 404, "NotFound", f"no pool {name}")
        return AgentPool({"name": name, "properties": {"provisioningState": self.pools[name]}})

    async def begin_create_or_update(
        self, rg: str, cluster: str, name: str, pool: AgentPool, *, polling: bool
    ) -> _Done:
        assert polling is False, "the provisioner must never wait for the operation"
        self.calls.append(("put", name))
        self._raise("put")
        self.pools[name] = "Creating"
        return _Done(AgentPool({"name": name, "properties": {"provisioningState": "Creating"}}))

    async def begin_delete(self, rg: str, cluster: str, name: str, *, polling: bool) -> _Done:
        assert polling is False
        self.calls.append(("delete", name))
        self._raise("delete")
        if name not in self.pools:
            raise _error(ResourceNotFoundError, 404, "NotFound", f"no pool {name}")
        self.pools[name] = "Deleting"
        return _Done(None)


class FakeClient:
    def __init__(self) -> None:
        self.agent_pools = FakeAgentPools()

    async def close(self) -> None:
        return None


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake() -> FakeClient:
    return FakeClient()


@pytest.fixture
def aks(fake: FakeClient, clock: FakeClock) -> AksProvisioner:
    return AksProvisioner(CONFIG, StaticTokenCredential(), client=fake, clock=clock)  # type: ignore[arg-type]


MACHINE = Machine(
    metadata=ObjectMeta(name="gpu1"), spec=MachineSpec(instance_type="Standard_NC24ads_A100_v4")
)


async def test_create_starts_the_operation_and_a_second_create_finds_it(
    aks: AksProvisioner, fake: FakeClient
) -> None:
    first = await aks.create(MACHINE)
    second = await aks.create(MACHINE)
    assert first.phase is second.phase is Phase.PROVISIONING
    assert [verb for verb, _ in fake.agent_pools.calls].count("put") == 1


async def test_a_put_refused_because_our_create_is_running_adopts_it(
    aks: AksProvisioner, fake: FakeClient
) -> None:
    fake.agent_pools.errors["get"].append(_error(ResourceNotFoundError, 404, "NotFound", "not yet"))
    fake.agent_pools.errors["put"].append(
        _error(
            ResourceExistsError,
            409,
            "OperationNotAllowed",
            "Operation is not allowed because there's an in progress create node pool operation",
        )
    )
    fake.agent_pools.pools["gpu1"] = "Creating"
    observed = await aks.create(MACHINE)
    assert observed.phase is Phase.PROVISIONING


async def test_a_synchronous_quota_refusal_raises_a_quota_error(
    aks: AksProvisioner, fake: FakeClient
) -> None:
    fake.agent_pools.errors["put"].append(_error(HttpResponseError, 400, "QuotaExceeded", "No cores left."))
    with pytest.raises(QuotaError, match="No cores left"):
        await aks.create(MACHINE)


@pytest.mark.parametrize(
    ("state", "phase"), [(None, Phase.GONE), ("Succeeded", Phase.RUNNING), ("Deleting", Phase.DELETING)]
)
async def test_get_observes_the_pool(
    aks: AksProvisioner, fake: FakeClient, state: str | None, phase: Phase
) -> None:
    if state is not None:
        fake.agent_pools.pools["gpu1"] = state
    assert (await aks.get(MACHINE)).phase is phase


async def test_delete_is_idempotent(aks: AksProvisioner, fake: FakeClient) -> None:
    await aks.delete(MACHINE)  # nothing there: success
    await aks.create(MACHINE)
    await aks.delete(MACHINE)
    assert fake.agent_pools.pools["gpu1"] == "Deleting"


async def test_after_a_429_calls_wait_out_the_retry_after_without_touching_arm(
    aks: AksProvisioner, fake: FakeClient, clock: FakeClock
) -> None:
    fake.agent_pools.errors["get"].append(
        _error(HttpResponseError, 429, "TooManyRequests", "Slow down.", **{"Retry-After": "10"})
    )
    with pytest.raises(ThrottledError) as first:
        await aks.get(MACHINE)
    assert first.value.retry_after == 10.0 and aks.throttled == 1
    calls = len(fake.agent_pools.calls)

    await clock.advance(4)
    with pytest.raises(ThrottledError) as early:
        await aks.create(MACHINE)
    assert early.value.retry_after == pytest.approx(6.0)
    assert len(fake.agent_pools.calls) == calls and aks.throttled == 1

    await clock.advance(6)
    assert (await aks.get(MACHINE)).phase is Phase.GONE


def test_matches_the_node_of_its_pool_and_machine(aks: AksProvisioner) -> None:
    def node(**labels: str) -> dict[str, Any]:
        return {"metadata": {"name": "n", "labels": labels}}

    assert aks.matches(node(agentpool="gpu1", **{"kaito.sh/machine": "gpu1"}), MACHINE)
    assert not aks.matches(node(agentpool="other", **{"kaito.sh/machine": "gpu1"}), MACHINE)
    assert not aks.matches(node(agentpool="gpu1"), MACHINE)


@pytest.mark.parametrize(
    ("config", "kwargs"),
    [
        (CONFIG, {}),
        (
            AksConfig(
                "s", "rg", "c", base_url="https://127.0.0.1:1", connection_verify="/ca.pem", retry_total=0
            ),
            {"base_url": "https://127.0.0.1:1", "connection_verify": "/ca.pem", "retry_total": 0},
        ),
    ],
)
def test_config_client_kwargs(config: AksConfig, kwargs: dict[str, Any]) -> None:
    assert config.client_kwargs() == kwargs


def test_config_refuses_an_empty_cluster_name() -> None:
    with pytest.raises(ValueError, match="cluster_name is empty"):
        AksConfig("sub", "rg", "")


async def test_the_static_credential_hands_out_its_token() -> None:
    token = await StaticTokenCredential("t").get_token("https://management.azure.com/.default")
    assert token.token == "t"


@pytest.mark.parametrize(
    ("env", "credential"),
    [
        (
            {"AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
             "AZURE_TENANT_ID": "tenant", "AZURE_CLIENT_ID": "client"},
            "WorkloadIdentityCredential",
        ),
        ({}, "DefaultAzureCredential"),
    ],
)  # fmt: skip
async def test_in_cluster_credentials_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], credential: str
) -> None:
    monkeypatch.delenv("AZURE_FEDERATED_TOKEN_FILE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    provisioner = AksProvisioner.from_environment(CONFIG)
    try:
        assert type(provisioner.credential).__name__ == credential
    finally:
        await provisioner.close()
