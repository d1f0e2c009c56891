"""The Machine kind: wire names (providerID, osDiskSizeGB), int-or-string capacity, failure state."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kaito.api.machine import Machine, MachineList, MachineSpec, MachineStatus, Taint, WorkspaceReference
from kaito.api.meta import ObjectMeta

MACHINE: dict[str, Any] = {
    "apiVersion": "kaito.sh/v1beta1",
    "kind": "Machine",
    "metadata": {
        "name": "ws7c3a9e1f0",
        "labels": {"kaito.sh/workspace": "phi", "kaito.sh/workspacenamespace": "default"},
        "finalizers": ["kaito.sh/machine-cleanup"],
    },
    "spec": {
        "instanceType": "Standard_NC24ads_A100_v4",
        "provisioner": "aks",
        "nodeLabels": {"kaito.sh/machine": "ws7c3a9e1f0"},
        "taints": [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}],
        "osDiskSizeGB": 300,
        "workspaceRef": {"namespace": "default", "name": "phi", "uid": "u-1"},
    },
    "status": {
        "nodeName": "aks-ws7c3a9e1f0-12345678-vmss000000",
        "providerID": "azure:///subscriptions/s/resourceGroups/mc/providers/Microsoft.Compute/"
        "virtualMachineScaleSets/aks-ws7c3a9e1f0-12345678-vmss/virtualMachines/0",
        "capacity": {"cpu": "24", "memory": "220Gi", "nvidia.com/gpu": 1},
        "allocatable": {"cpu": "23900m", "nvidia.com/gpu": 1},
        "conditions": [
            {
                "type": t,
                "status": "True",
                "lastTransitionTime": "2024-05-01T12:00:00Z",
                "reason": f"{t}Done",
                "message": "",
            }
            for t in ("Launched", "Registered", "Initialized", "Ready")
        ],
    },
}


def test_machine_round_trips_with_kubernetes_wire_names() -> None:
    machine = Machine.model_validate(MACHINE)
    assert machine.to_wire() == MACHINE
    assert machine.spec.os_disk_size_gb == 300
    assert machine.status is not None and machine.status.provider_id is not None
    assert machine.status.capacity == {"cpu": "24", "memory": "220Gi", "nvidia.com/gpu": 1}
    assert not machine.status.failed


def test_a_machine_built_in_python() -> None:
    machine = Machine(
        metadata=ObjectMeta(name="m1"),
        spec=MachineSpec(
            instance_type="Standard_NC6s_v3",
            provisioner="karpenter",
            taints=[Taint(key="sku", value="gpu", effect="NoSchedule")],
            workspace_ref=WorkspaceReference(namespace="default", name="phi"),
        ),
    )
    assert machine.to_wire()["spec"] == {
        "instanceType": "Standard_NC6s_v3",
        "provisioner": "karpenter",
        "taints": [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}],
        "workspaceRef": {"namespace": "default", "name": "phi"},
    }
    assert machine.to_wire()["apiVersion"] == "kaito.sh/v1beta1"


def test_failed_machine_says_why() -> None:
    status = MachineStatus(
        failure_reason="QuotaExceeded",
        failure_message="Operation could not be completed as it results in exceeding approved "
        "standardNCFamily Cores quota.",
    )
    assert status.failed
    assert status.to_wire()["failureReason"] == "QuotaExceeded"


@pytest.mark.parametrize(
    "spec",
    [
        {"instanceType": ""},
        {"instanceType": "Standard_NC6s_v3", "provisioner": "gke"},
        {"instanceType": "Standard_NC6s_v3", "taints": [{"key": "sku", "effect": "Sometimes"}]},
        {"instanceType": "Standard_NC6s_v3", "osDiskSizeGB": 0},
        {"provisioner": "aks"},
    ],
)
def test_invalid_specs_are_refused(spec: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        MachineSpec.model_validate(spec)


def test_machine_list() -> None:
    data = {"apiVersion": "kaito.sh/v1beta1", "kind": "MachineList", "metadata": {}, "items": [MACHINE]}
    assert MachineList.model_validate(data).to_wire() == data
