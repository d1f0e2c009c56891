"""Tests of the process runtime: the pure parts (argv, env, probes), then real processes on a real Store.

The "model server" is a few lines of Python's http.server run as a local process through an image mapping
(``test/python:3`` -> this interpreter), so these run in the normal suite without vLLM. Probe periods are
scaled by 0.05 so a pod walks its life in well under a second.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from kaito.sim.server.errors import NotFound
from kaito.sim.server.store import Store
from kaito.sim.workloads.processes import (
    ImageMapping,
    Probe,
    ProbeState,
    ProcessRuntimeConfig,
    container_env,
    expand_vars,
    parse_probe,
    rewrite_argv,
    rewrite_script,
    termination_message,
)
from kaito.sim.workloads.simulator import Timings, WorkloadSimulator

# ------------------------------------------------------------------------------------------------ pure parts


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["serve", "--port", "5000"], ["serve", "--port", "5000", "--host", "127.0.9.2"]),
        (["serve", "--host", "0.0.0.0", "--port", "1"], ["serve", "--port", "1", "--host", "127.0.9.2"]),
        (["serve", "--host=0.0.0.0"], ["serve", "--host", "127.0.9.2"]),
        (["serve", "--model", "/weights"], ["serve", "--model", "/local/w", "--host", "127.0.9.2"]),
        (["serve", "--model=/weights/a.bin"], ["serve", "--model=/local/w/a.bin", "--host", "127.0.9.2"]),
        (["serve", "/weightsX"], ["serve", "/weightsX", "--host", "127.0.9.2"]),  # only whole path parts
        (["--lora-modules", "a=/weights/a"], ["--lora-modules", "a=/local/w/a", "--host", "127.0.9.2"]),
        (["serve", "a=/weightsX"], ["serve", "a=/weightsX", "--host", "127.0.9.2"]),
    ],
)
def test_rewrite_argv_maps_paths_and_binds_the_pod_ip(argv: list[str], expected: list[str]) -> None:
    assert rewrite_argv(argv, {"/weights": "/local/w"}, "--host", "127.0.9.2") == expected


def test_rewrite_argv_without_host_flag_leaves_hosts_alone() -> None:
    assert rewrite_argv(["s", "--host", "x"], {}, None, "127.0.0.2") == ["s", "--host", "x"]


SCRIPT_PATHS = {"/workspace/tfs": "/local/tfs", "/mnt/out": "/pv/7", "/mnt/out2/": "/pv/8"}


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("cd /workspace/tfs/ && python3 a.py", "cd /local/tfs/ && python3 a.py"),
        ('touch "/mnt/out/failed.txt"; exit 1', 'touch "/pv/7/failed.txt"; exit 1'),
        ("X=/mnt/out2 ls /mnt/out", "X=/pv/8 ls /pv/7"),  # the longest path wins
        ("ls /mnt/outside /a/mnt/out $HOME/mnt/out", "ls /mnt/outside /a/mnt/out $HOME/mnt/out"),
        ("echo /mnt/out.", "echo /mnt/out."),  # '.' may continue a file name: not a whole word
        ("launch /workspace/tfs/fine_tuning.py||true", "launch /local/tfs/fine_tuning.py||true"),
    ],
)
def test_rewrite_script_maps_whole_path_words_only(script: str, expected: str) -> None:
    assert rewrite_script(script, SCRIPT_PATHS) == expected


@pytest.mark.parametrize("shell", ["/bin/sh", "sh", "/bin/bash", "bash"])
def test_rewrite_argv_maps_paths_inside_a_shell_script(shell: str) -> None:
    argv = [shell, "-ec", "cat /mnt/out/x", "/mnt/out"]
    assert rewrite_argv(argv, SCRIPT_PATHS, None, "") == [shell, "-ec", "cat /pv/7/x", "/pv/7"]
    not_a_script = ["python3", "-c", "print('/mnt/out/x')"]
    assert rewrite_argv(not_a_script, SCRIPT_PATHS, None, "") == not_a_script


def test_termination_message_is_the_logs_tail_as_kubelet_cuts_it() -> None:
    log = "".join(f"line {i}\n" for i in range(200)).encode()
    message = termination_message(log)
    assert message.splitlines() == [f"line {i}" for i in range(120, 200)]  # the last 80 lines
    long_lines = ("x" * 100 + "\n") * 50
    assert len(termination_message(long_lines.encode()).encode()) <= 2048
    assert termination_message(b"ValueError: bad key\n") == "ValueError: bad key"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("$(A)/b", "1/b"), ("$(MISSING)", "$(MISSING)"), ("$$(A)", "$(A)"), ("plain", "plain")],
)
def test_expand_vars_follows_kubernetes(value: str, expected: str) -> None:
    assert expand_vars(value, {"A": "1"}) == expected


POD = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "web"}},
    "spec": {"nodeName": "n1"},
}


def lookup(kind: str, name: str, namespace: str) -> dict[str, Any]:
    objects = {
        ("Secret", "s", "ns"): {"data": {"token": base64.b64encode(b"hf_x").decode()}},
        ("ConfigMap", "cm", "ns"): {"data": {"mode": "fast"}},
    }
    if (kind, name, namespace) not in objects:
        raise NotFound(f"{kind} {name} not found")
    return objects[(kind, name, namespace)]


def test_container_env_resolves_values_field_refs_secrets_and_config_maps() -> None:
    container = {
        "env": [
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "mode"}}},
            {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}}},
            {"name": "URL", "value": "http://$(IP):5000"},
        ]
    }
    env = container_env(POD, container, {"IMAGE_ENV": "1"}, "127.0.9.5", lookup)
    assert env == {
        "IMAGE_ENV": "1",
        "HOSTNAME": "p",
        "IP": "127.0.9.5",
        "APP": "web",
        "TOKEN": "hf_x",
        "MODE": "fast",
        "URL": "http://127.0.9.5:5000",
    }


def test_container_env_names_a_missing_secret() -> None:
    container = {"env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k"}}}]}
    with pytest.raises(ValueError, match="Secret ns/gone"):
        container_env(POD, container, {}, "127.0.0.2", lookup)


def test_parse_probe_fills_kubes_defaults_and_refuses_grpc() -> None:
    probe = parse_probe({"httpGet": {"path": "/health", "port": 5000}})
    assert probe == Probe("httpGet", {"path": "/health", "port": 5000}, 0, 10, 1, 1, 3)
    assert parse_probe(None) is None
    with pytest.raises(ValueError, match="grpc"):
        parse_probe({"grpc": {"port": 1}})


@pytest.mark.parametrize(
    ("success", "failure", "results", "verdicts"),
    [
        (1, 3, [True], [True]),
        (2, 3, [True, False, True, True], [None, None, None, True]),
        (1, 3, [True, False, False, False], [True, None, None, False]),
        (1, 2, [False, False, False, True], [None, False, None, True]),
    ],
)
def test_probe_state_flips_after_consecutive_results(
    success: int, failure: int, results: list[bool], verdicts: list[bool | None]
) -> None:
    state = ProbeState(Probe("tcpSocket", {}, success_threshold=success, failure_threshold=failure))
    assert [state.observe(r) for r in results] == verdicts


# ------------------------------------------------------------------------------------- processes on a store

# A tiny model server: /health answers 200 once $READY_FILE exists (503 before); /exit?code=N exits with N;
# SIGTERM prints a line and exits 0, unless $IGNORE_TERM is set.
SERVER = r"""
import http.server, os, signal, sys
args = sys.argv[1:]
host, port = args[args.index("--bind") + 1], int(args[args.index("--port") + 1])
print(f"serving on {host}:{port} pid {os.getpid()}", flush=True)
def term(*_):
    print("got SIGTERM", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN if os.environ.get("IGNORE_TERM") else term)
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path.startswith("/exit"):
            os._exit(int(self.path.split("=")[1]))
        ok = self.path != "/health" or os.path.exists(os.environ["READY_FILE"])
        self.send_response(200 if ok else 503); self.end_headers()
        self.wfile.write(b"hello from " + host.encode())
