"""MultiRoleInference as one InferenceSet per role."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kaito.api import Condition, MultiRoleInference, MultiRoleInferenceStatus, parse_object
from kaito.controllers.multirole_plan import (
    multirole_conditions,
    multirole_events,
    render_role_sets,
    roles_ready,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _mri() -> MultiRoleInference:
    body: dict[str, Any] = {
        "apiVersion": "kaito.sh/v1alpha1",
        "kind": "MultiRoleInference",
        "metadata": {"name": "pd", "namespace": "ns", "uid": "u-2", "generation": 1},
        "spec": {
            "labelSelector": {"matchLabels": {"apps": "pd"}},
            "model": {"name": "phi-4-mini-instruct", "modelAccessSecret": "hf-token"},
            "roles": [
                {"type": "prefill", "replicas": 2, "instanceType": "Standard_NC24ads_A100_v4"},
                {"type": "decode", "instanceType": "Standard_NC24ads_A100_v4"},
            ],
        },
    }
    return parse_object(MultiRoleInference, body)


def test_each_role_is_an_inference_set_of_the_model_owned_by_the_multirole_inference() -> None:
    prefill, decode = render_role_sets(_mri())
    assert (prefill["metadata"]["name"], prefill["spec"]["replicas"]) == ("pd-prefill", 2)
    assert (decode["metadata"]["name"], decode["spec"]["replicas"]) == ("pd-decode", 1)
    assert prefill["spec"]["template"] == {
        "resource": {"instanceType": "Standard_NC24ads_A100_v4"},
        "inference": {
            "preset": {"name": "phi-4-mini-instruct", "presetOptions": {"modelAccessSecret": "hf-token"}}
        },
    }
    assert prefill["spec"]["labelSelector"]["matchLabels"] == {"apps": "pd", "kaito.sh/role": "prefill"}
    (owner,) = decode["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"]) == ("MultiRoleInference", "u-2")


def _with_status(role_set: dict[str, Any], ready: int, wanted: int, reason: str, message: str) -> None:
    role_set["status"] = {
        "replicas": wanted,
        "readyReplicas": ready,
        "conditions": [
            {
                "type": "ReplicasReady",
                "status": "True" if ready == wanted else "False",
                "reason": reason,
                "message": message,
            }
        ],
    }


def _by_type(conditions: list[Condition]) -> dict[str, Condition]:
    return {c.type: c for c in conditions}


def test_roles_ready_counts_each_roles_ready_replicas_and_says_what_is_not_done() -> None:
    mri = _mri()
    sets = render_role_sets(mri)
    _with_status(sets[0], 2, 2, "AllReplicasReady", "2 of 2 Workspace(s) have inference ready.")
    waiting = roles_ready(mri, sets, NOW)
    assert (waiting.status, waiting.reason) == ("False", "RolesNotReady")
    assert waiting.message.startswith("ready replicas per role: prefill 2/2, decode 0/1.")
    _with_status(sets[1], 1, 1, "AllReplicasReady", "1 of 1 Workspace(s) have inference ready.")
    ready = roles_ready(mri, sets, NOW)
    assert ready.status == "True"
    assert "does not transfer the KV cache" in ready.message


SECRET = (
    "0 of 1 Workspace(s) have inference ready. Workspace pd-decode-0: inference.preset.presetOptions."
    "modelAccessSecret: Secret 'hf-token' does not exist in namespace 'ns'."
)


@pytest.mark.parametrize(
    ("decode", "reason", "says"),
    [
        (None, "DecodeNotFound", "InferenceSet pd-decode does not exist yet."),
        (
            (
                0,
                "ReplicasNotReady",
                "0 of 1 Workspace(s) have inference ready. Workspace pd-decode-0: 0 of 1 node(s)",
            ),
            "DecodeNotReady",
            "InferenceSet pd-decode: 0 of 1 Workspace(s) have inference ready. Workspace pd-decode-0: 0 of 1",
        ),
        (
            (0, "ModelAccessSecretNotFound", SECRET),
            "ModelAccessSecretNotFound",
            f"InferenceSet pd-decode: {SECRET}",
        ),
        (
            (1, "AllReplicasReady", "1 of 1 Workspace(s) have inference ready."),
            "DecodeReady",
            "1 of 1 replica(s)",
        ),
    ],
)
def test_each_role_has_its_condition_in_its_inference_sets_words(
    decode: tuple[int, str, str] | None, reason: str, says: str
) -> None:
    mri = _mri()
    prefill_set, decode_set = render_role_sets(mri)
    _with_status(prefill_set, 2, 2, "AllReplicasReady", "2 of 2 Workspace(s) have inference ready.")
    sets = [prefill_set]
    if decode is not None:
        _with_status(decode_set, decode[0], 1, decode[1], decode[2])
        sets.append(decode_set)
    conditions = _by_type(multirole_conditions(mri, sets, NOW))
    assert list(conditions) == ["PrefillReady", "DecodeReady", "RolesReady"]
    assert (conditions["PrefillReady"].status, conditions["PrefillReady"].reason) == ("True", "PrefillReady")
    role = conditions["DecodeReady"]
    assert (role.status, role.reason) == ("True" if reason == "DecodeReady" else "False", reason)
    assert says in role.message
    overall = conditions["RolesReady"]
    if reason == "ModelAccessSecretNotFound":  # a problem reaches the overall condition, field and all
        assert overall.reason == "ModelAccessSecretNotFound"
        assert f"decode: InferenceSet pd-decode: {SECRET}" in overall.message
    else:
        assert "modelAccessSecret" not in overall.message


def test_events_tell_a_new_problem_and_readiness_but_not_progress() -> None:
    mri = _mri()
    prefill_set, decode_set = render_role_sets(mri)
    sets = [prefill_set, decode_set]
    _with_status(prefill_set, 0, 2, "ReplicasNotReady", "0 of 2 Workspace(s) have inference ready.")
    _with_status(decode_set, 0, 1, "ModelAccessSecretNotFound", SECRET)
    first = multirole_conditions(mri, sets, NOW)
    events = multirole_events(None, first)
    assert [(e.type, e.reason) for e in events] == [("Warning", "ModelAccessSecretNotFound")]
    assert events[0].message == f"DecodeReady is False: InferenceSet pd-decode: {SECRET}"
    assert multirole_events(first, first) == []  # nothing changed, nothing to tell
    _with_status(prefill_set, 2, 2, "AllReplicasReady", "2 of 2 Workspace(s) have inference ready.")
    _with_status(decode_set, 1, 1, "AllReplicasReady", "1 of 1 Workspace(s) have inference ready.")
    ready = multirole_conditions(
        mri.model_copy(update={"status": MultiRoleInferenceStatus(conditions=first)}), sets, NOW
    )
    assert [(e.type, e.reason) for e in multirole_events(first, ready)] == [
        ("Normal", "PrefillReady"),
        ("Normal", "DecodeReady"),
        ("Normal", "RolesReady"),
    ]
