"""Tests of the kubelet stand-in: pods running through their lifecycle on a real store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kaito.sim.server.errors import BadRequest, NotFound
from kaito.sim.server.store import Store
from kaito.sim.workloads.kubelet import Timings
from kaito.sim.workloads.simulator import WorkloadSimulator


def test_timings_reject_negative_durations_by_name() -> None:
    with pytest.raises(ValueError, match="image_pull_s"):
        Timings(image_pull_s=-1)


# ------------------------------------------------------------------------------------ pods on a real store

NODE = {
    "metadata": {"name": "n1"},
    "status": {
        "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": "1"},
        "conditions": [{"type": "Ready", "status": "True"}],
    },
}


def make_pod(
    name: str,
    *,
    containers: tuple[str, ...] = ("main",),
    init: tuple[str, ...] = (),
    image: str = "nginx:1.27",
    annotations: dict[str, str] | None = None,
    restart_policy: str = "Always",
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "restartPolicy": restart_policy,
        "containers": [{"name": c, "image": image} for c in containers],
    }
    if init:
        spec["initContainers"] = [{"name": c, "image": "busybox:1.36"} for c in init]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
        "spec": spec,
    }


async def until(store: Store, check: Callable[[], Any]) -> Any:
    """Wait (on store events, not by polling) until ``check()`` is truthy, at most 3 s; returns its value."""
    watch = store.subscribe_all()
    try:
        async with asyncio.timeout(3.0):
            result = check()
            while not result:
                await anext(watch)
                result = check()
            return result
    finally:
        watch.close()


def pod_status_of(store: Store, name: str) -> dict[str, Any]:
    return store.get("v1", "Pod", name, "default").get("status") or {}


def ready(store: Store, name: str) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod_status_of(store, name).get("conditions", [])
    )


@pytest.fixture
async def store() -> Store:
    store = Store()
    store.create("v1", "Node", NODE)
    return store


@pytest.fixture
async def sim(store: Store) -> AsyncIterator[WorkloadSimulator]:
    simulator = WorkloadSimulator(store, timings=Timings())
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_init_containers_run_before_the_main_containers(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Pod", make_pod("p", init=("setup", "migrate")))
    await until(store, lambda: ready(store, "p"))
    result = pod_status_of(store, "p")
    finished = [s["state"]["terminated"] for s in result["initContainerStatuses"]]
    assert [(t["exitCode"], t["reason"]) for t in finished] == [(0, "Completed"), (0, "Completed")]
    assert finished[0]["finishedAt"] <= finished[1]["startedAt"]
    assert finished[1]["finishedAt"] <= result["containerStatuses"][0]["state"]["running"]["startedAt"]
    reasons = [
        e["reason"] + " " + e["involvedObject"].get("fieldPath", "") for e in store.list("v1", "Event")[0]
    ]
    assert reasons.index("Started spec.initContainers{migrate}") < reasons.index(
        "Started spec.containers{main}"
    )


async def test_crash_loop_by_annotation(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Pod", make_pod("p", annotations={"sim.kaito.sh/crash-loop": "true"}))

    def restarted_twice() -> dict[str, Any] | None:
        statuses = pod_status_of(store, "p").get("containerStatuses") or [{}]
        return (
            statuses[0]
            if statuses[0].get("restartCount", 0) >= 2 and "waiting" in statuses[0]["state"]
            else None
        )

    container = await until(store, restarted_twice)
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert "restarting failed container=main pod=p_default(" in container["state"]["waiting"]["message"]
    assert container["lastState"]["terminated"]["exitCode"] == 1
    assert container["ready"] is False
    assert pod_status_of(store, "p")["phase"] == "Running"
    assert not ready(store, "p")
    (backoff,) = [e for e in store.list("v1", "Event")[0] if e["reason"] == "BackOff"]
    assert backoff["type"] == "Warning"
    assert backoff["count"] >= 2  # aggregated, not one Event per crash
    assert "exited with code 1" in sim.logs("default", "p", previous=True)


async def test_crash_loop_programmatically_and_back(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Pod", make_pod("p", containers=("a", "b")))
    await until(store, lambda: ready(store, "p"))
    sim.set_crash_loop("default", "p", "b")

    def restarts() -> dict[str, int]:
        return {s["name"]: s["restartCount"] for s in pod_status_of(store, "p")["containerStatuses"]}

    await until(store, lambda: restarts()["b"] >= 1)
    assert restarts()["a"] == 0
    sim.set_crash_loop("default", "p", "b", enabled=False)
    await until(store, lambda: ready(store, "p"))


async def test_fail_pod(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Pod", make_pod("p"))
    await until(store, lambda: ready(store, "p"))
    sim.fail_pod("default", "p", exit_code=137, reason="OOMKilled")
    result = pod_status_of(store, "p")
    assert result["phase"] == "Failed"
    assert result["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137
    assert result["containerStatuses"][0]["state"]["terminated"]["reason"] == "OOMKilled"
    with pytest.raises(NotFound):
        sim.fail_pod("default", "nope")


@pytest.mark.parametrize(
    ("annotations", "phase", "exit_code", "reason"),
    [
        ({}, "Succeeded", 0, "Completed"),
        ({"sim.kaito.sh/fail": "true"}, "Failed", 1, "Error"),
        (
            {"sim.kaito.sh/exit-code": "42", "sim.kaito.sh/termination-reason": "OOMKilled"},
            "Failed",
            42,
            "OOMKilled",
        ),
    ],
)
async def test_run_to_completion_pods(
    store: Store, sim: WorkloadSimulator, annotations: dict[str, str], phase: str, exit_code: int, reason: str
) -> None:
    store.create("v1", "Pod", make_pod("p", restart_policy="Never", annotations=annotations))
    result = await until(
        store, lambda: (s := pod_status_of(store, "p")).get("phase") in ("Succeeded", "Failed") and s
    )
    assert result["phase"] == phase
    terminated = result["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (exit_code, reason)


async def test_ready_after_annotation_delays_readiness(store: Store) -> None:
    async with WorkloadSimulator(store, timings=Timings(ready_after_s=0.0)):
        store.create("v1", "Pod", make_pod("slow", annotations={"sim.kaito.sh/ready-after-seconds": "0.3"}))
        store.create("v1", "Pod", make_pod("fast"))
        await until(store, lambda: ready(store, "fast"))
        assert pod_status_of(store, "slow")["phase"] == "Running"
        assert not ready(store, "slow")
        await until(store, lambda: ready(store, "slow"))


async def test_logs_and_their_errors(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Pod", make_pod("llm", image="vllm/vllm-openai:v0.6.3"))
    store.create("v1", "Pod", make_pod("two", containers=("a", "b"), init=("setup",)))
    await until(store, lambda: ready(store, "llm"))
    log = sim.logs("default", "llm")
    assert 'pulled image "vllm/vllm-openai:v0.6.3"' in log
    assert "started container main" in log
    assert "Application startup complete." in log
    with pytest.raises(BadRequest, match=r"choose one of: \[a b\] or one of the init containers: \[setup\]"):
        sim.logs("default", "two")
    with pytest.raises(BadRequest, match="container c is not valid for pod two"):
        sim.logs("default", "two", "c")
    with pytest.raises(NotFound, match='pods "ghost" not found'):
        sim.logs("default", "ghost")


async def test_logs_before_the_container_starts(store: Store) -> None:
    async with WorkloadSimulator(store, timings=Timings(image_pull_s=5.0)) as sim:
        store.create("v1", "Pod", make_pod("p"))
        await until(store, lambda: pod_status_of(store, "p").get("containerStatuses"))
        with pytest.raises(
            BadRequest, match='container "main" in pod "p" is waiting to start: ContainerCreating'
        ):
            sim.logs("default", "p")


async def test_second_pull_of_a_pinned_image_is_skipped(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Pod", make_pod("a"))
    await until(store, lambda: ready(store, "a"))
    store.create("v1", "Pod", make_pod("b"))
    await until(store, lambda: ready(store, "b"))
    pulled = [e["message"] for e in store.list("v1", "Event")[0] if e["involvedObject"]["name"] == "b"]
    assert 'Container image "nginx:1.27" already present on machine' in pulled
    assert not any(m.startswith("Pulling") for m in pulled)


async def test_graceful_delete_stops_the_pod_then_removes_it(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Pod", make_pod("p"))
    await until(store, lambda: ready(store, "p"))
    marked = store.delete("v1", "Pod", "p", "default")
    assert marked["metadata"].get("deletionTimestamp")  # bound pods are deleted gracefully

    def gone() -> bool:
        try:
            store.get("v1", "Pod", "p", "default")
        except NotFound:
            return True
        return False

    await until(store, gone)
    assert not sim.kubelet.pods_on("n1")


async def test_pods_on_a_node_that_is_not_ready_wait(store: Store, sim: WorkloadSimulator) -> None:
    node = store.get("v1", "Node", "n1")
    node["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    store.update("v1", "Node", node, subresource="status")
    pod = make_pod("p")
    pod["spec"]["nodeName"] = "n1"
    store.create("v1", "Pod", pod)
    # a barrier instead of a sleep: a pod bound after p to a Ready node runs to Ready, so the kubelet has
    # seen p (it handles pods in the order the watch delivers them) and chosen to leave it waiting
    store.create("v1", "Node", {**NODE, "metadata": {**NODE["metadata"], "name": "n2"}})
    later = make_pod("q")
    later["spec"]["nodeName"] = "n2"
    store.create("v1", "Pod", later)
    await until(store, lambda: ready(store, "q"))
    assert pod_status_of(store, "p").get("phase") == "Pending"
    assert not pod_status_of(store, "p").get("containerStatuses")
    node = store.get("v1", "Node", "n1")
    node["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    store.update("v1", "Node", node, subresource="status")
    await until(store, lambda: ready(store, "p"))
