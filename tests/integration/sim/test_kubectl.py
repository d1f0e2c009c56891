"""The real `kubectl` (1.32) against the sim: discovery, apply, get (server-side tables, -o wide), describe,
patch, scale, wait, logs, watch and delete, on built-in kinds and on a CRD applied by the test.

kubectl runs as a subprocess of the event loop the cluster serves on (``asyncio.create_subprocess_exec``),
with its own discovery cache directory per test so nothing leaks between clusters on reused ports.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from kaito.sim.cluster import Cluster

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wd], listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    - {name: Color, type: string, jsonPath: .spec.color, priority: 1}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 1}
              color: {type: string}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""

WIDGET = """
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3, color: red}
"""

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: main, image: nginx:1.27}
      - {name: side, image: busybox:1}
"""

NODE_AND_POD = """
apiVersion: v1
kind: Node
metadata: {name: node-1, labels: {kubernetes.io/hostname: node-1}}
status:
  conditions: [{type: Ready, status: "True"}]
  allocatable: {cpu: "8", memory: 32Gi, pods: "110"}
  capacity: {cpu: "8", memory: 32Gi, pods: "110"}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
spec:
  containers:
  - {name: main, image: busybox:1}
"""


class Kubectl:
    """Runs kubectl against one cluster; `run` returns stdout and raises with stderr on failure."""

    def __init__(self, kubeconfig: Path, cache_dir: Path) -> None:
        self.base = ["kubectl", f"--kubeconfig={kubeconfig}", f"--cache-dir={cache_dir}"]

    async def result(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.base,
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), 60)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    async def run(self, *args: str, stdin: str | None = None) -> str:
        code, out, err = await self.result(*args, stdin=stdin)
        assert code == 0, f"kubectl {' '.join(args)} failed ({code}): {err}"
        return out


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"workloads": False, "arm": False}


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubeconfig, tmp_path / "kubectl-cache")


def _table(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


async def test_discovery_and_errors_read_like_a_real_cluster(kubectl: Kubectl) -> None:
    assert "Server Version: v1.32" in await kubectl.run("version")
    namespaces = _table(await kubectl.run("get", "namespaces"))
    assert namespaces[0] == ["NAME", "STATUS", "AGE"]
    assert namespaces[1][:2] == ["default", "Active"] or any(
        row[:2] == ["default", "Active"] for row in namespaces
    )
    code, _, err = await kubectl.result("get", "widgets")
    assert code == 1 and 'the server doesn\'t have a resource type "widgets"' in err
    code, _, err = await kubectl.result("get", "configmap", "missing")
    assert code == 1 and 'Error from server (NotFound): configmaps "missing" not found' in err


async def test_crd_lifecycle_with_printer_columns(kubectl: Kubectl) -> None:
    assert "widgets.example.com created" in await kubectl.run("apply", "-f", "-", stdin=CRD)
    assert "widgets" in await kubectl.run("api-resources", "--api-group=example.com")
    assert "widget.example.com/w1 created" in await kubectl.run("apply", "-f", "-", stdin=WIDGET)
    rows = _table(await kubectl.run("get", "wd"))
    assert rows[0] == ["NAME", "SIZE", "READY", "AGE"] and rows[1][:2] == ["w1", "3"]
    wide = _table(await kubectl.run("get", "widgets", "-o", "wide"))
    assert wide[0] == ["NAME", "SIZE", "READY", "AGE", "COLOR"] and wide[1][-1] == "red"
    await kubectl.run(
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}',
    )
    assert "condition met" in await kubectl.run("wait", "--for=condition=Ready", "widget/w1", "--timeout=10s")
    assert _table(await kubectl.run("get", "widget", "w1"))[1][:3] == ["w1", "3", "True"]
    await kubectl.run(
        "patch", "widget", "w1", "--type=json", "-p", '[{"op":"replace","path":"/spec/size","value":5}]'
    )
    assert await kubectl.run("get", "widget", "w1", "-o", "jsonpath={.spec.size}") == "5"
    code, _, err = await kubectl.result("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":0}}')
    assert code == 1 and "spec.size" in err  # the CRD schema's minimum is enforced
    described = await kubectl.run("describe", "widget", "w1")
    assert "Name:         w1" in described and "Size:   5" in described
    assert 'widget.example.com "w1" deleted' in await kubectl.run("delete", "widget", "w1")
    assert "No resources found" in (await kubectl.result("get", "widgets"))[2]


