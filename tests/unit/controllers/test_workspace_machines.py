"""Machine names and plan_machines: what to create, what is ready, what may be deleted (new before old)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kaito.api import FINALIZER_MACHINE_CLEANUP, Machine, Workspace
from kaito.controllers.workspace_machines import (
    MachineInputs,
    desired_machine,
    launched_count,
    machine_name,
    plan_machines,
)

GPU = "Standard_NC24ads_A100_v4"


def workspace(uid: str = "u1", name: str = "ws") -> Workspace:
    return Workspace.model_validate(
        {
            "metadata": {"name": name, "namespace": "team", "uid": uid},
            "resource": {"instanceType": GPU, "labelSelector": {"matchLabels": {"apps": "phi"}}},
            "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}},
        }
    )


def machine(
    ws: Workspace,
    index: int,
    *,
    instance_type: str = GPU,
    ready: bool = False,
    launched: bool = False,
    node: str | None = None,
    failed: bool = False,
    deleting: bool = False,
) -> Machine:
    m = desired_machine(ws, instance_type, index, 100)
    conditions: list[dict[str, Any]] = []
    for type_, status in (("Launched", launched or ready), ("Ready", ready)):
        conditions.append(
            {
                "type": type_,
                "status": "True" if status else "False",
                "reason": "R",
                "message": "",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        )
    status: dict[str, Any] = {"conditions": conditions}
    if node:
        status["nodeName"] = node
    if failed:
        status.update(
            failureReason="QuotaExceeded",
            failureMessage="Operation could not be completed as it results in exceeding approved quota",
        )
    data = m.to_wire() | {"status": status}
    if deleting:
        data["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return Machine.model_validate(data)


def test_names_are_deterministic_and_change_with_type_index_and_uid() -> None:
    ws = workspace()
    name = machine_name(ws, GPU, 0)
    assert name == machine_name(workspace(), GPU, 0)
    assert name.startswith("ws") and len(name) == 11 and name.isalnum()
    assert (
        len(
            {
                name,
                machine_name(ws, GPU, 1),
                machine_name(ws, "Standard_NC6s_v3", 0),
                machine_name(workspace("u2"), GPU, 0),
            }
        )
        == 4
    )


def test_desired_machine_is_tied_by_labels_and_workspace_ref_not_owner_references() -> None:
    m = desired_machine(workspace(), GPU, 0, 120)
    assert m.metadata.owner_references is None
    assert m.metadata.labels == {"kaito.sh/workspace": "ws", "kaito.sh/workspacenamespace": "team"}
    assert m.spec.node_labels == {
        "apps": "phi",
        "kaito.sh/workspace": "ws",
        "kaito.sh/workspacenamespace": "team",
    }
    assert m.spec.workspace_ref is not None and m.spec.workspace_ref.uid == "u1"
    assert [(t.key, t.value, t.effect) for t in m.spec.taints or []] == [("sku", "gpu", "NoSchedule")]
    assert m.spec.os_disk_size_gb == 120
    assert m.spec.provisioner is None  # left to the Machine controller's default unless pinned


def test_new_machines_are_pinned_to_the_operators_provisioner() -> None:
    decision = plan_machines(
        MachineInputs(workspace(), instance_type=GPU, target=1, disk_gib=100, provisioner="karpenter")
    )
    assert [m.spec.provisioner for m in decision.create] == ["karpenter"]


def plan(
    existing: list[Machine],
    *,
    target: int = 2,
    ready_nodes: dict[str, bool] | None = None,
    instance_type: str = GPU,
) -> Any:
    decision = plan_machines(
        MachineInputs(
            workspace(),
            instance_type=instance_type,
            target=target,
            disk_gib=100,
            existing=existing,
            nodes_ready=ready_nodes or {},
        )
    )
    return decision


def test_missing_machines_are_created_and_existing_ones_reported() -> None:
    ws = workspace()
    decision = plan([machine(ws, 0, launched=True)])
    assert [m.metadata.name for m in decision.create] == [machine_name(ws, GPU, 1)]
    assert decision.ready_nodes == []
    first, second = machine_name(ws, GPU, 0), machine_name(ws, GPU, 1)
    assert decision.progress(2) == f"0 of 2 node(s) ready (waiting for Machines {first}, {second})"
    # the sentence names the Machines, not their step, so a Machine moving on does not change it
    moved = plan(
        [machine(ws, 0, ready=True, node="n0"), machine(ws, 1, launched=True)], ready_nodes={"n0": True}
    )
    assert moved.progress(2) == f"1 of 2 node(s) ready (waiting for Machine {second})"
    assert plan([machine(ws, 0), machine(ws, 1)]).progress(2) == decision.progress(2)


def test_machines_are_created_with_the_cleanup_finalizer() -> None:
    (created,) = plan([], target=1).create
    assert created.metadata.finalizers == [FINALIZER_MACHINE_CLEANUP]


def test_a_machine_counts_as_ready_only_with_its_node_ready() -> None:
    ws = workspace()
    existing = [machine(ws, 0, ready=True, node="n0"), machine(ws, 1, ready=True, node="n1")]
    assert plan(existing, ready_nodes={"n0": True, "n1": False}).ready_nodes == ["n0"]
    assert plan(existing, ready_nodes={"n0": True, "n1": True}).ready_nodes == ["n0", "n1"]


def test_a_failed_machine_is_reported_with_the_clouds_message_and_not_recreated() -> None:
    ws = workspace()
    decision = plan([machine(ws, 0, failed=True)], target=1)
    assert decision.create == []
    (failure,) = decision.failures
    assert (failure.reason, failure.name) == ("QuotaExceeded", machine_name(ws, GPU, 0))
    assert "quota" in failure.message


@pytest.mark.parametrize(
    ("settled", "all_ready", "deleted"),
    [(False, True, False), (True, False, False), (True, True, True)],
)
def test_stale_machines_go_only_after_the_new_ones_serve(
    settled: bool, all_ready: bool, deleted: bool
) -> None:
    ws = workspace()
    old = machine(ws, 0, instance_type="Standard_NC6s_v3", ready=True, node="old")
    new = machine(ws, 0, ready=True, node="new")
    decision = plan([old, new], target=1, ready_nodes={"old": True, "new": all_ready})
    assert decision.delete == []  # a stale Machine is never deleted before the workload has moved
    assert decision.retire(settled) == ([old.metadata.name] if deleted else [])


def test_scaling_down_frees_the_highest_indexes() -> None:
    ws = workspace()
    existing = [machine(ws, i, ready=True, node=f"n{i}") for i in range(3)]
    decision = plan(existing, target=1, ready_nodes={"n0": True, "n1": True, "n2": True})
    assert decision.retire(True) == sorted([machine_name(ws, GPU, 1), machine_name(ws, GPU, 2)])
    assert decision.ready_nodes == ["n0"]


def test_a_machine_being_deleted_is_waited_for_not_recreated() -> None:
    ws = workspace()
    decision = plan([machine(ws, 0, deleting=True)], target=1)
    assert decision.create == [] and decision.pending == [f"{machine_name(ws, GPU, 0)} (being deleted)"]


def test_launched_count() -> None:
    ws = workspace()
    assert launched_count([machine(ws, 0, launched=True), machine(ws, 1)]) == 1


@pytest.mark.parametrize(
    ("minutes_since_failure", "retry_in", "replaced"),
    [(5, 600.0, False), (15, 0.0, True), (40, 0.0, True)],
)
def test_a_failed_machine_is_replaced_once_its_retry_is_due(
    minutes_since_failure: int, retry_in: float, replaced: bool
) -> None:
    ws = workspace()
    failed_at = datetime(2026, 1, 1, tzinfo=UTC)  # the Ready condition's transition in machine()
    decision = plan_machines(
        MachineInputs(
            ws,
            instance_type=GPU,
            target=1,
            disk_gib=100,
            existing=[machine(ws, 0, failed=True)],
            now=failed_at + timedelta(minutes=minutes_since_failure),
            retry_failed_after=15 * 60,
        )
    )
    (failure,) = decision.failures
    assert failure.retry_in == retry_in
    assert decision.delete == ([machine_name(ws, GPU, 0)] if replaced else [])
    assert decision.create == []  # created again only once the old one is gone


@pytest.mark.parametrize(
    ("annotation", "family"), [(" AzureLinux", "azurelinux"), ("ubuntu", "ubuntu"), (None, None)]
)
def test_the_node_image_family_annotation_reaches_the_machine(
    annotation: str | None, family: str | None
) -> None:
    ws = workspace()
    if annotation is not None:
        ws = ws.model_copy(
            update={
                "metadata": ws.metadata.model_copy(
                    update={"annotations": {"kaito.sh/node-image-family": annotation}}
                )
            }
        )
    assert desired_machine(ws, GPU, 0, 120).spec.image_family == family
