"""Karpenter decisions: the NodeClaim for a Machine and what a NodeClaim's status means."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from kaito.api.machine import Machine, MachineSpec, Taint, WorkspaceReference
from kaito.api.meta import ObjectMeta
from kaito.provisioners.base import OwnedResource, Phase
from kaito.provisioners.karpenter_claim import (
    KarpenterConfig,
    build_nodeclaim,
    nodeclaim_name,
    observe_nodeclaim,
    owned_nodeclaim,
    trim_nodeclaim,
)


def _machine(instance_type: str = "Standard_NC96ads_A100_v4", **spec: Any) -> Machine:
    return Machine(
        metadata=ObjectMeta(name="phi-3-0"),
        spec=MachineSpec(
            instance_type=instance_type,
            provisioner="karpenter",
            workspace_ref=WorkspaceReference(namespace="team", name="phi-3"),
            **spec,
        ),
    )


def test_claim_names_are_kaitos_ws_plus_nine_hex_and_deterministic() -> None:
    name = nodeclaim_name("phi-3-0")
    assert re.fullmatch(r"ws[0-9a-f]{9}", name)
    assert nodeclaim_name("phi-3-0") == name != nodeclaim_name("phi-3-1")


def test_the_claim_pins_the_instance_type_requests_gpus_and_disk_and_cannot_be_disrupted() -> None:
    claim = build_nodeclaim(
        _machine(os_disk_size_gb=300, taints=[Taint(key="dedicated", value="llm", effect="NoSchedule")]),
        KarpenterConfig(node_class_name="gpu-ubuntu"),
    )
    meta, spec = claim["metadata"], claim["spec"]
    assert (claim["apiVersion"], claim["kind"]) == ("karpenter.sh/v1", "NodeClaim")
    assert meta["name"] == nodeclaim_name("phi-3-0")
    assert meta["labels"] == {
        "karpenter.sh/nodepool": "kaito",
        "kaito.sh/machine": "phi-3-0",
        "kaito.sh/machine-type": "gpu",
        "kaito.sh/workspace": "phi-3",
        "kaito.sh/workspacenamespace": "team",
    }
    assert meta["annotations"] == {"karpenter.sh/do-not-disrupt": "true"}
    assert spec["nodeClassRef"] == {
        "group": "karpenter.azure.com",
        "kind": "AKSNodeClass",
        "name": "gpu-ubuntu",
    }
    assert spec["requirements"][0] == {
        "key": "node.kubernetes.io/instance-type",
        "operator": "In",
        "values": ["Standard_NC96ads_A100_v4"],
    }
    assert spec["resources"]["requests"] == {"nvidia.com/gpu": "4", "storage": "300Gi"}
    assert spec["taints"] == [
        {"key": "sku", "value": "gpu", "effect": "NoSchedule"},
        {"key": "dedicated", "effect": "NoSchedule", "value": "llm"},
    ]
    assert spec["expireAfter"] == "Never"


def test_an_instance_type_unknown_to_the_catalog_requests_no_gpu_count() -> None:
    claim = build_nodeclaim(_machine("Standard_ZZ1_v9"), KarpenterConfig())
    assert "resources" not in claim["spec"]


def test_config_refuses_an_empty_node_class() -> None:
    with pytest.raises(ValueError, match="node_class_name is empty"):
        KarpenterConfig(node_class_name="")


def _claim(*conditions: tuple[str, str, str], deleting: bool = False, **status: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "ws123456789"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "metadata": meta,
        "status": {
            **status,
            "conditions": [
                {"type": t, "status": s, "reason": r, "message": f"{r} message"} for t, s, r in conditions
            ],
        },
    }


@pytest.mark.parametrize(
    ("claim", "phase", "reason"),
    [
        (None, Phase.GONE, None),
        (_claim(), Phase.PENDING, None),
        (_claim(("Launched", "Unknown", "AwaitingReconciliation")), Phase.PROVISIONING, None),
        (
            _claim(("Launched", "True", "Launched"), providerID="azure:///vm", nodeName="n1"),
            Phase.RUNNING,
            None,
        ),
        (
            _claim(("Launched", "False", "InsufficientCapacity"), deleting=True),
            Phase.FAILED,
            "InsufficientCapacity",
        ),
        (_claim(("Launched", "False", "LaunchFailed")), Phase.FAILED, "LaunchFailed"),
        (_claim(("Launched", "True", "Launched"), deleting=True), Phase.DELETING, None),
    ],
)
def test_observe_nodeclaim(claim: dict[str, Any] | None, phase: Phase, reason: str | None) -> None:
    observed = observe_nodeclaim(claim, machine_name="phi-3-0")
    assert observed.phase is phase and observed.reason == reason
    assert observed.resource.startswith("NodeClaim ws")
    if claim is not None:  # what the operator's cache keeps of a claim tells the same
        full = {**claim, "spec": build_nodeclaim(_machine(), KarpenterConfig())["spec"]}
        full["status"] = {**claim["status"], "imageID": "/images/ubuntu", "capacity": {"cpu": "96"}}
        trimmed = trim_nodeclaim(full)
        assert "spec" not in trimmed and set(trimmed["status"]) <= {"conditions", "providerID", "nodeName"}
        assert observe_nodeclaim(trimmed, machine_name="phi-3-0") == observe_nodeclaim(
            full, machine_name="phi-3-0"
        )


def test_a_launched_claim_gives_its_provider_id_and_node_name() -> None:
    observed = observe_nodeclaim(
        _claim(("Launched", "True", "Launched"), providerID="azure:///vm", nodeName="n1")
    )
    assert (observed.provider_id, observed.node_name) == ("azure:///vm", "n1")


def test_insufficient_capacity_keeps_karpenters_message() -> None:
    observed = observe_nodeclaim(_claim(("Launched", "False", "InsufficientCapacity")))
    assert observed.message == "InsufficientCapacity message" and not observed.retryable


def test_a_claim_built_for_a_machine_is_recognised_as_ours_with_its_creation_time() -> None:
    claim = build_nodeclaim(_machine(), KarpenterConfig())
    claim["metadata"]["creationTimestamp"] = "2026-03-01T12:00:05Z"
    owned = owned_nodeclaim(claim, "kaito")
    assert owned == OwnedResource(
        nodeclaim_name("phi-3-0"),
        "phi-3-0",
        datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC),
        False,
        f"NodeClaim {nodeclaim_name('phi-3-0')}",
    )


@pytest.mark.parametrize(
    ("labels", "deleting", "machine"),
    [
        ({"karpenter.sh/nodepool": "default"}, False, None),  # someone else's claim
        ({"karpenter.sh/nodepool": "default", "kaito.sh/machine": "m"}, False, None),  # other node pool
        ({"karpenter.sh/nodepool": "kaito"}, False, None),  # our pool, but no Machine named
        ({"karpenter.sh/nodepool": "kaito", "kaito.sh/machine": "m"}, True, "m"),
    ],
)
def test_owned_nodeclaim_only_claims_our_labelled_claims(
    labels: dict[str, str], deleting: bool, machine: str | None
) -> None:
    meta: dict[str, Any] = {"name": "ws123", "labels": labels}
    if deleting:
        meta["deletionTimestamp"] = "2026-03-01T12:00:00Z"
    owned = owned_nodeclaim({"metadata": meta}, "kaito")
    assert (owned.machine if owned else None) == machine
    assert owned is None or (owned.deleting is deleting and owned.created is None)


def test_the_node_image_family_is_annotated_on_the_claim_as_kaito_does() -> None:
    claim = build_nodeclaim(_machine(image_family="azurelinux"), KarpenterConfig())
    assert claim["metadata"]["annotations"]["kaito.sh/node-image-family"] == "azurelinux"
    plain = build_nodeclaim(_machine(), KarpenterConfig())
    assert "kaito.sh/node-image-family" not in plain["metadata"]["annotations"]
