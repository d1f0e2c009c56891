"""ARM error responses: the wire envelope and Azure's own sentences for capacity failures."""

from __future__ import annotations

from kaito.sim.cloud.arm.errors import ArmError, allocation_failed, quota_exceeded, sku_not_available


def test_error_body_is_arms_envelope_and_headers_are_kept() -> None:
    error = ArmError(429, "TooManyRequests", "slow down", headers={"Retry-After": "3"})
    assert error.body() == {"error": {"code": "TooManyRequests", "message": "slow down"}}
    assert error.detail() == {"code": "TooManyRequests", "message": "slow down"}
    assert (error.status, error.headers, str(error)) == (
        429,
        {"Retry-After": "3"},
        "(TooManyRequests) slow down",
    )


def test_quota_message_names_family_region_and_the_numbers() -> None:
    error = quota_exceeded(
        cluster="aks",
        node_resource_group="MC_rg_aks_eastus",
        family="StandardNCADSA100v4Family",
        location="eastus",
        limit=24,
        usage=24,
        required=48,
    )
    assert error.code == "QuotaExceeded"
    for fragment in (
        "container service aks in resource group MC_rg_aks_eastus",
        "exceeding approved StandardNCADSA100v4Family Cores quota",
        "Location: eastus, Current Limit: 24, Current Usage: 24, Additional Required: 48",
        "(Minimum) New Limit Required: 72",
    ):
        assert fragment in error.message


def test_capacity_errors_carry_computes_codes() -> None:
    sku = sku_not_available(vm_size="Standard_ND96isr_H200_v5", location="westus")
    assert sku.code == "SkuNotAvailable"
    assert "Standard_ND96isr_H200_v5" in sku.message and "location 'westus'" in sku.message
    assert allocation_failed().code == "AllocationFailed"