http.server.ThreadingHTTPServer((host, port), H).serve_forever()
"""

IMAGE = "test/python:3"
NODE = {
    "metadata": {"name": "n1"},
    "status": {
        "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True"}],
    },
}


def server_pod(name: str, ready_file: Path, *, image: str = IMAGE, **extra: Any) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 1, "failureThreshold": 2}
    container = {
        "name": "server",
        "image": image,
        "command": ["python3", "-c", SERVER],
        "args": ["--bind", "0.0.0.0", "--port", "8080"],
        "env": [{"name": "READY_FILE", "value": str(ready_file)}, *extra.pop("env", [])],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": probe,
    }
    spec = {"containers": [container], **extra}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


async def until(store: Store, check: Callable[[], Any], limit_s: float = 15.0) -> Any:
    """Wait on store events until ``check()`` is truthy; returns its value."""
    watch = store.subscribe_all()
    try:
        async with asyncio.timeout(limit_s):
            result = check()
            while not result:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.2):
                        await anext(watch)
                result = check()
            return result
    finally:
        watch.close()


def unhealthy(store: Store, name: str) -> int:
    """How many times a probe of the pod has failed (the Unhealthy events' counts)."""
    events = store.list("v1", "Event")[0]
    return sum(
        int(e.get("count") or 1)
        for e in events
        if e["reason"] == "Unhealthy" and e["involvedObject"]["name"] == name
    )


def status_of(store: Store, name: str) -> dict[str, Any]:
    try:
        return store.get("v1", "Pod", name, "default").get("status") or {}
    except NotFound:
        return {}


def is_ready(store: Store, name: str) -> bool:
    conditions = status_of(store, name).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def container_status(store: Store, name: str) -> dict[str, Any]:
    return (status_of(store, name).get("containerStatuses") or [{}])[0]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def answer(url: str) -> str:
    """The body at ``url``, or "" while nothing listens there."""
    try:
        return get(url)
    except OSError:
        return ""


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[WorkloadSimulator]:
    store = Store()
    store.create("v1", "Node", NODE)
    config = ProcessRuntimeConfig(
        images={IMAGE: ImageMapping(executables={"python3": sys.executable}, host_flag="--bind")},
        probe_time_scale=0.05,
        stop_grace_s=2,
        work_dir=tmp_path / "pods",
    )
    simulator = WorkloadSimulator(store, timings=Timings(), process_runtime=config)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_pod_serves_on_its_own_loopback_ip_and_is_ready_only_when_its_probe_passes(
    sim: WorkloadSimulator, tmp_path: Path
) -> None:
    store, ready_file = sim.store, tmp_path / "ready"
    store.create("v1", "Pod", server_pod("p", ready_file))
    store.create("v1", "Pod", server_pod("q", ready_file))
    await until(
        store, lambda: container_status(store, "p").get("started") and status_of(store, "p").get("podIP")
    )
    ip = status_of(store, "p")["podIP"]
    assert ip.startswith("127.") and ip != status_of(store, "q").get("podIP")
    await until(store, lambda: answer(f"http://{ip}:8080/") == f"hello from {ip}")  # it bound the pod IP
    await until(store, lambda: unhealthy(store, "p") >= 2)  # the readiness probe has failed, twice
    assert not is_ready(store, "p")
    ready_file.touch()
    await until(store, lambda: is_ready(store, "p") and is_ready(store, "q"))
    assert f"serving on {ip}:8080" in sim.logs("default", "p")
    events = {e["reason"] for e in store.list("v1", "Event")[0] if e["involvedObject"]["name"] == "p"}
    assert "Unhealthy" in events
    ready_file.unlink()
    await until(store, lambda: not is_ready(store, "p"))  # failureThreshold failures make it unready


async def test_an_exiting_container_is_restarted_and_its_previous_log_kept(
    sim: WorkloadSimulator, tmp_path: Path
) -> None:
    store, ready_file = sim.store, tmp_path / "ready"
    ready_file.touch()
    store.create("v1", "Pod", server_pod("p", ready_file))
    await until(store, lambda: is_ready(store, "p"))
    ip = status_of(store, "p")["podIP"]
    with pytest.raises(OSError):
        get(f"http://{ip}:8080/exit=3")
    restarted = await until(
        store, lambda: container_status(store, "p").get("restartCount") == 1 and is_ready(store, "p")
    )
    last = container_status(store, "p")["lastState"]["terminated"]
    assert restarted and (last["exitCode"], last["reason"]) == (3, "Error")
    assert "serving on" in sim.logs("default", "p", previous=True)
    assert status_of(store, "p")["podIP"] == ip  # the pod keeps its address across restarts


def pid_in_log(text: str) -> int:
    return int(text.split(" pid ")[1].split()[0])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(
    ("ignore_term", "grace", "at_least_s"),
    [(False, 30, 0.0), (True, 1, 1.0)],
    ids=["sigterm", "sigkill-after-grace"],
)
async def test_deleting_a_pod_stops_its_process(
    sim: WorkloadSimulator, tmp_path: Path, ignore_term: bool, grace: int, at_least_s: float
) -> None:
    store, ready_file = sim.store, tmp_path / "ready"
    ready_file.touch()
    env = [{"name": "IGNORE_TERM", "value": "1"}] if ignore_term else []
    store.create("v1", "Pod", server_pod("p", ready_file, env=env, terminationGracePeriodSeconds=grace))
    await until(store, lambda: is_ready(store, "p"))
    pid = pid_in_log(sim.logs("default", "p"))
    started = time.monotonic()
    store.delete("v1", "Pod", "p", "default")
    await until(store, lambda: not status_of(store, "p"))
    assert time.monotonic() - started >= at_least_s
    assert not alive(pid)


async def test_unmapped_images_stay_simulated(sim: WorkloadSimulator, tmp_path: Path) -> None:
    store = sim.store
    store.create("v1", "Pod", server_pod("p", tmp_path / "never", image="nginx:1.27"))
    await until(store, lambda: is_ready(store, "p"), limit_s=3)
    assert status_of(store, "p")["podIP"].startswith("10.244.")


async def test_a_container_without_command_fails_with_a_sentence(
    sim: WorkloadSimulator, tmp_path: Path
) -> None:
    store = sim.store
    pod = server_pod("p", tmp_path / "ready")
    del pod["spec"]["containers"][0]["command"]
    store.create("v1", "Pod", pod)
    await until(store, lambda: container_status(store, "p").get("restartCount", 0) >= 1)
    messages = [e["message"] for e in store.list("v1", "Event")[0] if e["reason"] == "Failed"]
    assert any("has no command" in m for m in messages)


async def test_an_exec_readiness_probe_runs_with_the_containers_environment(
    sim: WorkloadSimulator, tmp_path: Path
) -> None:
    store, ready_file = sim.store, tmp_path / "ready"
    pod = server_pod("p", ready_file)
    check = "import os, sys; sys.exit(0 if os.path.exists(os.environ['READY_FILE']) else 1)"
    pod["spec"]["containers"][0]["readinessProbe"] = {
        "exec": {"command": ["python3", "-c", check]},  # python3: the image mapping's wrapper on PATH
        "periodSeconds": 1,
    }
    store.create("v1", "Pod", pod)
    await until(store, lambda: container_status(store, "p").get("started"))
    await until(store, lambda: unhealthy(store, "p") >= 2)  # the exec probe has run, and failed, twice
    assert not is_ready(store, "p")
    ready_file.touch()
    await until(store, lambda: is_ready(store, "p"))


async def test_a_failing_liveness_probe_restarts_the_container(
    sim: WorkloadSimulator, tmp_path: Path
) -> None:
    store = sim.store
    pod = server_pod("p", tmp_path / "never")
    container = pod["spec"]["containers"][0]
    del container["readinessProbe"]
    container["livenessProbe"] = {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 1}
    # as on a real node, the liveness probe starts once the startup probe has passed: the server is up and
    # its SIGTERM handler installed, however slowly the interpreter started on a loaded machine
    container["startupProbe"] = {
        "httpGet": {"path": "/", "port": 8080},
        "periodSeconds": 1,
        "failureThreshold": 600,
    }
    store.create("v1", "Pod", pod)
    await until(store, lambda: container_status(store, "p").get("restartCount", 0) >= 1)
    events = [e["message"] for e in store.list("v1", "Event")[0] if e["reason"] == "Killing"]
    assert "Container server failed liveness probe, will be restarted" in events
    assert "got SIGTERM" in sim.logs("default", "p", previous=True)  # stopped gracefully, not killed


async def test_a_config_map_volume_holds_the_config_maps_keys_as_files(sim: WorkloadSimulator) -> None:
    store = sim.store
    store.create(
        "v1",
        "ConfigMap",
        {"metadata": {"name": "cfg", "namespace": "default"}, "data": {"ready": "yes", "other": "x"}},
    )
    # READY_FILE names a path inside the mount; the runtime maps it to the volume, where "ready" is a file
    pod = server_pod(
        "p",
        Path("/etc/app/ready"),
        volumes=[{"name": "app", "configMap": {"name": "cfg"}}],
    )
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "app", "mountPath": "/etc/app"}]
    store.create("v1", "Pod", pod)
    await until(store, lambda: is_ready(store, "p"))


