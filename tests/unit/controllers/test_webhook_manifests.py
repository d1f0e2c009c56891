"""manifests/webhook is what the code installs, and the RBAC grants the webhook exactly what it uses."""

from __future__ import annotations

from pathlib import Path

import yaml

from kaito.controllers.webhook_manifests import webhook_endpoints, webhook_objects

MANIFESTS = Path(__file__).resolve().parents[3] / "manifests"


def test_manifests_webhook_equals_the_objects_the_code_installs() -> None:
    service = yaml.safe_load((MANIFESTS / "webhook" / "service.yaml").read_text())
    configuration = yaml.safe_load((MANIFESTS / "webhook" / "validating_webhook.yaml").read_text())
    assert [service, configuration] == webhook_objects()
    kustomization = yaml.safe_load((MANIFESTS / "webhook" / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["service.yaml", "validating_webhook.yaml"]
    assert (
        "../webhook"
        in yaml.safe_load((MANIFESTS / "default" / "kustomization.yaml").read_text())["resources"]
    )


def test_the_manager_serves_the_port_the_service_targets() -> None:
    deployment = yaml.safe_load((MANIFESTS / "manager" / "manager.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert {"name": "webhook", "containerPort": 9443, "protocol": "TCP"} in container["ports"]
    assert "--webhook-port=9443" in container["args"]


def test_rbac_grants_only_the_webhook_certificate_secret_and_the_two_cabundles() -> None:
    docs = list(yaml.safe_load_all((MANIFESTS / "rbac" / "webhook_role.yaml").read_text()))
    role = next(d for d in docs if d["kind"] == "Role")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["kaito-webhook-cert"],
            "verbs": ["get", "update"],
        },
    ]
    cluster_role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert {
        (r["resources"][0], tuple(r["resourceNames"]), tuple(r["verbs"])) for r in cluster_role["rules"]
    } == {
        ("validatingwebhookconfigurations", ("validation.workspace.kaito.sh",), ("get", "patch")),
        ("customresourcedefinitions", ("workspaces.kaito.sh",), ("get", "patch")),
    }
    listed = yaml.safe_load((MANIFESTS / "rbac" / "kustomization.yaml").read_text())["resources"]
    assert "webhook_role.yaml" in listed


def test_endpoints_route_the_service_port_to_a_local_operator() -> None:
    endpoints = webhook_endpoints(40123)
    assert endpoints["metadata"] == {
        "name": "kaito-webhook-service",
        "namespace": "kaito-system",
        "labels": {"app.kubernetes.io/name": "kaito", "app.kubernetes.io/component": "webhook"},
    }
    assert endpoints["subsets"] == [
        {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "webhook", "port": 40123, "protocol": "TCP"}]}
    ]
