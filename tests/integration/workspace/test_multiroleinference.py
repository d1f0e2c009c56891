"""MultiRoleInference end to end on kaito.sim: one InferenceSet per role, each role's Workspace Ready, and a
role that cannot start told on the MultiRoleInference itself (its conditions and a Warning Event)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from kaito import ctrl
from kaito.controllers.inferenceset import INFERENCESET
from kaito.controllers.multirole import MULTIROLEINFERENCE
from kaito.controllers.workspace import WORKSPACE

pytestmark = pytest.mark.integration


def _mri(name: str, model: dict[str, str]) -> dict[str, Any]:
    """KAITO's examples/inference/kaito_multiroleinference_phi4_4.yaml, with its name and model."""
    role = {"replicas": 1, "instanceType": "Standard_NC24ads_A100_v4"}
    return {
        "apiVersion": "kaito.sh/v1alpha1",
        "kind": "MultiRoleInference",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "labelSelector": {"matchLabels": {"apps": name}},
            "model": model,
            "roles": [{"type": "prefill", **role}, {"type": "decode", **role}],
        },
    }


async def _conditions(operator: Any, name: str) -> dict[str, dict[str, Any]]:
    mri = await operator.user.get(MULTIROLEINFERENCE, name, "default")
    return {c["type"]: c for c in (mri.get("status") or {}).get("conditions") or []}


async def _set_uids(operator: Any, name: str) -> dict[str, str]:
    uids = {}
    for role in ("prefill", "decode"):
        with contextlib.suppress(ctrl.NotFound):
            found = await operator.user.get(INFERENCESET, f"{name}-{role}", "default")
            uids[role] = found["metadata"]["uid"]
    return uids


async def _delete_and_wait(operator: Any, name: str) -> None:
    """Delete the MultiRoleInference; its sets and their Workspaces go with it (owner references)."""
    await operator.user.delete(MULTIROLEINFERENCE, name, "default")

    async def gone() -> bool:
        sets = (await operator.user.list(INFERENCESET, "default")).items
        workspaces = (await operator.user.list(WORKSPACE, "default", label_selector=f"apps={name}")).items
        return not sets and not workspaces

    await operator.eventually(gone, within=60.0)


async def test_both_roles_of_phi4_become_ready_and_their_inference_sets_are_never_recreated(
    operator: Any,
) -> None:
    await operator.apply(_mri("phi-4-mini", {"name": "phi-4-mini-instruct"}))
    first = await operator.eventually(lambda: _both(operator, "phi-4-mini"), within=30.0)

    async def ready() -> bool:
        return (await _conditions(operator, "phi-4-mini")).get("RolesReady", {}).get("status") == "True"

    await operator.eventually(ready, within=60.0)
    conditions = await _conditions(operator, "phi-4-mini")
    assert [conditions[t]["status"] for t in ("PrefillReady", "DecodeReady")] == ["True", "True"]
    # each role's set is the one first created: re-applying it must not empty its owner reference (which
    # let the garbage collector delete it, twice a second, before a node could come up)
    assert await _set_uids(operator, "phi-4-mini") == first
    workspaces = (await operator.user.list(WORKSPACE, "default", label_selector="apps=phi-4-mini")).items
    assert sorted(w["metadata"]["name"] for w in workspaces) == [
        "phi-4-mini-decode-0",
        "phi-4-mini-prefill-0",
    ]
    assert all(operator.condition_of(w, "WorkspaceSucceeded").get("status") == "True" for w in workspaces)
    events = [
        e for e in await operator.list("v1", "Event") if e["involvedObject"]["kind"] == "MultiRoleInference"
    ]
    assert ("Normal", "RolesReady") in {(e["type"], e["reason"]) for e in events}
    await _delete_and_wait(operator, "phi-4-mini")


async def _both(operator: Any, name: str) -> dict[str, str] | None:
    uids = await _set_uids(operator, name)
    return uids if len(uids) == 2 else None


async def test_a_role_that_cannot_start_is_told_on_the_multirole_inference_with_the_field(
    operator: Any,
) -> None:
    """KAITO's deepseek-v3 example: its roles name a model-access Secret that does not exist (kubectl
    refused the example's Secret, whose token is a placeholder)."""
    model = {"name": "deepseek-ai/DeepSeek-V3", "modelAccessSecret": "hf-token"}
    await operator.apply(_mri("deepseek-v3-pd", model))
    field = "inference.preset.presetOptions.modelAccessSecret"

    async def told() -> dict[str, dict[str, Any]] | None:
        conditions = await _conditions(operator, "deepseek-v3-pd")
        reasons = {conditions.get(t, {}).get("reason") for t in ("PrefillReady", "DecodeReady", "RolesReady")}
        return conditions if reasons == {"ModelAccessSecretNotFound"} else None

    conditions = await operator.eventually(told, within=30.0)
    overall = conditions["RolesReady"]
    assert overall["status"] == "False"
    for role in ("prefill", "decode"):
        assert f"{role}: InferenceSet deepseek-v3-pd-{role}: " in overall["message"]
        assert (
            f"Workspace deepseek-v3-pd-{role}-0: {field}: Secret 'hf-token' does not exist"
            in overall["message"]
        )
    for type_ in ("PrefillReady", "DecodeReady"):
        assert (conditions[type_]["status"], conditions[type_]["reason"]) == (
            "False",
            "ModelAccessSecretNotFound",
        )
        assert field in conditions[type_]["message"]

    async def warned() -> list[dict[str, Any]]:
        return [
            e
            for e in await operator.list("v1", "Event")
            if e["involvedObject"].get("name") == "deepseek-v3-pd" and e["type"] == "Warning"
        ]

    warnings = await operator.eventually(warned, within=10.0)
    assert {e["reason"] for e in warnings} == {"ModelAccessSecretNotFound"}
    assert all(
        e["involvedObject"]["kind"] == "MultiRoleInference" and field in e["message"] for e in warnings
    )
    await _delete_and_wait(operator, "deepseek-v3-pd")
