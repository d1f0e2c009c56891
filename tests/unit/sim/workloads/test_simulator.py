"""Tests of the workload simulator: the controllers, scheduler and kubelet assembled, against a real Store.

The controllers' pure functions are tested beside their modules (test_deployments.py, test_templates.py...);
here, that the names first published by this module are still importable from it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kaito.sim.server.store import Store
from kaito.sim.workloads import deployments, kubelet, pod_state, templates
from kaito.sim.workloads import simulator as workloads
from kaito.sim.workloads.simulator import POD_TEMPLATE_HASH, Timings, WorkloadSimulator

GPU_TAINT = {"key": "sku", "value": "gpu", "effect": "NoSchedule"}
GPU_TOLERATION = {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}

HOMES = {  # where each name kaito.sim.workloads.simulator re-exports now lives
    "POD_TEMPLATE_HASH": deployments,
    "Timings": kubelet,
    "deployment_conditions": deployments,
    "new_replica_set_replicas": deployments,
    "old_replica_sets_scale_down": deployments,
    "pod_is_ready": pod_state,
    "resolve_fenceposts": deployments,
    "template_hash": templates,
}


def test_names_that_moved_are_still_importable_from_workloads() -> None:
    assert sorted(workloads.__all__) == sorted([*HOMES, "WorkloadSimulator"])
    for name, home in HOMES.items():
        assert name in home.__all__
        assert getattr(workloads, name) is getattr(home, name), name


# ------------------------------------------------------------------------------------ against a real store


def make_node(name: str, *, gpus: int = 0, taints: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    allocatable = {"cpu": "8", "memory": "32Gi", "pods": "110"}
    if gpus:
        allocatable["nvidia.com/gpu"] = str(gpus)
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {"taints": taints or []},
        "status": {
            "allocatable": allocatable,
            "capacity": allocatable,
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod_template(
    app: str,
    *,
    gpus: int = 0,
    image: str = "nginx:1.27",
    tolerations: list[dict[str, Any]] | None = None,
    annotations: dict[str, str] | None = None,
    restart_policy: str | None = None,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": image}
    if gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
    spec: dict[str, Any] = {"containers": [container]}
    if tolerations:
        spec["tolerations"] = tolerations
    if restart_policy:
        spec["restartPolicy"] = restart_policy
    metadata: dict[str, Any] = {"labels": {"app": app}}
    if annotations:
        metadata["annotations"] = annotations
    return {"metadata": metadata, "spec": spec}


def deployment(name: str, replicas: int = 1, **template: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": pod_template(name, **template),
        },
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


def status_of(store: Store, api_version: str, kind: str, name: str) -> dict[str, Any]:
    return store.get(api_version, kind, name, "default").get("status") or {}


def pods(store: Store, label: str | None = None) -> list[dict[str, Any]]:
    return store.list("v1", "Pod", "default", label_selector=label)[0]


def events_for(store: Store, name: str) -> list[dict[str, Any]]:
    return [e for e in store.list("v1", "Event", "default")[0] if e["involvedObject"]["name"] == name]


@pytest.fixture
async def store() -> Store:
    return Store()


@pytest.fixture
async def sim(store: Store) -> AsyncIterator[WorkloadSimulator]:
    simulator = WorkloadSimulator(store, timings=Timings())
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_deployment_on_a_gpu_node_becomes_available(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Node", make_node("gpu-1", gpus=2, taints=[GPU_TAINT]))
    store.create("apps/v1", "Deployment", deployment("llm", replicas=2, gpus=1, tolerations=[GPU_TOLERATION]))
    loop = asyncio.get_running_loop()
    started = loop.time()
    status = await until(
        store,
        lambda: (s := status_of(store, "apps/v1", "Deployment", "llm")).get("availableReplicas") == 2 and s,
    )
    assert loop.time() - started < 1.0
    assert status["readyReplicas"] == status["updatedReplicas"] == status["replicas"] == 2
    assert status["observedGeneration"] == 1
    assert {c["type"]: c["reason"] for c in status["conditions"]} == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }
    (replica_set,) = store.list("apps/v1", "ReplicaSet", "default")[0]
    hash_ = replica_set["metadata"]["labels"][POD_TEMPLATE_HASH]
    assert replica_set["metadata"]["name"] == f"llm-{hash_}"
    assert replica_set["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    assert replica_set["metadata"]["ownerReferences"][0]["controller"] is True
    assert replica_set["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] is True
    for pod in pods(store):
        assert pod["metadata"]["name"].startswith(f"llm-{hash_}-")
        assert pod["spec"]["nodeName"] == "gpu-1"
        assert pod["status"]["phase"] == "Running"
        assert pod["status"]["podIP"].startswith("10.244.")
        assert pod["status"]["containerStatuses"][0]["ready"] is True


async def test_gpu_pod_waits_unschedulable_until_a_gpu_node_appears(
    store: Store, sim: WorkloadSimulator
) -> None:
    store.create("v1", "Node", make_node("cpu-1"))
    store.create("v1", "Node", make_node("gpu-1", gpus=1, taints=[GPU_TAINT]))
    store.create("v1", "Node", make_node("gpu-2", gpus=1, taints=[GPU_TAINT]))
    store.create("apps/v1", "Deployment", deployment("llm", gpus=1))

    def unschedulable() -> dict[str, Any] | None:
        for pod in pods(store):
            for condition in pod["status"].get("conditions") or []:
                if condition["type"] == "PodScheduled" and condition["status"] == "False":
                    return condition
        return None

    condition = await until(store, unschedulable)
    message = (
        "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) had untolerated taint {sku: gpu}."
    )
    assert condition["reason"] == "Unschedulable"
    assert condition["message"] == message
    (pod,) = pods(store)
    assert pod["status"]["phase"] == "Pending"
    warnings = [e for e in events_for(store, pod["metadata"]["name"]) if e["reason"] == "FailedScheduling"]
    assert [(w["type"], w["message"], w["source"]["component"]) for w in warnings] == [
        ("Warning", message, "default-scheduler")
    ]

    store.create("v1", "Node", make_node("gpu-3", gpus=1))
    await until(store, lambda: (p := pods(store)) and p[0]["spec"].get("nodeName") == "gpu-3")
    await until(store, lambda: status_of(store, "apps/v1", "Deployment", "llm").get("readyReplicas") == 1)


def pinned_pod(name: str, node_name: str, gpus: int = 1) -> dict[str, Any]:
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    spec = pod_template(name, gpus=gpus)["spec"]
    spec["affinity"] = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
    }
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


def scheduled_condition(store: Store, name: str) -> dict[str, Any] | None:
    pod = store.get("v1", "Pod", name, "default")
    return next((c for c in pod["status"].get("conditions") or [] if c["type"] == "PodScheduled"), None)


async def test_a_pod_pinned_to_a_node_waits_for_that_node(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Node", make_node("cpu-1"))
    store.create("v1", "Pod", pinned_pod("pinned", "gpu-9"))
    condition = await until(store, lambda: scheduled_condition(store, "pinned"))
    assert (condition["status"], condition["message"]) == (
        "False",
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
    )
    store.create("v1", "Node", make_node("gpu-9", gpus=1))
    await until(store, lambda: store.get("v1", "Pod", "pinned", "default")["spec"].get("nodeName") == "gpu-9")


async def test_a_pinned_pod_takes_the_gpu_freed_on_its_node(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Node", make_node("gpu-1", gpus=1))
    store.create("v1", "Node", make_node("gpu-2", gpus=1))
    store.create("v1", "Pod", pinned_pod("first", "gpu-1"))
    await until(store, lambda: store.get("v1", "Pod", "first", "default")["spec"].get("nodeName") == "gpu-1")
    store.create("v1", "Pod", pinned_pod("second", "gpu-1"))
    condition = await until(store, lambda: scheduled_condition(store, "second"))
    assert (condition["status"], condition["message"]) == (
        "False",
        "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, "
        "1 node(s) didn't match Pod's node affinity/selector.",
    )
    store.delete("v1", "Pod", "first", "default")
    await until(store, lambda: store.get("v1", "Pod", "second", "default")["spec"].get("nodeName") == "gpu-1")


@pytest.mark.parametrize(
    ("tolerations", "schedules"),
    [
        ([GPU_TOLERATION], True),
        ([{"key": "sku", "operator": "Exists"}], True),
        ([{"operator": "Exists"}], True),
        ([{"key": "sku", "operator": "Equal", "value": "cpu"}], False),
        ([{"key": "sku", "operator": "Exists", "effect": "NoExecute"}], False),
        (None, False),
    ],
)
async def test_tolerations_against_the_gpu_taint(
    store: Store, sim: WorkloadSimulator, tolerations: list[dict[str, Any]] | None, schedules: bool
) -> None:
    store.create("v1", "Node", make_node("gpu-1", gpus=1, taints=[GPU_TAINT]))
    store.create("apps/v1", "Deployment", deployment("llm", gpus=1, tolerations=tolerations))

    def decided() -> str | None:
        for pod in pods(store):
            if pod["spec"].get("nodeName"):
                return "bound"
            for condition in pod["status"].get("conditions") or []:
                if condition["type"] == "PodScheduled" and condition["status"] == "False":
                    return str(condition["message"])
        return None

    outcome = await until(store, decided)
    assert outcome == (
        "bound" if schedules else "0/1 nodes are available: 1 node(s) had untolerated taint {sku: gpu}."
    )


async def test_freed_gpus_let_a_waiting_pod_schedule(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Node", make_node("gpu-1", gpus=1))
    store.create("apps/v1", "Deployment", deployment("first", gpus=1))
    await until(store, lambda: status_of(store, "apps/v1", "Deployment", "first").get("readyReplicas") == 1)
    store.create("apps/v1", "Deployment", deployment("second", gpus=1))
    await until(store, lambda: any(p["status"].get("conditions") for p in pods(store, "app=second")))
    assert not pods(store, "app=second")[0]["spec"].get("nodeName")
    store.delete("apps/v1", "Deployment", "first", "default")
    for replica_set in store.list("apps/v1", "ReplicaSet", "default", label_selector="app=first")[0]:
        store.delete("apps/v1", "ReplicaSet", replica_set["metadata"]["name"], "default")
    for pod in pods(store, "app=first"):
        store.delete("v1", "Pod", pod["metadata"]["name"], "default")
    await until(store, lambda: status_of(store, "apps/v1", "Deployment", "second").get("readyReplicas") == 1)


async def test_rolling_update_scales_the_new_replica_set_up_before_the_old_down(
    store: Store, sim: WorkloadSimulator
) -> None:
    store.create("v1", "Node", make_node("n1"))
    store.create("apps/v1", "Deployment", deployment("web", replicas=1))
    await until(store, lambda: status_of(store, "apps/v1", "Deployment", "web").get("availableReplicas") == 1)
    seen: list[tuple[int, int]] = []  # (new replicas, old replicas) as ReplicaSets change
    watch = store.watch("apps/v1", "ReplicaSet", "default", resource_version=str(store.resource_version))

    current = store.get("apps/v1", "Deployment", "web", "default")
    current["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    store.update("apps/v1", "Deployment", current)

    def rolled_out() -> bool:
        status = status_of(store, "apps/v1", "Deployment", "web")
        return (
            status.get("observedGeneration") == 2
            and status.get("updatedReplicas") == status.get("replicas") == 1
        )

    async def record() -> None:
        async for _ in watch:
            sets = store.list("apps/v1", "ReplicaSet", "default")[0]
            by_image = {
                s["spec"]["template"]["spec"]["containers"][0]["image"]: s["spec"]["replicas"] for s in sets
            }
            seen.append((by_image.get("nginx:1.28", 0), by_image.get("nginx:1.27", 0)))

    recorder = asyncio.create_task(record())
    try:
        await until(store, rolled_out)
    finally:
        watch.close()
        await recorder
    assert (1, 1) in seen  # surge: the new one is up while the old one still runs
    first_old_drop = next(i for i, (_, old) in enumerate(seen) if old == 0)
    assert all(new == 1 for new, _ in seen[first_old_drop:])
    assert seen[-1] == (1, 0)
    scaling = [e["message"] for e in events_for(store, "web") if e["reason"] == "ScalingReplicaSet"]
    assert len(scaling) == 3
    assert scaling[1].startswith("Scaled up replica set web-") and scaling[1].endswith("from 0 to 1")
    assert scaling[2].startswith("Scaled down replica set web-") and scaling[2].endswith("from 1 to 0")


async def test_scaling_a_deployment_up_and_down(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Node", make_node("n1"))
    store.create("apps/v1", "Deployment", deployment("web", replicas=3))
    await until(store, lambda: status_of(store, "apps/v1", "Deployment", "web").get("availableReplicas") == 3)
    store.patch(
        "apps/v1", "Deployment", "web", {"spec": {"replicas": 1}}, "application/merge-patch+json", "default"
    )
    await until(store, lambda: status_of(store, "apps/v1", "Deployment", "web").get("replicas") == 1)
    await until(store, lambda: len(pods(store)) == 1)


async def test_controllers_never_mutate_what_the_store_holds(store: Store, sim: WorkloadSimulator) -> None:
    """The controllers read the store's own dicts (no copy); every object committed must stay as committed."""
    committed: list[tuple[dict[str, Any], str]] = []
    remove = store.add_listener(lambda change: committed.append((change.object, json.dumps(change.object))))
    try:
        store.create("v1", "Node", make_node("n1"))
        store.create("apps/v1", "Deployment", deployment("web", replicas=2))
        await until(
            store, lambda: status_of(store, "apps/v1", "Deployment", "web").get("availableReplicas") == 2
        )
        store.patch(
            "apps/v1",
            "Deployment",
            "web",
            {
                "spec": {
                    "replicas": 3,
                    "template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}},
                }
            },
            "application/strategic-merge-patch+json",
            "default",
        )

        def rolled_out() -> bool:
            status = status_of(store, "apps/v1", "Deployment", "web")
            return status.get("observedGeneration") == 2 and status.get("updatedReplicas") == 3 == status.get(
                "availableReplicas"
            )

        await until(store, rolled_out)
    finally:
        remove()
    assert len(committed) > 20
    assert [text for _, text in committed] == [json.dumps(obj) for obj, _ in committed]


