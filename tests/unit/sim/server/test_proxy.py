"""Tests of the proxy subresources' decisions: parsing the URL, choosing endpoints, a pod's target."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.server.errors import BadRequest
from kaito.sim.server.proxy import (
    ProxyPath,
    ProxyTarget,
    ServiceUnavailable,
    parse_proxy_path,
    pod_target,
    service_endpoints,
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/api/v1/namespaces/ns/services/web:http/proxy/v1/models",
            ProxyPath("ns", "services", "web", "http", "http", "/v1/models"),
        ),
        (
            "/api/v1/namespaces/ns/services/https:web:443/proxy/",
            ProxyPath("ns", "services", "web", "443", "https", "/"),
        ),
        ("/api/v1/namespaces/ns/services/web/proxy", ProxyPath("ns", "services", "web", "", "http", "/")),
        (
            "/api/v1/namespaces/ns/pods/p:5000/proxy/health",
            ProxyPath("ns", "pods", "p", "5000", "http", "/health"),
        ),
        ("/api/v1/namespaces/ns/services/web", None),  # the Service itself, not its proxy
        ("/api/v1/namespaces/ns/configmaps/x/proxy/a", None),
        ("/apis/apps/v1/namespaces/ns/deployments/x", None),
    ],
)
def test_parse_proxy_path(path: str, expected: ProxyPath | None) -> None:
    assert parse_proxy_path(path) == expected


@pytest.mark.parametrize(
    ("name", "message"),
    [("ftp:web:21", 'invalid scheme "ftp"'), ("a:b:c:d", "expected name, name:port or scheme:name:port")],
)
def test_parse_proxy_path_refuses_malformed_names(name: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_proxy_path(f"/api/v1/namespaces/ns/services/{name}/proxy/")


def pod(
    name: str, ip: str, *, ready: bool = True, labels: dict[str, str] | None = None, **meta: Any
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels if labels is not None else {"app": "web"}, **meta},
        "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 5000}]}]},
        "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


SERVICE = {
    "metadata": {"name": "web"},
    "spec": {
        "selector": {"app": "web"},
        "ports": [
            {"name": "http", "port": 80, "targetPort": 5000},
            {"name": "named", "port": 81, "targetPort": "http"},
        ],
    },
}


@pytest.mark.parametrize(
    ("pods", "port", "expected"),
    [
        ([pod("a", "127.0.9.2")], "", [("127.0.9.2", 5000)]),  # empty port: the first Service port
        ([pod("a", "127.0.9.2")], "http", [("127.0.9.2", 5000)]),
        ([pod("a", "127.0.9.2")], "80", [("127.0.9.2", 5000)]),
        ([pod("a", "127.0.9.2")], "named", [("127.0.9.2", 5000)]),  # a targetPort naming a container port
        ([pod("a", "127.0.9.2")], "8080", []),  # no such Service port
        ([pod("a", "127.0.9.2", ready=False)], "http", []),
        ([pod("a", "127.0.9.2", deletionTimestamp="2026-01-01T00:00:00Z")], "http", []),
        ([pod("a", "127.0.9.2", labels={"app": "other"})], "http", []),
        ([pod("a", "")], "http", []),
        ([pod("a", "127.0.9.2"), pod("b", "127.0.9.3")], "http", [("127.0.9.2", 5000), ("127.0.9.3", 5000)]),
    ],
)
def test_service_endpoints_are_the_ready_selected_pods(
    pods: list[dict[str, Any]], port: str, expected: list[tuple[str, int]]
) -> None:
    assert service_endpoints(SERVICE, pods, port) == expected


def test_a_service_without_selector_has_no_endpoints() -> None:
    service = {"spec": {"ports": [{"port": 80}]}}
    assert service_endpoints(service, [pod("a", "127.0.9.2")], "") == []


@pytest.mark.parametrize(
    ("port", "expected"),
    [("", 5000), ("5001", 5001), ("http", 5000)],
)
def test_pod_target(port: str, expected: int) -> None:
    assert pod_target(pod("a", "127.0.9.2"), port, "http") == ProxyTarget("http", "127.0.9.2", expected)


@pytest.mark.parametrize(
    ("target", "port", "error", "message"),
    [
        (pod("a", ""), "5000", ServiceUnavailable, 'pod "a" has no IP address'),
        (pod("a", "127.0.9.2"), "grpc", BadRequest, 'no container port named "grpc"'),
    ],
)
def test_pod_target_errors_name_the_problem(
    target: dict[str, Any], port: str, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        pod_target(target, port, "http")
