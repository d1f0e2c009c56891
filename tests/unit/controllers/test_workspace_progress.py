"""workspace_progress: the phases `kaito up` prints, from a Workspace and its Machines."""

from __future__ import annotations

from typing import Any

from kaito.controllers.workspace_progress import workspace_progress


def ws(
    status: dict[str, Any] | None, *, instance_type: str | None = "Standard_NC6s_v3", tuning: bool = False
) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "w"}, "resource": {}, "status": status or {}}
    if instance_type:
        obj["resource"]["instanceType"] = instance_type
    obj["tuning" if tuning else "inference"] = {}
    return obj


def conditions(**statuses: str) -> list[dict[str, str]]:
    return [{"type": t, "status": s, "reason": "R", "message": f"{t} message"} for t, s in statuses.items()]


LAUNCHED = {"metadata": {"name": "ws1"}, "status": {"conditions": [{"type": "Launched", "status": "True"}]}}


def keys(progress: Any) -> list[str]:
    return [p.key for p in progress.phases]


def test_nothing_before_the_plan() -> None:
    assert keys(workspace_progress(ws(None), [])) == []


def test_phases_accumulate_in_order() -> None:
    planned = {"targetNodeCount": 1, "conditions": conditions(ResourceReady="False")}
    assert keys(workspace_progress(ws(planned), [])) == ["validated", "planned"]
    assert keys(workspace_progress(ws(planned), [LAUNCHED])) == ["validated", "planned", "machines"]
    ready = {
        "targetNodeCount": 1,
        "workerNodes": ["n0"],
        "conditions": conditions(ResourceReady="True", InferenceReady="True", WorkspaceSucceeded="True"),
    }
    progress = workspace_progress(ws(ready), [LAUNCHED])
    assert keys(progress) == ["validated", "planned", "machines", "nodes", "workload", "ready"]
    assert progress.done and progress.failure is None
    assert progress.phases[1].line == "planned 1 node(s) of Standard_NC6s_v3"
    assert progress.phases[3].line == "nodes ready: n0"


def test_byo_and_tuning_phases() -> None:
    status = {
        "targetNodeCount": 1,
        "workerNodes": ["n0"],
        "conditions": conditions(ResourceReady="True", JobStarted="True", WorkspaceSucceeded="True"),
    }
    progress = workspace_progress(ws(status, instance_type=None, tuning=True), [])
    assert [p.line.split(":")[0] for p in progress.phases] == [
        "validated",
        "planned 1 node(s)",
        "using existing nodes (bring your own)",
        "nodes ready",
        "job started",
        "job completed",
    ]


def test_a_failure_carries_reason_and_message() -> None:
    failed = {
        "conditions": [
            {
                "type": "WorkspaceSucceeded",
                "status": "False",
                "reason": "InvalidWorkspace",
                "message": "metadata.name: bad.",
            }
        ]
    }
    progress = workspace_progress(ws(failed), [])
    assert progress.failure == "InvalidWorkspace: metadata.name: bad."
    assert not progress.done
