"""The provisioner contract: observed states, the error hierarchy and the registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from kaito.api.machine import Machine, MachineSpec
from kaito.api.meta import ObjectMeta
from kaito.provisioners.base import (
    CapacityError,
    ObservedState,
    OperationInProgress,
    OwnedResource,
    PermanentError,
    Phase,
    Provisioner,
    ProvisionerRegistry,
    QuotaError,
    RetryableError,
    ThrottledError,
    UnknownProvisioner,
)


class Named(Provisioner):
    def __init__(self, name: str) -> None:
        self.name = name  # type: ignore[misc]
        self.closed = False

    async def create(self, machine: Machine) -> ObservedState:
        return ObservedState.provisioning()

    async def get(self, machine: Machine) -> ObservedState:
        return ObservedState.gone()

    async def delete(self, machine: Machine) -> None:
        return None

    def matches(self, node: Mapping[str, Any], machine: Machine) -> bool:
        return False

    async def list(self) -> Sequence[OwnedResource]:
        return []

    async def delete_owned(self, owned: OwnedResource) -> None:
        return None

    async def close(self) -> None:
        self.closed = True


def _machine(provisioner: str | None = None) -> Machine:
    return Machine(
        metadata=ObjectMeta(name="m"),
        spec=MachineSpec(instance_type="Standard_NC6s_v3", provisioner=provisioner),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("state", "phase", "exists"),
    [
        (ObservedState.gone(), Phase.GONE, False),
        (ObservedState.pending(), Phase.PENDING, True),
        (ObservedState.provisioning(), Phase.PROVISIONING, True),
        (ObservedState.running(provider_id="azure:///x"), Phase.RUNNING, True),
        (ObservedState.failed("QuotaExceeded", "no"), Phase.FAILED, True),
        (ObservedState.deleting(), Phase.DELETING, True),
    ],
)
def test_observed_states(state: ObservedState, phase: Phase, exists: bool) -> None:
    assert state.phase is phase and state.exists is exists


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (RetryableError("ServiceUnavailable", "later", retry_after=3), True),
        (ThrottledError("TooManyRequests", "slow down"), True),
        (OperationInProgress("OperationNotAllowed", "busy"), True),
        (CapacityError("SkuNotAvailable", "none"), False),
        (QuotaError("QuotaExceeded", "none"), False),
        (PermanentError("InvalidParameter", "bad"), False),
    ],
)
def test_errors_say_whether_retrying_helps(error: RetryableError, retryable: bool) -> None:
    assert error.retryable is retryable
    assert str(error) == f"{error.reason}: {error.message}"


async def test_the_registry_picks_the_machines_provisioner_or_the_default() -> None:
    aks, karpenter = Named("aks"), Named("karpenter")
    registry = ProvisionerRegistry([aks, karpenter], default="karpenter")
    assert registry.for_machine(_machine()) is karpenter
    assert registry.for_machine(_machine("aks")) is aks
    assert registry.names == ["aks", "karpenter"]
    await registry.close()
    assert aks.closed and karpenter.closed


def test_a_single_provisioner_is_the_default() -> None:
    only = Named("aks")
    assert ProvisionerRegistry([only]).for_machine(_machine()) is only


def test_an_unknown_name_is_a_sentence_naming_the_field_and_the_choices() -> None:
    registry = ProvisionerRegistry([Named("aks")])
    with pytest.raises(UnknownProvisioner) as caught:
        registry.for_machine(_machine("karpenter"))
    assert caught.value.message == (
        "spec.provisioner is 'karpenter', but this controller runs only 'aks'; set spec.provisioner to "
        "one of them or leave it unset for the default ('aks')."
    )


@pytest.mark.parametrize(
    ("provisioners", "default", "message"),
    [
        ([], None, "at least one"),
        (["aks", "aks"], None, "two provisioners are named 'aks'"),
        (["aks", "karpenter"], None, "name the default"),
        (["aks"], "karpenter", "default provisioner 'karpenter' is not registered"),
    ],
)
def test_the_registry_refuses_ambiguous_setups(
    provisioners: list[str], default: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ProvisionerRegistry([Named(n) for n in provisioners], default=default)