async def test_a_missing_config_map_fails_the_container_with_its_name(
    sim: WorkloadSimulator, tmp_path: Path
) -> None:
    store = sim.store
    pod = server_pod("p", tmp_path / "ready", volumes=[{"name": "app", "configMap": {"name": "absent"}}])
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "app", "mountPath": "/etc/app"}]
    store.create("v1", "Pod", pod)
    await until(store, lambda: container_status(store, "p").get("restartCount", 0) >= 1)
    messages = [e["message"] for e in store.list("v1", "Event")[0] if e["reason"] == "Failed"]
    assert any('configmap "absent" not found' in m for m in messages)


def init_pod(init_script: str, main_script: str, **spec: Any) -> dict[str, Any]:
    """A Job-like pod: one init container and one container, both `sh -c` scripts sharing /work."""
    mount = [{"name": "work", "mountPath": "/work"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "job", "namespace": "default"},
        "spec": {
            "restartPolicy": "Never",
            "initContainers": [
                {
                    "name": "fetch",
                    "image": IMAGE,
                    "command": ["/bin/sh", "-c", init_script],
                    "volumeMounts": mount,
                }
            ],
            "containers": [
                {
                    "name": "main",
                    "image": IMAGE,
                    "command": ["/bin/sh", "-c", main_script],
                    "volumeMounts": mount,
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                }
            ],
            "volumes": [{"name": "work", "emptyDir": {}}],
            **spec,
        },
    }