async def test_builtin_apply_patch_scale_describe_delete(kubectl: Kubectl) -> None:
    assert "deployment.apps/web created" in await kubectl.run("apply", "-f", "-", stdin=DEPLOYMENT)
    changed = DEPLOYMENT.replace("nginx:1.27", "nginx:1.28")
    assert "deployment.apps/web configured" in await kubectl.run("apply", "-f", "-", stdin=changed)
    assert "deployment.apps/web unchanged" in await kubectl.run("apply", "-f", "-", stdin=changed)
    await kubectl.run(
        "patch",
        "deployment",
        "web",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox:2"}]}}}}',
    )
    images = await kubectl.run(
        "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[*].image}"
    )
    assert images == "nginx:1.28 busybox:2"  # strategic merge kept the other container
    wide = _table(await kubectl.run("get", "deployments", "-o", "wide"))
    assert wide[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1][0:2] == ["web", "0/1"] and wide[1][-3:] == ["main,side", "nginx:1.28,busybox:2", "app=web"]
    assert "deployment.apps/web scaled" in await kubectl.run("scale", "deployment", "web", "--replicas=3")
    assert await kubectl.run("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}") == "3"
    described = await kubectl.run("describe", "deployment", "web")
    assert "Replicas:" in described and "nginx:1.28" in described
    assert 'deployment.apps "web" deleted' in await kubectl.run("delete", "deployment", "web")
    code, _, err = await kubectl.result("get", "deployment", "web")
    assert code == 1 and "NotFound" in err