async def test_statefulset_creates_ordinal_pods_in_order(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Node", make_node("n1"))
    body = {
        "metadata": {"name": "llm", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "serviceName": "llm-headless",
            "selector": {"matchLabels": {"app": "llm"}},
            "template": pod_template("llm"),
        },
    }
    store.create("apps/v1", "StatefulSet", body)
    status = await until(
        store,
        lambda: (s := status_of(store, "apps/v1", "StatefulSet", "llm")).get("readyReplicas") == 3 and s,
    )
    names = sorted(p["metadata"]["name"] for p in pods(store))
    assert names == ["llm-0", "llm-1", "llm-2"]
    for pod in pods(store):
        labels = pod["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == pod["metadata"]["name"]
        assert labels["controller-revision-hash"] == status["updateRevision"]
        assert pod["spec"]["hostname"] == pod["metadata"]["name"]
        assert pod["spec"]["subdomain"] == "llm-headless"
    assert status["currentRevision"] == status["updateRevision"]
    assert status["currentReplicas"] == status["updatedReplicas"] == status["availableReplicas"] == 3
    created = [e["message"] for e in events_for(store, "llm") if e["reason"] == "SuccessfulCreate"]
    assert created == [f"create Pod llm-{i} in StatefulSet llm successful" for i in range(3)]
    # OrderedReady: each ordinal is created only after the one before it is Ready (replayed from history).
    order: list[str] = []
    replay = store.watch("v1", "Pod", "default", resource_version="1")
    while len(order) < 6:
        event = await anext(replay)
        name = event.object["metadata"]["name"]
        ready = any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in event.object["status"].get("conditions", [])
        )
        if event.type == "ADDED":
            order.append(f"add {name}")
        elif ready and f"ready {name}" not in order:
            order.append(f"ready {name}")
    replay.close()
    assert order == ["add llm-0", "ready llm-0", "add llm-1", "ready llm-1", "add llm-2", "ready llm-2"]


async def test_statefulset_rolls_pods_from_the_highest_ordinal(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Node", make_node("n1"))
    body = {
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": "db"}},
            "template": pod_template("db"),
        },
    }
    store.create("apps/v1", "StatefulSet", body)
    await until(store, lambda: status_of(store, "apps/v1", "StatefulSet", "db").get("readyReplicas") == 2)
    old_uids = {p["metadata"]["name"]: p["metadata"]["uid"] for p in pods(store)}
    current = store.get("apps/v1", "StatefulSet", "db", "default")
    current["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    store.update("apps/v1", "StatefulSet", current)

    def done() -> dict[str, Any] | None:
        status = status_of(store, "apps/v1", "StatefulSet", "db")
        ok = status.get("observedGeneration") == 2 and status.get("currentRevision") == status.get(
            "updateRevision"
        )
        return status if ok and status.get("readyReplicas") == 2 else None

    await until(store, done)
    deleted = [e["message"] for e in events_for(store, "db") if e["reason"] == "SuccessfulDelete"]
    assert deleted == [
        "delete Pod db-1 in StatefulSet db successful",
        "delete Pod db-0 in StatefulSet db successful",
    ]
    for pod in pods(store):
        assert pod["metadata"]["uid"] != old_uids[pod["metadata"]["name"]]
        assert pod["spec"]["containers"][0]["image"] == "nginx:1.28"


def job(
    name: str, *, completions: int = 1, parallelism: int = 1, backoff_limit: int = 6, **template: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "completions": completions,
            "parallelism": parallelism,
            "backoffLimit": backoff_limit,
            "template": pod_template(name, restart_policy="Never", **template),
        },
    }


def job_condition(store: Store, name: str) -> dict[str, Any] | None:
    for condition in status_of(store, "batch/v1", "Job", name).get("conditions") or []:
        if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
            return dict(condition)
    return None


async def test_job_runs_to_completion(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Node", make_node("n1"))
    store.create("batch/v1", "Job", job("tune", completions=3, parallelism=2))
    condition = await until(store, lambda: job_condition(store, "tune"))
    status = status_of(store, "batch/v1", "Job", "tune")
    assert condition["type"] == "Complete"
    assert status["succeeded"] == 3
    assert "active" not in status and "failed" not in status
    assert status["startTime"] <= status["completionTime"]
    job_pods = pods(store)
    assert len(job_pods) == 3
    assert {p["status"]["phase"] for p in job_pods} == {"Succeeded"}
    assert all(p["metadata"]["labels"]["job-name"] == "tune" for p in job_pods)
    terminated = job_pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    assert [e["message"] for e in events_for(store, "tune") if e["reason"] == "Completed"] == [
        "Job completed"
    ]


async def test_job_fails_with_backoff_limit_exceeded(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Node", make_node("n1"))
    annotations = {"sim.kaito.sh/fail": "true", "sim.kaito.sh/exit-code": "3"}
    store.create("batch/v1", "Job", job("tune", backoff_limit=1, annotations=annotations))
    condition = await until(store, lambda: job_condition(store, "tune"))
    assert (condition["type"], condition["reason"], condition["message"]) == (
        "Failed",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    assert status_of(store, "batch/v1", "Job", "tune")["failed"] == 2
    for pod in pods(store):
        assert pod["status"]["phase"] == "Failed"
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")
    warning = [e for e in events_for(store, "tune") if e["reason"] == "BackoffLimitExceeded"]
    assert [e["type"] for e in warning] == ["Warning"]


async def test_deleted_node_takes_its_pods_with_it(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Node", make_node("n1"))
    store.create("apps/v1", "Deployment", deployment("web"))
    await until(store, lambda: status_of(store, "apps/v1", "Deployment", "web").get("readyReplicas") == 1)
    (first,) = pods(store)
    store.delete("v1", "Node", "n1")
    await until(store, lambda: all(p["metadata"]["uid"] != first["metadata"]["uid"] for p in pods(store)))
    (replacement,) = await until(store, lambda: pods(store))
    assert not replacement["spec"].get("nodeName")


async def test_stop_leaves_no_tasks_behind(store: Store) -> None:
    store.create("v1", "Node", make_node("n1"))
    before = asyncio.all_tasks()
    async with WorkloadSimulator(store) as sim:
        store.create(
            "apps/v1", "Deployment", deployment("web", annotations={"sim.kaito.sh/crash-loop": "true"})
        )
        await until(store, lambda: any(p["status"].get("containerStatuses") for p in pods(store)))
        assert sim.kubelet.pods_on("n1")
    assert asyncio.all_tasks() == before


async def test_statefulset_scales_down_from_the_highest_ordinal(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Node", make_node("n1"))
    body = {
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "db"}}, "template": pod_template("db")},
    }
    store.create("apps/v1", "StatefulSet", body)
    await until(store, lambda: status_of(store, "apps/v1", "StatefulSet", "db").get("readyReplicas") == 3)
    store.patch(
        "apps/v1", "StatefulSet", "db", {"spec": {"replicas": 1}}, "application/merge-patch+json", "default"
    )
    await until(store, lambda: status_of(store, "apps/v1", "StatefulSet", "db").get("replicas") == 1)
    assert [p["metadata"]["name"] for p in pods(store)] == ["db-0"]
    deleted = [e["message"] for e in events_for(store, "db") if e["reason"] == "SuccessfulDelete"]
    assert deleted == [
        "delete Pod db-2 in StatefulSet db successful",
        "delete Pod db-1 in StatefulSet db successful",
    ]


async def test_recreate_strategy_removes_old_pods_before_new_ones_start(
    store: Store, sim: WorkloadSimulator
) -> None:
    store.create("v1", "Node", make_node("n1"))
    body = deployment("web", replicas=2)
    body["spec"]["strategy"] = {"type": "Recreate"}
    store.create("apps/v1", "Deployment", body)
    await until(store, lambda: status_of(store, "apps/v1", "Deployment", "web").get("availableReplicas") == 2)
    rv = store.resource_version
    current = store.get("apps/v1", "Deployment", "web", "default")
    current["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    store.update("apps/v1", "Deployment", current)

    def rolled_out() -> bool:
        status = status_of(store, "apps/v1", "Deployment", "web")
        return (
            status.get("observedGeneration") == 2
            and status.get("availableReplicas") == status.get("updatedReplicas") == 2
        )

    await until(store, rolled_out)
    # Replay the pod events of the rollout: no new pod may appear while an old one still exists.
    live: set[str] = set()
    replay = store.watch("v1", "Pod", "default", resource_version=str(rv))
    added = 0
    while added < 2:
        event = await anext(replay)
        name = event.object["metadata"]["name"]
        if event.type == "DELETED":
            live.discard(name)
        elif event.type == "ADDED":
            added += 1
            assert event.object["spec"]["containers"][0]["image"] == "nginx:1.28"
            assert not live, f"{name} was created while {sorted(live)} still existed"
        elif event.object["spec"]["containers"][0]["image"] == "nginx:1.27":
            live.add(name)
    replay.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_job_active_deadline(store: Store) -> None:
    clock = FakeClock()
    store.create("v1", "Node", make_node("n1"))
    async with WorkloadSimulator(store, timings=Timings(job_run_s=60), clock=clock):
        body = job("slow")
        body["spec"]["activeDeadlineSeconds"] = 30
        store.create("batch/v1", "Job", body)
        await until(store, lambda: status_of(store, "batch/v1", "Job", "slow").get("ready") == 1)
        clock.now += timedelta(seconds=31)
        store.patch(
            "batch/v1",
            "Job",
            "slow",
            {"metadata": {"labels": {"poke": "1"}}},
            "application/merge-patch+json",
            "default",
        )
        condition = await until(store, lambda: job_condition(store, "slow"))
    assert (condition["type"], condition["reason"]) == ("Failed", "DeadlineExceeded")
    assert condition["message"] == "Job was active longer than specified deadline"


async def test_finished_job_is_deleted_after_its_ttl(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Node", make_node("n1"))
    body = job("once")
    body["spec"]["ttlSecondsAfterFinished"] = 0
    store.create("batch/v1", "Job", body)

    def gone() -> bool:
        return not store.list("batch/v1", "Job", "default")[0]

    await until(store, gone)
    assert any(e["reason"] == "Completed" for e in events_for(store, "once"))


async def test_suspended_job_runs_no_pods_until_resumed(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Node", make_node("n1"))
    body = job("later")
    body["spec"]["suspend"] = True
    store.create("batch/v1", "Job", body)

    def suspended() -> bool:
        conditions = status_of(store, "batch/v1", "Job", "later").get("conditions") or []
        return any(c["type"] == "Suspended" and c["status"] == "True" for c in conditions)

    await until(store, suspended)
    assert pods(store) == []
    store.patch(
        "batch/v1", "Job", "later", {"spec": {"suspend": False}}, "application/merge-patch+json", "default"
    )
    condition = await until(store, lambda: job_condition(store, "later"))
    assert condition["type"] == "Complete"


async def test_dropped_watches_are_resumed(store: Store, sim: WorkloadSimulator) -> None:
    store.create("v1", "Node", make_node("n1"))
    store.create("apps/v1", "Deployment", deployment("web"))
    await until(store, lambda: status_of(store, "apps/v1", "Deployment", "web").get("readyReplicas") == 1)
    assert store.drop_watches() >= 6
    store.patch(
        "apps/v1", "Deployment", "web", {"spec": {"replicas": 2}}, "application/merge-patch+json", "default"
    )
    await until(store, lambda: status_of(store, "apps/v1", "Deployment", "web").get("readyReplicas") == 2)
