"""The ARM fault knobs: request faults are consumed one request at a time, operation faults as specified."""

from __future__ import annotations

import pytest

from kaito.sim.cloud.arm.faults import ArmFaults
from kaito.sim.cloud.vmsizes import find_vm_size


def test_request_faults_are_consumed_in_order_and_respect_the_method_filter() -> None:
    faults = ArmFaults()
    faults.throttle(2, retry_after_s=3, method="put")
    faults.server_errors(1, status=500)
    first = faults.take_request_fault("GET")
    assert first is not None and (first.status, first.code) == (500, "InternalServerError")
    assert faults.take_request_fault("GET") is None
    throttled = [faults.take_request_fault("PUT") for _ in range(3)]
    assert [(e.status, e.headers.get("Retry-After")) if e else None for e in throttled] == [
        (429, "3"),
        (429, "3"),
        None,
    ]


def test_server_errors_carry_retry_after_only_when_asked() -> None:
    faults = ArmFaults()
    faults.server_errors(1)
    faults.server_errors(1, status=504, retry_after_s=2)
    plain, timed = faults.take_request_fault("GET"), faults.take_request_fault("GET")
    assert plain is not None and timed is not None
    assert (plain.status, plain.code, plain.headers) == (503, "ServiceUnavailable", {})
    assert (timed.status, timed.code, timed.headers) == (504, "GatewayTimeout", {"Retry-After": "2"})


def test_allocation_failures_count_down_per_size() -> None:
    faults = ArmFaults()
    a100, t4 = find_vm_size("Standard_NC24ads_A100_v4"), find_vm_size("Standard_NC4as_T4_v3")
    assert a100 is not None and t4 is not None
    faults.allocation_failures(2, vm_size="Standard_NC24ads_A100_v4")
    assert faults.operation_failure(t4, location="eastus") is None
    codes = [faults.operation_failure(a100, location="eastus") for _ in range(3)]
    assert [e.code if e else None for e in codes] == ["AllocationFailed", "AllocationFailed", None]


def test_quota_applies_to_the_whole_vm_family() -> None:
    faults = ArmFaults()
    faults.quota("Standard_NC24ads_A100_v4", limit_vcpus=96)
    bigger = find_vm_size("Standard_NC96ads_A100_v4")
    assert bigger is not None
    quota = faults.quota_for(bigger)
    assert quota is not None and (quota.family, quota.limit_vcpus) == ("StandardNCADSA100v4Family", 96)


def test_clear_removes_every_fault() -> None:
    faults = ArmFaults()
    faults.throttle(5)
    faults.sku_not_available("Standard_NC6s_v3")
    faults.nodes_never_ready = True
    faults.provisioning_s = 9
    faults.clear()
    size = find_vm_size("Standard_NC6s_v3")
    assert size is not None
    assert faults.take_request_fault("GET") is None
    assert faults.operation_failure(size, location="eastus") is None
    assert (faults.nodes_never_ready, faults.provisioning_s) == (False, None)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f.throttle(0), "requests is 0"),
        (lambda f: f.throttle(1, retry_after_s=-1), "retry_after_s is -1"),
        (lambda f: f.server_errors(1, status=404), "status is 404"),
        (
            lambda f: f.quota("Standard_Nope", limit_vcpus=1),
            "'Standard_Nope' is not in the sim's VM size catalogue",
        ),
        (lambda f: f.quota("Standard_D4s_v3", limit_vcpus=-4), "limit_vcpus is -4"),
        (lambda f: f.allocation_failures(0), "operations is 0"),
    ],
)
def test_bad_knob_settings_are_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(ArmFaults())  # type: ignore[operator]
