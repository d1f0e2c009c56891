"""Create-time defaults of built-in kinds, as a client reading the object back sees them."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.server.defaults import prepare_create, qos_class


def prepared(key: tuple[str, str], obj: dict[str, Any], has_status: bool = True) -> dict[str, Any]:
    obj.setdefault("metadata", {}).update({"name": "x", "uid": "u-1"})
    prepare_create(key, obj, has_status=has_status, next_cluster_ip=lambda: "10.96.0.17")
    return obj


def test_pod_starts_pending_with_defaults() -> None:
    pod = prepared(
        ("", "pods"),
        {
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
            "status": {"phase": "Running"},
        },
    )
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["containers"][0]["ports"][0]["protocol"] == "TCP"


def test_service_gets_a_cluster_ip_and_port_defaults() -> None:
    svc = prepared(("", "services"), {"spec": {"ports": [{"port": 80}]}})
    assert svc["spec"]["clusterIP"] == "10.96.0.17" and svc["spec"]["clusterIPs"] == ["10.96.0.17"]
    assert svc["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    headless = prepared(("", "services"), {"spec": {"clusterIP": "None"}})
    assert headless["spec"]["clusterIP"] == "None"


def test_node_keeps_status_but_deployment_does_not() -> None:
    assert prepared(("", "nodes"), {"status": {"capacity": {"cpu": "4"}}})["status"] == {
        "capacity": {"cpu": "4"}
    }
    deployment = prepared(("apps", "deployments"), {"spec": {}, "status": {"replicas": 3}})
    assert "status" not in deployment
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate" and deployment["spec"]["replicas"] == 1


def test_job_gets_a_generated_selector_and_template_labels() -> None:
    job = prepared(
        ("batch", "jobs"),
        {"spec": {"template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": []}}}},
    )
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert (
        labels["app"] == "a"
        and labels["batch.kubernetes.io/job-name"] == "x"
        and labels["controller-uid"] == "u-1"
    )
    assert (job["spec"]["completions"], job["spec"]["parallelism"], job["spec"]["backoffLimit"]) == (1, 1, 6)
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_namespace_defaults() -> None:
    ns = prepared(("", "namespaces"), {})
    assert ns["spec"] == {"finalizers": ["kubernetes"]} and ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "x"}


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ({}, "BestEffort"),
        ({"requests": {"cpu": "1"}}, "Burstable"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
        ({"requests": {"cpu": "500m"}, "limits": {"cpu": "1", "memory": "1Gi"}}, "Burstable"),
    ],
)
def test_qos_class(resources: dict[str, Any], qos: str) -> None:
    assert qos_class({"containers": [{"name": "c", "resources": resources}]}) == qos


def test_defaults_are_idempotent_on_update() -> None:
    from kaito.sim.server.defaults import apply_defaults

    once = prepared(
        ("apps", "deployments"), {"spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}
    )
    again = {
        "metadata": dict(once["metadata"]),
        "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}},
    }
    apply_defaults(("apps", "deployments"), again)
    assert again["spec"] == once["spec"]