def phase(store: Store, name: str) -> str:
    return str(status_of(store, name).get("phase") or "")


async def test_an_init_container_runs_as_a_process_before_the_containers(sim: WorkloadSimulator) -> None:
    store = sim.store
    # the script names /work (rewritten to the volume's directory); the main container reads what it wrote
    init = 'echo fetched > /work/data.txt; echo "$KAITO_SIM_PATH_MAP"'
    store.create("v1", "Pod", init_pod(init, "cat /work/data.txt"))
    await until(store, lambda: phase(store, "job") == "Succeeded")
    assert "fetched" in sim.logs("default", "job", "main")
    fetch = status_of(store, "job")["initContainerStatuses"][0]["state"]["terminated"]
    assert (fetch["exitCode"], fetch["reason"]) == (0, "Completed")
    assert '"/work": "' in sim.logs("default", "job", "fetch")  # the path map the process was given


async def test_a_failed_init_container_fails_a_never_restarting_pod(sim: WorkloadSimulator) -> None:
    store = sim.store
    store.create("v1", "Pod", init_pod("echo no data >&2; exit 4", "echo should not run"))
    await until(store, lambda: phase(store, "job") == "Failed")
    status = status_of(store, "job")
    fetch = status["initContainerStatuses"][0]["state"]["terminated"]
    assert (fetch["exitCode"], fetch["reason"]) == (4, "Error")
    assert "running" not in status["containerStatuses"][0]["state"]
    assert "should not run" not in sim.logs("default", "job", "fetch")


