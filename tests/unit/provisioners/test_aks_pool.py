"""AKS decisions: pool names, the AgentPool body, what pool states and Azure errors mean."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError
from azure.core.rest import HttpRequest
from azure.mgmt.containerservice.models import AgentPool, AgentPoolManagedClusterAgentPoolProfileProperties

from kaito.api.machine import Machine, MachineSpec, Taint, WorkspaceReference
from kaito.api.meta import ObjectMeta
from kaito.provisioners.aks_pool import (
    POOL_NAME_PATTERN,
    build_agent_pool,
    classify_azure_error,
    classify_error_code,
    observe_pool,
    owned_pool,
    pool_name,
)
from kaito.provisioners.base import (
    CapacityError,
    OperationInProgress,
    OwnedResource,
    PermanentError,
    Phase,
    QuotaError,
    RetryableError,
    ThrottledError,
)


@pytest.mark.parametrize(
    ("machine", "pool"),
    [
        ("ws0123456af", "ws0123456af"),  # KAITO's names are valid pool names already
        ("gpu1", "gpu1"),
        ("abcdefghijkl", "abcdefghijkl"),
    ],
)
def test_valid_machine_names_are_used_as_pool_names(machine: str, pool: str) -> None:
    assert pool_name(machine) == pool


@pytest.mark.parametrize(
    "machine", ["gpu-node-1", "GPU1", "1gpu", "abcdefghijklm", "phi-3-mini-0", "---", "workspace.default.0"]
)
def test_other_names_hash_into_a_valid_deterministic_pool_name(machine: str) -> None:
    name = pool_name(machine)
    assert POOL_NAME_PATTERN.match(name), name
    assert pool_name(machine) == name
    assert pool_name(machine + "x") != name


def test_similar_names_do_not_collide() -> None:
    names = {pool_name(f"phi-3-{i}") for i in range(200)} | {pool_name("phi3-0"), pool_name("phi-30")}
    assert len(names) == 202


def _machine(**spec: Any) -> Machine:
    return Machine(
        metadata=ObjectMeta(name="gpu-node-1"),
        spec=MachineSpec(
            instance_type="Standard_NC24ads_A100_v4",
            workspace_ref=WorkspaceReference(namespace="team", name="phi-3"),
            **spec,
        ),
    )


def test_the_agent_pool_is_one_gpu_node_tied_to_its_machine_and_workspace() -> None:
    pool = build_agent_pool(
        _machine(
            os_disk_size_gb=300,
            node_labels={"team": "ml"},
            taints=[Taint(key="dedicated", value="llm", effect="NoExecute")],
        )
    )
    wire = json.loads(json.dumps(pool.as_dict()))["properties"]
    assert wire["count"] == 1 and wire["vmSize"] == "Standard_NC24ads_A100_v4"
    assert (wire["mode"], wire["type"], wire["osType"]) == ("User", "VirtualMachineScaleSets", "Linux")
    assert wire["osDiskSizeGB"] == 300 and wire["enableAutoScaling"] is False
    assert wire["nodeLabels"] == {
        "team": "ml",
        "kaito.sh/machine": "gpu-node-1",
        "kaito.sh/machine-type": "gpu",
        "kaito.sh/workspace": "phi-3",
        "kaito.sh/workspacenamespace": "team",
    }
    assert wire["nodeTaints"] == ["sku=gpu:NoSchedule", "dedicated=llm:NoExecute"]
    assert wire["tags"]["kaito.sh-machine"] == "gpu-node-1"
    assert wire["tags"]["kaito.sh-workspace"] == "team.phi-3"


def test_without_a_disk_size_the_pool_takes_the_providers_default() -> None:
    wire = build_agent_pool(_machine()).as_dict()["properties"]
    assert "osDiskSizeGB" not in wire


def _pool(state: str, error: dict[str, str] | None = None) -> AgentPool:
    properties: dict[str, Any] = {"provisioningState": state}
    if error is not None:
        properties["status"] = {"provisioningError": error}
    return AgentPool({"name": "gpu1", "properties": properties})


@pytest.mark.parametrize(
    ("pool", "phase", "reason"),
    [
        (_pool("Creating"), Phase.PROVISIONING, None),
        (_pool("Updating"), Phase.PROVISIONING, None),
        (_pool("Succeeded"), Phase.RUNNING, None),
        (_pool("Deleting"), Phase.DELETING, None),
        (_pool("Failed", {"code": "QuotaExceeded", "message": "quota"}), Phase.FAILED, "QuotaExceeded"),
        (_pool("Failed", {"code": "SkuNotAvailable", "message": "sku"}), Phase.FAILED, "SkuNotAvailable"),
        (_pool("Failed"), Phase.FAILED, "ProvisioningFailed"),
    ],
)
def test_observe_pool(pool: AgentPool, phase: Phase, reason: str | None) -> None:
    observed = observe_pool(pool)
    assert observed.phase is phase and observed.reason == reason
    assert observed.resource == "agent pool gpu1"


def test_a_running_pool_names_its_node_label() -> None:
    assert observe_pool(_pool("Succeeded")).node_labels == {"agentpool": "gpu1"}


def test_a_pool_failed_by_a_transient_error_is_retryable() -> None:
    observed = observe_pool(_pool("Failed", {"code": "InternalOperationError", "message": "oops"}))
    assert observed.retryable


@pytest.mark.parametrize(
    ("code", "message", "status", "kind"),
    [
        (
            "QuotaExceeded",
            "Operation could not be completed as it results in exceeding quota",
            200,
            QuotaError,
        ),
        ("OperationNotAllowed", "exceeding approved Total Regional Cores quota", 400, QuotaError),
        ("AllocationFailed", "Allocation failed.", 200, CapacityError),
        ("ZonalAllocationFailed", "Allocation failed in zone 1.", 200, CapacityError),
        ("SkuNotAvailable", "The requested VM size is not available", 200, CapacityError),
        ("OverconstrainedAllocationRequest", "too many constraints", 200, CapacityError),
        (
            "OperationNotAllowed",
            "there's an in progress create node pool operation",
            409,
            OperationInProgress,
        ),
        ("TooManyRequests", "throttled", 429, ThrottledError),
        ("", "", 429, ThrottledError),
        ("ServiceUnavailable", "later", 503, RetryableError),
        ("InternalOperationError", "oops", 200, RetryableError),
        ("InvalidParameter", "bad pool name", 400, PermanentError),
        ("PropertyChangeNotAllowed", "immutable", 400, PermanentError),
    ],
)
def test_errors_are_classified_by_code_not_status(code: str, message: str, status: int, kind: type) -> None:
    error = classify_error_code(code, message, status=status)
    assert type(error) is kind
    assert error.message == message


class _Response:
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.status_code, self.headers, self.reason = status, headers or {}, "reason"
        self.request = HttpRequest("GET", "https://arm.example/")
        self.content_type = "application/json"
        self._body = json.dumps(body).encode()

    def body(self) -> bytes:
        return self._body

    def text(self, encoding: str | None = None) -> str:
        return self._body.decode()


def test_a_429_carries_its_retry_after() -> None:
    exc = HttpResponseError(
        response=_Response(
            429, {"error": {"code": "TooManyRequests", "message": "slow"}}, {"Retry-After": "7"}
        )
    )
    error = classify_azure_error(exc)
    assert isinstance(error, ThrottledError) and error.retry_after == 7.0


def test_a_failed_long_running_operation_with_status_200_is_classified_by_its_code() -> None:
    exc = HttpResponseError(
        response=_Response(200, {"error": {"code": "QuotaExceeded", "message": "No cores."}})
    )
    error = classify_azure_error(exc)
    assert isinstance(error, QuotaError) and error.message == "No cores."


def test_no_answer_at_all_is_retryable() -> None:
    error = classify_azure_error(ServiceRequestError("connection refused"))
    assert isinstance(error, RetryableError) and error.reason == "ConnectionFailed"


def _tagged_pool(tags: dict[str, str] | None, state: str = "Succeeded") -> AgentPool:
    pool = AgentPool(properties=AgentPoolManagedClusterAgentPoolProfileProperties(tags=tags))
    pool.name = "gpunode1"
    pool.properties.provisioning_state = state
    return pool


def test_a_pool_built_for_a_machine_is_recognised_as_ours_with_its_creation_time() -> None:
    made = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
    body = build_agent_pool(_machine(), created_at=made)
    assert body.tags is not None and body.tags["kaito.sh-created-at"] == "2026-03-01T12:00:05Z"
    owned = owned_pool(_tagged_pool(dict(body.tags)))
    assert owned == OwnedResource("gpunode1", "gpu-node-1", made, False, "agent pool gpunode1")


@pytest.mark.parametrize(
    ("tags", "state", "expected"),
    [
        (None, "Succeeded", None),  # a system pool: no tags at all
        ({"kaito.sh-machine": "m"}, "Succeeded", None),  # not created by kaito
        ({"kaito.sh-created-by": "someone-else", "kaito.sh-machine": "m"}, "Succeeded", None),
        ({"kaito.sh-created-by": "kaito"}, "Succeeded", None),  # no Machine named
        (
            {"kaito.sh-created-by": "kaito", "kaito.sh-machine": "m"},
            "Deleting",
            OwnedResource("gpunode1", "m", None, True, "agent pool gpunode1"),
        ),
        (  # an unreadable creation time: aged from when the sweep first sees it
            {"kaito.sh-created-by": "kaito", "kaito.sh-machine": "m", "kaito.sh-created-at": "yesterday"},
            "Creating",
            OwnedResource("gpunode1", "m", None, False, "agent pool gpunode1"),
        ),
    ],
)
def test_owned_pool_only_claims_pools_kaito_tagged(
    tags: dict[str, str] | None, state: str, expected: OwnedResource | None
) -> None:
    assert owned_pool(_tagged_pool(tags, state)) == expected


@pytest.mark.parametrize(
    ("family", "os_sku"), [("ubuntu", "Ubuntu"), ("azurelinux", "AzureLinux"), (None, None)]
)
def test_the_node_image_family_becomes_the_pools_os_sku(family: str | None, os_sku: str | None) -> None:
    assert build_agent_pool(_machine(image_family=family)).os_sku == os_sku
