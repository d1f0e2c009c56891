"""kubelet's pod status rules as pure functions: phase, conditions, transition times, QoS, image IDs."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.workloads.pod_status import ContainerRun, pod_phase, pod_status, qos_class

NOW = "2026-01-01T00:00:00Z"


def running(name: str = "c", ready: bool = True) -> ContainerRun:
    return ContainerRun(
        name, "img", state="running", reason="", started_at=NOW, ready=ready, container_id="id"
    )


def terminated(name: str = "c", code: int = 0, init: bool = False) -> ContainerRun:
    reason = "Completed" if code == 0 else "Error"
    return ContainerRun(
        name, "img", init=init, state="terminated", reason=reason, exit_code=code, container_id="id"
    )


def waiting(name: str = "c", restarted: bool = False) -> ContainerRun:
    last = {"exitCode": 1, "reason": "Error"} if restarted else None
    return ContainerRun(
        name, "img", reason="CrashLoopBackOff" if restarted else "ContainerCreating", last_terminated=last
    )


@pytest.mark.parametrize(
    ("policy", "init", "main", "phase"),
    [
        ("Always", [], [waiting()], "Pending"),
        ("Always", [ContainerRun("i", "img", init=True)], [waiting()], "Pending"),
        ("Always", [terminated("i", init=True)], [running()], "Running"),
        ("Never", [terminated("i", 1, init=True)], [waiting()], "Failed"),
        ("Always", [], [running(), waiting("d")], "Pending"),
        ("Always", [], [waiting(restarted=True)], "Running"),  # CrashLoopBackOff is still Running
        ("Never", [], [terminated()], "Succeeded"),
        ("Never", [], [terminated(code=2)], "Failed"),
        ("OnFailure", [], [terminated(code=2)], "Running"),
        ("Always", [], [terminated()], "Running"),
        ("Never", [], [terminated(), running("d")], "Running"),
    ],
)
def test_pod_phase(policy: str, init: list[ContainerRun], main: list[ContainerRun], phase: str) -> None:
    assert pod_phase(policy, init, main) == phase


def status(
    init: list[ContainerRun], main: list[ContainerRun], previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    return pod_status(
        previous or {},
        restart_policy="Never",
        init=init,
        main=main,
        host_ip="10.224.0.4",
        pod_ip="10.244.0.2",
        start_time=NOW,
        qos="BestEffort",
        now=NOW,
    )


def conditions(result: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c.get("reason", ""), c.get("message", "")) for c in result["conditions"]}


def test_pod_status_conditions_while_initialising() -> None:
    result = status([ContainerRun("setup", "img", init=True)], [waiting("a"), waiting("b")])
    assert conditions(result) == {
        "PodReadyToStartContainers": ("True", "", ""),
        "Initialized": ("False", "ContainersNotInitialized", "containers with incomplete status: [setup]"),
        "Ready": ("False", "ContainersNotReady", "containers with unready status: [a b]"),
        "ContainersReady": ("False", "ContainersNotReady", "containers with unready status: [a b]"),
    }
    assert result["initContainerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert (result["podIP"], result["hostIP"], result["phase"]) == ("10.244.0.2", "10.224.0.4", "Pending")


def test_pod_status_when_ready_and_when_completed() -> None:
    previous = {"conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "then"}]}
    ready = status([terminated("setup", init=True)], [running()], previous)
    assert conditions(ready)["Ready"] == ("True", "", "")
    assert conditions(ready)["PodScheduled"] == ("True", "", "")
    assert ready["containerStatuses"][0]["state"] == {"running": {"startedAt": NOW}}
    done = status([], [terminated()], previous)
    assert done["phase"] == "Succeeded"
    assert conditions(done)["Ready"] == ("False", "PodCompleted", "")
    assert conditions(done)["Initialized"] == ("True", "PodCompleted", "")


def test_transition_times_survive_unchanged_conditions() -> None:
    first = status([], [running()])
    first["conditions"][0]["lastTransitionTime"] = "earlier"
    again = pod_status(
        first,
        restart_policy="Always",
        init=[],
        main=[running()],
        host_ip="h",
        pod_ip="p",
        start_time=NOW,
        qos="BestEffort",
        now="2026-01-01T00:01:00Z",
    )
    assert again["conditions"][0]["lastTransitionTime"] == "earlier"


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ({}, "BestEffort"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
        (
            {"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            "Guaranteed",
        ),
        ({"requests": {"cpu": "500m"}, "limits": {"cpu": "1", "memory": "1Gi"}}, "Burstable"),
        ({"limits": {"nvidia.com/gpu": "1"}}, "Burstable"),
    ],
)
def test_qos_class(resources: dict[str, Any], expected: str) -> None:
    assert qos_class({"containers": [{"name": "c", "resources": resources}]}) == expected


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("nginx:1.27", "docker.io/library/nginx"),
        ("nginx", "docker.io/library/nginx"),
        ("vllm/vllm-openai:v0.6.3", "docker.io/vllm/vllm-openai"),
        ("mcr.microsoft.com/aks/kaito/llama:0.1", "mcr.microsoft.com/aks/kaito/llama"),
        ("localhost:5000/app:1", "localhost:5000/app"),
    ],
)
def test_image_ids_are_fully_qualified(image: str, repository: str) -> None:
    image_id = ContainerRun("c", image, state="running", container_id="containerd://x").status()["imageID"]
    assert image_id.startswith(f"{repository}@sha256:")
    assert len(image_id.rsplit(":", 1)[1]) == 64