async def test_a_failed_init_container_is_retried_under_restart_policy_on_failure(
    sim: WorkloadSimulator, tmp_path: Path
) -> None:
    store, marker = sim.store, tmp_path / "tried"
    # fails the first time, succeeds the second (the marker file outlives the first attempt)
    init = f'if [ -e "{marker}" ]; then exit 0; fi; touch "{marker}"; exit 1'
    store.create("v1", "Pod", init_pod(init, "true", restartPolicy="OnFailure"))
    await until(store, lambda: phase(store, "job") == "Succeeded", limit_s=30)
    assert status_of(store, "job")["initContainerStatuses"][0]["restartCount"] == 1


async def test_a_failed_container_reports_its_logs_tail_as_termination_message(
    sim: WorkloadSimulator,
) -> None:
    store = sim.store
    store.create("v1", "Pod", init_pod("true", "echo step 1; echo 'ValueError: bad key' >&2; exit 2"))
    await until(store, lambda: phase(store, "job") == "Failed")
    terminated = container_status(store, "job")["state"]["terminated"]
    assert terminated["exitCode"] == 2
    assert terminated["message"].splitlines()[-2:] == ["step 1", "ValueError: bad key"]


async def test_what_a_container_writes_to_its_termination_log_is_its_message(sim: WorkloadSimulator) -> None:
    store = sim.store
    # /dev/termination-log (the default terminationMessagePath) is a file of the container's own here
    script = "echo noise; echo 'the sentence' > /dev/termination-log; exit 3"
    store.create("v1", "Pod", init_pod("true", script))
    await until(store, lambda: phase(store, "job") == "Failed")
    terminated = container_status(store, "job")["state"]["terminated"]
    assert (terminated["exitCode"], terminated["message"]) == (3, "the sentence")
