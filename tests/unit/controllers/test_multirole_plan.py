"""MultiRoleInference as one InferenceSet per role."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kaito.api import MultiRoleInference, parse_object
from kaito.controllers.multirole_plan import render_role_sets, roles_ready

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


def test_roles_ready_counts_each_roles_ready_replicas_and_says_what_is_not_done() -> None:
    mri = _mri()
    sets = render_role_sets(mri)
    sets[0]["status"] = {"readyReplicas": 2}
    waiting = roles_ready(mri, sets, NOW)
    assert waiting.status == "False"
    assert waiting.message.startswith("ready replicas per role: decode 0/1.")
    sets[1]["status"] = {"readyReplicas": 1}
    ready = roles_ready(mri, sets, NOW)
    assert ready.status == "True"
    assert "does not transfer the KV cache" in ready.message