async def test_get_watch_streams_rows(kubectl: Kubectl, kubeconfig: Path, tmp_path: Path) -> None:
    await kubectl.run("apply", "-f", "-", stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: before}\n")
    proc = await asyncio.create_subprocess_exec(
        *kubectl.base, "get", "configmaps", "--watch", "--output-watch-events",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        header = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert header.split() == [b"EVENT", b"NAME", b"DATA", b"AGE"]
        first = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert first.split()[:3] == [b"ADDED", b"before", b"0"]
        await kubectl.run("create", "configmap", "watched", "--from-literal=a=b")
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.split()[:3] == [b"ADDED", b"watched", b"1"]
    finally:
        proc.kill()
        await proc.wait()


@pytest.mark.parametrize("sim_options", [{"workloads": True, "arm": False}])
async def test_pods_wide_wait_logs_and_describe_events(kubectl: Kubectl) -> None:
    await kubectl.run("apply", "-f", "-", stdin=NODE_AND_POD)
    assert "condition met" in await kubectl.run("wait", "--for=condition=Ready", "pod/p", "--timeout=30s")
    wide = _table(await kubectl.run("get", "pods", "-o", "wide"))
    assert wide[0][:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    row = wide[1]
    assert row[:4] == ["p", "1/1", "Running", "0"] and row[6] == "node-1" and row[5].count(".") == 3
    assert "started container main" in await kubectl.run("logs", "p")
    described = await kubectl.run("describe", "pod", "p")
    assert "node-1/" in described and "Scheduled" in described
    assert _table(await kubectl.run("get", "nodes"))[1][:2] == ["node-1", "Ready"]
    assert 'pod "p" deleted' in await kubectl.run("delete", "pod", "p", "--timeout=30s")


async def test_kubectl_over_tls_and_typed_create_commands(tmp_path: Path) -> None:
    async with Cluster(workloads=False, arm=False) as tls_cluster:
        kubectl = Kubectl(Path(tls_cluster.kubeconfig), tmp_path / "cache")
        assert "configmap/tls created" in await kubectl.run(
            "create", "configmap", "tls", "--from-literal=a=b"
        )
        assert _table(await kubectl.run("get", "configmaps"))[1][0] == "tls"
        # kubectl's typed create commands send protobuf bodies
        assert "namespace/team-a created" in await kubectl.run("create", "namespace", "team-a")
        await kubectl.run(
            "create", "secret", "generic", "pw", "-n", "team-a", "--from-literal=password=hunter2"
        )
        encoded = await kubectl.run("get", "secret", "pw", "-n", "team-a", "-o", "jsonpath={.data.password}")
        assert encoded == "aHVudGVyMg=="
        await kubectl.run("create", "serviceaccount", "bot", "-n", "team-a")


async def test_kaito_sim_up_serves_kubectl_until_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "sim.kubeconfig"
    snapshot = tmp_path / "sim.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kaito.cli", "sim", "up", "--no-arm", "--no-workloads",
        f"--kubeconfig={kubeconfig}", f"--snapshot={snapshot}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or "press Ctrl-C" not in lines[-1]:
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert line, (
                f"kaito sim up exited early: {(await proc.stderr.read()).decode() if proc.stderr else ''}"
            )
            lines.append(line)
        kubectl = Kubectl(kubeconfig, tmp_path / "cache")
        assert "configmap/kept created" in await kubectl.run("create", "configmap", "kept")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert "kaito-sim stopped" in (await proc.stdout.read()).decode()
    assert '"kept"' in snapshot.read_text()  # saved on the way out


def _subset_mismatches(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where ``actual`` differs from ``expected``, ignoring what ``expected`` leaves empty."""
    if isinstance(expected, dict):
        out = []
        for key, value in expected.items():
            if value in (None, {}, [], ""):
                continue
            if not isinstance(actual, dict) or key not in actual:
                out.append(f"{path}.{key} missing")
            else:
                out += _subset_mismatches(value, actual[key], f"{path}.{key}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: {actual!r} != {expected!r}"]
        return [
            m
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for m in _subset_mismatches(e, a, f"{path}[{i}]")
        ]
    return [] if expected == actual else [f"{path}: {actual!r} != {expected!r}"]


TYPED_CREATES = [
    pytest.param(
        ["create", "deployment", "imp", "--image=nginx:1", "--replicas=2", "--port=80"],
        "deployment",
        id="deployment",
    ),
    pytest.param(["create", "job", "imp", "--image=busybox:1"], "job", id="job"),
    pytest.param(
        ["create", "service", "clusterip", "imp", "--tcp=80:8080", "--tcp=443:https"], "service", id="service"
    ),
    pytest.param(
        ["run", "imp", "--image=busybox:1", "--labels=a=b", "--env=X=1", "--port=8080", "--restart=Never"],
        "pod",
        id="pod",
    ),
    pytest.param(
        ["create", "role", "imp", "--verb=get", "--verb=list", "--resource=pods"], "role", id="role"
    ),
    pytest.param(
        ["create", "rolebinding", "imp", "--role=imp", "--user=alice", "--serviceaccount=default:bot"],
        "rolebinding",
        id="rolebinding",
    ),
    pytest.param(
        ["create", "clusterrole", "imp", "--verb=get", "--resource=nodes"], "clusterrole", id="clusterrole"
    ),
    pytest.param(
        ["create", "clusterrolebinding", "imp", "--clusterrole=imp", "--group=devs"],
        "clusterrolebinding",
        id="crb",
    ),
]


@pytest.mark.parametrize(("argv", "resource"), TYPED_CREATES)
async def test_typed_create_commands_store_what_kubectl_built(
    kubectl: Kubectl, argv: list[str], resource: str
) -> None:
    """kubectl builds these objects itself and sends them as protobuf; what the server stores must be what
    kubectl prints for the same command with --dry-run=client (the object before any server defaulting)."""
    built = json.loads(await kubectl.run(*argv, "--dry-run=client", "-o", "json"))
    await kubectl.run(*argv)
    stored = json.loads(await kubectl.run("get", resource, "imp", "-o", "json"))
    built["metadata"].pop("creationTimestamp", None)
    assert _subset_mismatches({k: v for k, v in built.items() if k != "status"}, stored) == []
