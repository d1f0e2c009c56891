"""Which admission webhooks apply to a request, and how a denial reads (kube's wording)."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.server.admission import Admission, AdmissionAttributes, WebhookDenied, rule_matches
from kaito.sim.server.resources import ResourceType
from kaito.sim.server.store import Store

WORKSPACES = ResourceType("kaito.sh", "v1alpha1", "Workspace", "workspaces", "workspace", True, custom=True)
RULE = {
    "apiGroups": ["kaito.sh"],
    "apiVersions": ["v1alpha1"],
    "operations": ["CREATE"],
    "resources": ["workspaces"],
}


@pytest.mark.parametrize(
    ("rule", "operation", "sub", "matches"),
    [
        (RULE, "CREATE", "", True),
        (RULE, "UPDATE", "", False),
        (RULE, "CREATE", "status", False),
        (dict(RULE, resources=["workspaces/status"]), "CREATE", "status", True),
        (dict(RULE, resources=["*"]), "CREATE", "", True),
        (dict(RULE, resources=["*"]), "CREATE", "status", False),
        (dict(RULE, resources=["*/*"]), "CREATE", "status", True),
        (dict(RULE, operations=["*"], apiGroups=["*"], apiVersions=["*"]), "DELETE", "", True),
        (dict(RULE, scope="Cluster"), "CREATE", "", False),
        (dict(RULE, scope="Namespaced"), "CREATE", "", True),
        (dict(RULE, apiGroups=["apps"]), "CREATE", "", False),
    ],
)
def test_rule_matches_as_kube_reads_rules(
    rule: dict[str, Any], operation: str, sub: str, matches: bool
) -> None:
    assert rule_matches(rule, operation, WORKSPACES, "v1alpha1", sub) is matches


def test_a_denial_keeps_the_webhooks_code_at_400_or_more_and_names_the_webhook() -> None:
    denied = WebhookDenied(
        "v.example.com", {"code": 422, "reason": "Invalid", "message": "spec.x: Invalid value"}
    )
    assert (denied.code, denied.reason) == (422, "Invalid")
    assert denied.message == 'admission webhook "v.example.com" denied the request: spec.x: Invalid value'
    bare = WebhookDenied("v.example.com", {"code": 200})
    assert (bare.code, bare.message) == (
        400,
        'admission webhook "v.example.com" denied the request without explanation',
    )


def test_equivalent_versions_match_unless_the_policy_is_exact() -> None:
    store = Store()
    admission = Admission(store)
    beta = ResourceType("kaito.sh", "v1beta1", "Workspace", "workspaces", "workspace", True, custom=True)
    store.registry.register(WORKSPACES)
    store.registry.register(beta)
    hook = {
        "name": "v.example.com",
        "clientConfig": {"url": "https://127.0.0.1:1/"},
        "rules": [dict(RULE, apiVersions=["v1beta1"])],
    }
    store.create(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        {
            "metadata": {"name": "c"},
            "webhooks": [hook, dict(hook, name="exact.example.com", matchPolicy="Exact")],
        },
    )
    attrs = AdmissionAttributes(WORKSPACES, "CREATE", "ws", "default")
    mutating, validating = admission.matching(attrs, {"metadata": {}}, None)
    assert mutating == []
    assert [(m.name, m.version) for m in validating] == [("v.example.com", "v1beta1")]
