"""The services/pods proxy subresources over real HTTP, to real processes started by the process runtime.

A Deployment of a trivial Python HTTP server (run as local processes, one loopback IP per pod) behind a
Service; clients reach it only through the API server, as ``kubectl get --raw`` does.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from integration.admin_http import admin_session
from kaito.sim.cluster import Cluster
from kaito.sim.workloads.processes import ImageMapping, ProcessRuntimeConfig

pytestmark = pytest.mark.integration

IMAGE = "test/python:3"
# GET /hello echoes the path, query and X-Test header with the pod's address; POST echoes the body;
# GET /stream sends one SSE event, then waits for GET /release before the last one.
SERVER = r"""
import http.server, sys, threading
args = sys.argv[1:]
host, port = args[args.index("--bind") + 1], int(args[args.index("--port") + 1])
release = threading.Event()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, body, kind="text/plain"):
        self.send_response(200); self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_GET(self):
        if self.path == "/stream":
            self.send_response(200); self.send_header("Content-Type", "text/event-stream"); self.end_headers()
            self.wfile.write(b"data: first\n\n"); self.wfile.flush()
            release.wait(10)
            self.wfile.write(b"data: [DONE]\n\n"); return
        if self.path == "/release":
            release.set()
        self.reply(f"{host} {self.path} {self.headers.get('X-Test')}".encode())
    def do_POST(self):
        self.reply(self.rfile.read(int(self.headers["Content-Length"])), "application/json")
http.server.ThreadingHTTPServer((host, port), H).serve_forever()
"""
NODE = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "n1"},
    "status": {
        "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True"}],
    },
}


def deployment(replicas: int) -> dict[str, Any]:
    container = {
        "name": "server",
        "image": IMAGE,
        "command": ["python3", "-c", SERVER, "--bind", "0.0.0.0", "--port", "8080"],
        "ports": [{"name": "web", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": "web"}, "periodSeconds": 1},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}},
        },
    }


def service(name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80, "targetPort": "web"}]},
    }


@pytest.fixture
def sim_options() -> dict[str, Any]:
    mapping = ImageMapping(executables={"python3": sys.executable}, host_flag="--bind")
    config = ProcessRuntimeConfig(images={IMAGE: mapping}, probe_time_scale=0.05, stop_grace_s=2)
    return {"arm": False, "process_runtime": config}


def _ready_replicas(cluster: Cluster) -> int:
    status = cluster.store.get("apps/v1", "Deployment", "web", "default").get("status") or {}
    return int(status.get("readyReplicas") or 0)


@pytest_asyncio.fixture
async def web(cluster: Cluster) -> AsyncIterator[aiohttp.ClientSession]:
    """Two ready server pods behind Service `web`; a client session on the API server."""
    cluster.store.create("v1", "Node", NODE)
    cluster.store.create("apps/v1", "Deployment", deployment(2))
    cluster.store.create("v1", "Service", service("web", "web"))
    cluster.store.create("v1", "Service", service("nobody", "missing"))
    watch = cluster.store.subscribe_all()
    try:
        async with asyncio.timeout(20):
            while _ready_replicas(cluster) != 2:
                await anext(watch)
    finally:
        watch.close()
    async with admin_session(cluster) as session:
        yield session


def pod_ips(cluster: Cluster) -> set[str]:
    return {p["status"]["podIP"] for p in cluster.store.list("v1", "Pod", "default")[0]}


@pytest.mark.parametrize("name", ["web:http", "web:80", "http:web:80", "web"])
async def test_service_proxy_reaches_a_ready_pod_by_port_name_or_number(
    cluster: Cluster, web: aiohttp.ClientSession, name: str
) -> None:
    url = f"/api/v1/namespaces/default/services/{name}/proxy/hello?x=1"
    async with web.get(url, headers={"X-Test": "passed"}) as response:
        assert response.status == 200
        host, path, header = (await response.text()).split()
    assert host in pod_ips(cluster) and host.startswith("127.")
    assert (path, header) == ("/hello?x=1", "passed")


async def test_post_bodies_and_answers_go_through(web: aiohttp.ClientSession) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    async with web.post("/api/v1/namespaces/default/services/web:http/proxy/v1/chat", json=body) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        assert await response.json() == body


async def test_a_streamed_answer_arrives_chunk_by_chunk(web: aiohttp.ClientSession) -> None:
    pod_url = "/api/v1/namespaces/default/services/web:http/proxy"
    async with web.get(f"{pod_url}/stream") as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        first = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)  # before the server finishes
        assert first == b"data: first\n\n"
        for _ in range(2):  # release whichever replica is streaming; both are behind the Service
            async with web.get(f"{pod_url}/release") as released:
                assert released.status == 200
        rest = await asyncio.wait_for(response.content.read(), 15)
    assert rest == b"data: [DONE]\n\n"


async def test_pod_proxy_reaches_that_pod(cluster: Cluster, web: aiohttp.ClientSession) -> None:
    pod = cluster.store.list("v1", "Pod", "default")[0][0]
    url = f"/api/v1/namespaces/default/pods/{pod['metadata']['name']}:8080/proxy/hello"
    async with web.get(url) as response:
        assert (await response.text()).split()[0] == pod["status"]["podIP"]


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("nobody:http", 503, 'no endpoints available for service "nobody"'),
        ("web:9999", 503, 'no endpoints available for service "web"'),
        ("absent:http", 404, 'services "absent" not found'),
    ],
)
async def test_proxy_errors_are_kube_statuses(
    web: aiohttp.ClientSession, name: str, code: int, message: str
) -> None:
    async with web.get(f"/api/v1/namespaces/default/services/{name}/proxy/") as response:
        status = await response.json()
    assert (response.status, status["kind"], status["code"]) == (code, "Status", code)
    assert status["message"] == message


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
async def test_kubectl_get_raw_goes_through_the_service_proxy(
    cluster: Cluster, web: aiohttp.ClientSession
) -> None:
    process = await asyncio.create_subprocess_exec(
        "kubectl", "--kubeconfig", str(cluster.kubeconfig), "get", "--raw",
        "/api/v1/namespaces/default/services/web:http/proxy/hello",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert out.decode().split()[1:] == ["/hello", "None"]
