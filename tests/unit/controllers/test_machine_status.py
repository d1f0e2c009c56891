"""The Machine reconciler's pure decisions: conditions, failure, events and requeue from observations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kaito.api.conditions import find_condition
from kaito.api.machine import Machine, MachineSpec, MachineStatus
from kaito.api.meta import ObjectMeta
from kaito.controllers.machine_status import (
    MachineObservation,
    MachineTimeouts,
    changed,
    format_duration,
    initialization_time_left,
    launch_requested,
    launch_time_left,
    node_initialization,
    plan_machine,
    registration_time_left,
    trim_node,
)
from kaito.provisioners.base import ObservedState

CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TIMEOUT = 1800.0


def _machine(status: MachineStatus | None = None) -> Machine:
    return Machine(
        metadata=ObjectMeta(name="m1", creation_timestamp=CREATED),
        spec=MachineSpec(instance_type="Standard_NC24ads_A100_v4"),
        status=status,
    )


def _node(*, ready: bool = True, gpus: str = "1", taints: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "metadata": {"name": "n1"},
        "spec": {
            "providerID": "azure:///vm/n1",
            "taints": [{"key": k, "effect": "NoSchedule"} for k in taints],
        },
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "False", "message": "cni not ready"}
            ],
            "capacity": {"nvidia.com/gpu": gpus},
            "allocatable": {"nvidia.com/gpu": gpus},
        },
    }


def _plan(observed: ObservedState, node: dict[str, Any] | None = None, *, after: float = 60.0, status=None):  # type: ignore[no-untyped-def]
    seen = MachineObservation(_machine(status), observed, node, CREATED + timedelta(seconds=after))
    return plan_machine(seen, MachineTimeouts(launch_timeout=TIMEOUT, poll_interval=10.0))


def _conditions(status: MachineStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions or []}


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (_node(), (True, "Initialized")),
        (_node(ready=False), (False, "NodeNotReady")),
        (_node(taints=["node.kubernetes.io/not-ready"]), (False, "StartupTaintsPresent")),
        (_node(taints=["node.cloudprovider.kubernetes.io/uninitialized"]), (False, "StartupTaintsPresent")),
        (_node(taints=["sku"]), (True, "Initialized")),  # the GPU taint is meant to stay
        (_node(gpus="0"), (False, "GPUsNotAllocatable")),
        ({"metadata": {"name": "bare"}}, (False, "NodeNotReady")),
    ],
)
def test_node_initialization(node: dict[str, Any], expected: tuple[bool, str]) -> None:
    initialized, reason, message = node_initialization(node)
    assert (initialized, reason) == expected
    assert message.startswith("Node ")
    # what the operator's cache keeps of a Node (no images, nodeInfo, addresses) reads the same
    status = {**node.get("status", {}), "images": [{"names": ["big"]}], "nodeInfo": {"kubeletVersion": "v1"}}
    kept = trim_node({**node, "status": status})
    assert set(kept["status"]) <= {"conditions", "capacity", "allocatable"}
    assert kept["metadata"] == node["metadata"] and kept.get("spec") == node.get("spec")
    assert node_initialization(kept) == (initialized, reason, message)
    assert trim_node(node) is node  # nothing to drop: kept as it is


@pytest.mark.parametrize(
    ("observed", "node", "conditions", "requeue"),
    [
        (
            ObservedState.provisioning("agent pool p", "Agent pool p is Creating."),
            None,
            {"Launched": ("Unknown", "Launching"), "Registered": ("Unknown", "AwaitingRegistration"),
             "Initialized": ("Unknown", "AwaitingReconciliation"), "Ready": ("Unknown", "Launching")},
            10.0,
        ),
        (
            ObservedState.running("agent pool p"),
            None,
            {"Launched": ("True", "Launched"), "Registered": ("Unknown", "AwaitingRegistration"),
             "Initialized": ("Unknown", "AwaitingReconciliation"),
             "Ready": ("Unknown", "AwaitingRegistration")},
            10.0,
        ),
        (
            ObservedState.running("agent pool p"),
            _node(ready=False),
            {"Launched": ("True", "Launched"), "Registered": ("True", "Registered"),
             "Initialized": ("Unknown", "NodeNotReady"), "Ready": ("Unknown", "NodeNotReady")},
            10.0,
        ),
        (
            ObservedState.running("agent pool p"),
            _node(),
            {"Launched": ("True", "Launched"), "Registered": ("True", "Registered"),
             "Initialized": ("True", "Initialized"), "Ready": ("True", "Ready")},
            None,
        ),
    ],
)  # fmt: skip
def test_conditions_follow_the_node_through_its_life(
    observed: ObservedState,
    node: dict[str, Any] | None,
    conditions: dict[str, tuple[str, str]],
    requeue: float | None,
) -> None:
    decision = _plan(observed, node)
    assert _conditions(decision.status) == conditions
    assert [c.type for c in decision.status.conditions or []] == [
        "Launched",
        "Registered",
        "Initialized",
        "Ready",
    ]
    assert decision.requeue_after == requeue
    assert not decision.delete_cloud_resource and not decision.status.failed


def test_a_ready_node_fills_node_name_provider_id_and_resources() -> None:
    status = _plan(ObservedState.running("p", provider_id="other"), _node()).status
    assert (status.node_name, status.provider_id) == ("n1", "azure:///vm/n1")
    assert status.capacity == status.allocatable == {"nvidia.com/gpu": "1"}


@pytest.mark.parametrize(
    ("observed", "after", "status", "reason"),
    [
        (ObservedState.failed("QuotaExceeded", "Quota of 0 cores."), 60.0, None, "QuotaExceeded"),
        (ObservedState.failed("SkuNotAvailable", "No such SKU here."), 60.0, None, "SkuNotAvailable"),
        (ObservedState.provisioning("agent pool p"), TIMEOUT + 1, None, "LaunchTimeout"),
        (ObservedState.gone("agent pool p"), TIMEOUT + 1, None, "LaunchTimeout"),
        (ObservedState.gone("agent pool p"), 60.0, "requested", "CloudResourceGone"),
    ],
)
def test_a_machine_fails_for_good_and_its_resource_is_deleted(
    observed: ObservedState, after: float, status: str | None, reason: str
) -> None:
    previous = _plan(ObservedState.provisioning("agent pool p")).status if status else None
    decision = _plan(observed, after=after, status=previous)
    assert decision.status.failure_reason == reason
    assert decision.delete_cloud_resource
    assert _conditions(decision.status)["Launched"] == ("False", reason)
    assert _conditions(decision.status)["Ready"] == ("False", reason)
    launched = find_condition(decision.status.conditions, "Launched")
    assert launched is not None and launched.message == decision.status.failure_message
    assert [(e.type, e.reason) for e in decision.events] == [("Warning", reason)]
    assert decision.requeue_after is None


def test_a_launched_node_that_never_registers_fails_after_the_registration_timeout() -> None:
    launched = _plan(ObservedState.running("NodeClaim ws1"), after=60.0)
    assert _plan(
        ObservedState.running("NodeClaim ws1"), after=60.0 + 899, status=launched.status
    ).requeue_after == (pytest.approx(1.0))
    late = _plan(ObservedState.running("NodeClaim ws1"), after=60.0 + 900, status=launched.status)
    assert late.status.failure_reason == "RegistrationTimeout" and late.delete_cloud_resource
    assert "15m0s" in (late.status.failure_message or "")


def test_a_node_lost_after_registering_is_not_a_registration_timeout() -> None:
    ready = _plan(ObservedState.running("p"), _node()).status
    lost = _plan(ObservedState.running("p"), None, after=5000.0, status=ready)
    assert not lost.status.failed
    assert registration_time_left(lost.status, CREATED, 900) is None


def test_the_launch_timeout_message_names_the_timeout_and_the_cloud_state() -> None:
    decision = _plan(ObservedState.provisioning("agent pool p", "Agent pool p is Creating."), after=TIMEOUT)
    assert decision.status.failure_message == (
        "The node was not launched within 30m0s of the Machine's creation (Agent pool p is Creating.); "
        "agent pool p is being deleted."
    )


def test_a_retryable_failure_does_not_fail_the_machine() -> None:
    decision = _plan(ObservedState.failed("InternalOperationError", "Try again.", retryable=True))
    assert not decision.status.failed and not decision.delete_cloud_resource


def test_the_requeue_before_launch_never_overshoots_the_timeout() -> None:
    assert _plan(ObservedState.provisioning("p"), after=TIMEOUT - 3).requeue_after == pytest.approx(3.0)


def test_events_record_failures_and_recoveries_not_the_steps() -> None:
    first = _plan(ObservedState.running("p"), _node())
    assert first.events == ()  # launched, registered, initialized, ready: the conditions tell it
    again = _plan(ObservedState.running("p"), _node(), after=120.0, status=first.status)
    assert again.events == ()
    assert not changed(first.status, again.status)
    lost = _plan(ObservedState.running("p"), None, after=180.0, status=first.status)
    assert [(e.type, e.reason) for e in lost.events] == [("Warning", "NodeNotFound")]
    assert changed(first.status, lost.status)
    back = _plan(ObservedState.running("p"), _node(), after=240.0, status=lost.status)
    assert [(e.type, e.reason) for e in back.events] == [("Normal", "Registered"), ("Normal", "Ready")]


def test_transition_times_move_only_when_a_status_changes() -> None:
    first = _plan(ObservedState.provisioning("p", "Creating"))
    later = _plan(ObservedState.provisioning("p", "Still creating"), after=300.0, status=first.status)
    before = find_condition(first.status.conditions, "Launched")
    after = find_condition(later.status.conditions, "Launched")
    assert before is not None and after is not None
    assert after.last_transition_time == before.last_transition_time and after.message == "Still creating"


@pytest.mark.parametrize(
    ("status", "requested"),
    [
        (None, False),
        (MachineStatus(), False),
        (_plan(ObservedState.provisioning("p")).status, True),
        (_plan(ObservedState.running("p")).status, True),
    ],
)
def test_launch_requested(status: MachineStatus | None, requested: bool) -> None:
    assert launch_requested(status) is requested


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.5, "0.5s"), (59, "59s"), (90, "1m30s"), (1800, "30m0s"), (3725, "1h2m5s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_launch_time_left_counts_from_creation() -> None:
    assert launch_time_left(_machine(), CREATED + timedelta(seconds=100), 300) == 200
    bare = Machine(metadata=ObjectMeta(name="x"), spec=MachineSpec(instance_type="Standard_NC6s_v3"))
    assert launch_time_left(bare, CREATED, 300) == 300


def _lost(ready_after: float = 60.0, lost_after: float = 120.0) -> MachineStatus:
    """A Machine whose Node registered and initialized, then disappeared at `lost_after`."""
    ready = _plan(ObservedState.running("p"), _node(), after=ready_after).status
    return _plan(ObservedState.running("p"), None, after=lost_after, status=ready).status


@pytest.mark.parametrize(
    ("since_lost", "failed", "requeue"),
    [(1.0, False, 10.0), (595.0, False, 5.0), (600.0, True, None)],
)
def test_a_node_lost_after_registering_fails_the_machine_after_the_node_lost_timeout(
    since_lost: float, failed: bool, requeue: float | None
) -> None:
    lost = _lost()
    assert _conditions(lost)["Registered"] == ("False", "NodeNotFound")
    later = _plan(ObservedState.running("p"), None, after=120.0 + since_lost, status=lost)
    assert later.status.failed is failed
    assert later.delete_cloud_resource is failed
    assert later.requeue_after == (pytest.approx(requeue) if requeue is not None else None)
    if failed:
        assert later.status.failure_reason == "NodeLost"
        assert later.status.failure_message == (
            "Node n1 of this Machine disappeared after registering and did not come back within 10m0s; "
            "p is being deleted so the Machine's owner can replace it."
        )
    else:
        assert _conditions(later.status)["Registered"] == ("False", "NodeNotFound")


def test_a_lost_node_that_comes_back_in_time_makes_the_machine_ready_again() -> None:
    back = _plan(ObservedState.running("p"), _node(), after=500.0, status=_lost())
    assert not back.status.failed
    assert _conditions(back.status)["Ready"] == ("True", "Ready")
    # and the timer starts afresh if it is lost again
    lost_again = _plan(ObservedState.running("p"), None, after=700.0, status=back.status)
    assert not _plan(ObservedState.running("p"), None, after=1200.0, status=lost_again.status).status.failed


@pytest.mark.parametrize(
    ("node", "why"),
    [
        (_node(gpus="0"), "reports nvidia.com/gpu allocatable '0'"),
        (_node(ready=False), "is not Ready"),
        (_node(taints=["node.kubernetes.io/not-ready"]), "still has start-up taints"),
    ],
)
def test_a_registered_node_that_never_initializes_fails_after_the_initialization_timeout(
    node: dict[str, Any], why: str
) -> None:
    registered = _plan(ObservedState.running("p"), node, after=60.0)
    assert initialization_time_left(registered.status, CREATED + timedelta(seconds=60), 900) == 900
    waiting = _plan(ObservedState.running("p"), node, after=60.0 + 898, status=registered.status)
    assert not waiting.status.failed and waiting.requeue_after == pytest.approx(2.0)
    late = _plan(ObservedState.running("p"), node, after=60.0 + 900, status=waiting.status)
    assert late.status.failure_reason == "InitializationTimeout" and late.delete_cloud_resource
    assert "did not initialize within 15m0s" in (late.status.failure_message or "")
    assert why in (late.status.failure_message or "")


def test_a_node_that_initialized_and_later_goes_not_ready_is_not_an_initialization_timeout() -> None:
    ready = _plan(ObservedState.running("p"), _node(), after=60.0).status
    sick = _plan(ObservedState.running("p"), _node(ready=False), after=120.0, status=ready).status
    much_later = _plan(ObservedState.running("p"), _node(ready=False), after=5000.0, status=sick)
    assert not much_later.status.failed
    assert _conditions(much_later.status)["Ready"][0] == "Unknown"
    assert initialization_time_left(sick, CREATED + timedelta(seconds=5000), 900) is None
