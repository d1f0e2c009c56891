"""The whole operator on a bad day: it converges and leaks nothing when the world misbehaves (issue 7).

Each known failure mode is injected into kaito.sim while a sample Workspace converges, over real HTTP, with
the operator running as its ServiceAccount (the `operator` fixture of this folder's conftest):

- the API server answers 409 Conflict to writes of Workspaces and Deployments, 500/503 to a burst of
  writes, and 429 with Retry-After (`cluster.faults.fail`);
- watches are dropped again and again mid-convergence, and a compaction turns the re-watch into a 410 and
  a relist (`cluster.faults.drop_watches()`, `compact()`);
- the ARM endpoint answers 429 storms and transient 5xx while agent pools are created (`arm.faults`);
- the operator process is killed half-way (every task cancelled where it stands, no graceful shutdown) and
  a fresh one is started against the same cluster (`Harness.kill_operator()` / `start_operator()`);
- bad input arrives mid-flight (an invalid Workspace, a ConfigMap of garbage YAML, an edit to an unknown
  preset).

Every test asserts what a user sees: the conditions, and the objects counted (one Machine and one agent pool
per node, one workload, its Services, no duplicate), and checks that each injected fault was actually hit
(so a test cannot pass without exercising its failure). The waits are bounded well below the controller's
30 s recheck, so a lost event fails the test instead of being papered over by the periodic resync. Each test
ends with the fixture's leak check: the Workspaces are deleted through the operator and not one Machine,
pool or provisioned Node may remain.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito.controllers.workspace import WORKSPACE
from kaito.sim.cloud.arm.errors import ArmError

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "samples"
INVALID = Path(__file__).resolve().parents[2] / "data" / "invalid"
WITHIN = 15.0  # seconds; below the controller's 30 s recheck, so only events can make a test pass


@dataclass(frozen=True)
class Sample:
    """A sample Workspace and what it converges to."""

    file: str
    name: str
    nodes: int
    workload: str  # Deployment | StatefulSet
    services: tuple[str, ...]


PHI3 = Sample("workspace-phi-3-mini.yaml", "workspace-phi-3-mini", 1, "Deployment", ("workspace-phi-3-mini",))
LLAMA70B = Sample(
    "workspace-llama-3.3-70b.yaml",
    "workspace-llama-3-3-70b-instruct",
    2,
    "StatefulSet",
    ("workspace-llama-3-3-70b-instruct", "workspace-llama-3-3-70b-instruct-headless"),
)
SAMPLE_IDS = {PHI3: "phi-3", LLAMA70B: "llama-70b"}


async def _apply(operator: Any, sample: Sample) -> None:
    if sample is LLAMA70B:  # the gated model's token, which the sample names
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hf-token"}}
        await operator.apply({**secret, "stringData": {"HF_TOKEN": "x"}})
    await operator.apply_sample(sample.file)


async def _workloads(operator: Any) -> list[dict[str, Any]]:
    return [
        *await operator.list("apps/v1", "Deployment"),
        *await operator.list("apps/v1", "StatefulSet"),
    ]


async def _assert_converged(operator: Any, sample: Sample) -> dict[str, Any]:
    """WorkspaceSucceeded, and exactly the objects the sample needs: no duplicate, nothing missing."""
    workspace = await operator.wait_condition(sample.name, "WorkspaceSucceeded", within=WITHIN)
    for type_ in ("ResourceReady", "InferenceReady"):
        assert operator.condition_of(workspace, type_)["status"] == "True", (type_, workspace["status"])
    assert workspace["status"]["state"] == "Ready"

    machines = await operator.machines()
    assert len(machines) == sample.nodes, [m["metadata"]["name"] for m in machines]
    assert {m["metadata"]["labels"]["kaito.sh/workspace"] for m in machines} == {sample.name}
    pools = operator.cluster.arm.pools()
    assert len(pools) == sample.nodes, sorted(pools)  # exactly one agent pool per Machine
    nodes = {m["status"]["nodeName"] for m in machines}
    assert len(nodes) == sample.nodes
    assert sorted(workspace["status"]["workerNodes"]) == sorted(nodes)
    cluster_nodes = {n["metadata"]["name"] for n in await operator.list("v1", "Node", None)}
    assert cluster_nodes == nodes, "a Node without a Machine, or a Machine without its Node"

    (workload,) = await _workloads(operator)
    assert (workload["kind"], workload["metadata"]["name"]) == (sample.workload, sample.name)
    assert workload["spec"]["replicas"] == sample.nodes
    services = sorted(s["metadata"]["name"] for s in await operator.list("v1", "Service"))
    assert services == sorted(sample.services)
    return workspace


async def _assert_deleted_leaves_nothing(operator: Any, sample: Sample) -> None:
    """Deleting the Workspace removes its Machines, pools and Nodes, and (by ownership) its workload."""
    await operator.delete_workspace(sample.name, within=WITHIN)
    assert await operator.machines() == []
    assert operator.cluster.arm.pools() == {}

    async def workload_gone() -> bool:
        services = await operator.list("v1", "Service")
        return not await _workloads(operator) and not services

    await operator.eventually(workload_gone, within=WITHIN)
    assert await operator.list("v1", "Node", None) == []


# ---- the API server ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiFault:
    """One `cluster.faults.fail(...)` call, armed once the user's apply has gone through."""

    count: int
    code: int
    verb: str | tuple[str, ...]
    resource: str | None = None
    retry_after: int | None = None


WRITES = ("create", "patch", "update", "delete")
API_FAULTS = {
    "409-on-workspace-writes": ApiFault(6, 409, ("patch", "update"), "workspaces"),
    "409-on-workspace-status": ApiFault(4, 409, ("patch", "update"), "workspaces/status"),
    "409-on-deployment-writes": ApiFault(4, 409, ("patch", "update"), "deployments.apps"),
    "409-on-machine-writes": ApiFault(6, 409, ("patch", "update"), "machines.kaito.sh"),
    "503-burst-on-writes": ApiFault(8, 503, WRITES),
    "500-burst-on-writes": ApiFault(12, 500, WRITES),
    "429-with-retry-after": ApiFault(2, 429, WRITES, retry_after=1),
}


@pytest.mark.parametrize("fault", API_FAULTS.values(), ids=API_FAULTS.keys())
async def test_the_operator_converges_through_api_server_errors(operator: Any, fault: ApiFault) -> None:
    """409s are re-read and retried by the next reconcile; 5xx and 429 are retried by the client (a 429
    after its Retry-After) and, when they outlast its attempts, by the work queue's backoff."""
    await _apply(operator, PHI3)
    rule = operator.cluster.faults.fail(
        fault.count, code=fault.code, verb=fault.verb, resource=fault.resource, retry_after=fault.retry_after
    )

    await operator.wait_condition(PHI3.name, "WorkspaceSucceeded", within=WITHIN)
    assert rule.hits == fault.count, f"only {rule.hits} of {fault.count} injected {fault.code}s were hit"
    await _assert_converged(operator, PHI3)
    await _assert_deleted_leaves_nothing(operator, PHI3)


# ---- watches ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", [PHI3, LLAMA70B], ids=SAMPLE_IDS.get)
async def test_dropped_watches_and_a_compaction_mid_convergence_lose_no_event(
    operator: Any, sample: Sample
) -> None:
    """Every open watch is ended six times, each time once the informers have re-watched, while the sample
    converges; before the fourth round the store forgets its history, so the next re-watch is answered 410
    Gone and the informers relist, the first relists and re-watches meeting 503s. Machines launching,
    Nodes turning Ready and the workload becoming ready happen while watches are down (or backing off, as
    a reflector does after a watch that ended at once): the Workspace still succeeds, well before the 30 s
    recheck could rescue a lost event."""
    faults = operator.cluster.faults
    lists = faults.delay(0.0, verb="list")  # no delay: it counts the LIST requests
    await _apply(operator, sample)

    closed, compacted_at, outage = [], 0, None
    apiserver = operator.cluster.apiserver
    for round_ in range(6):
        # a round starts once the informers are watching again (all of them before the first drop): each
        # drop then ends live streams, however slowly the operator re-watches on a loaded machine
        wanted = 5 if round_ == 0 else 1

        async def watching(wanted: int = wanted) -> bool:
            return apiserver.open_watches >= wanted

        await operator.eventually(watching, within=WITHIN)
        if round_ == 0:
            workspace = await operator.workspace(sample.name)
            assert operator.condition_of(workspace, "WorkspaceSucceeded").get("status") != "True"
        if round_ == 3:
            compacted_at = lists.hits
            faults.compact()
            outage = faults.fail(6, code=503, verb=("list", "watch"))  # the relists meet a short outage
        closed.append(faults.drop_watches())
    await operator.wait_condition(sample.name, "WorkspaceSucceeded", within=WITHIN)
    faults.clear()

    assert sum(closed) >= 10 and closed[0] >= 5, f"watch streams closed per round: {closed}"
    assert lists.hits > compacted_at, "the compaction did not make any informer relist"
    assert outage is not None and outage.hits == 6, "the relists did not meet the injected 503s"
    await _assert_converged(operator, sample)
    await _assert_deleted_leaves_nothing(operator, sample)


# ---- the ARM endpoint -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmFault:
    """Request faults for the ARM endpoint, armed before the Workspace is applied."""

    throttled: int = 0
    retry_after_s: int = 1
    server_errors: int = 0
    status: int = 503
    sample: Sample = PHI3


ARM_FAULTS = {
    "429s-with-retry-after": ArmFault(throttled=3),
    "429s-two-pools": ArmFault(throttled=4, sample=LLAMA70B),
    "503s": ArmFault(server_errors=8),
    "500s-two-pools": ArmFault(server_errors=10, status=500, sample=LLAMA70B),
    "429s-then-502s": ArmFault(throttled=2, server_errors=6, status=502),
    # Retry-After: 0 once stranded the Machine (requeue_after=0 requeued nothing; fixed in ba551f9)
    "429-storm-retry-after-0": ArmFault(throttled=25, retry_after_s=0),
}


@pytest.mark.parametrize("fault", ARM_FAULTS.values(), ids=ARM_FAULTS.keys())
async def test_agent_pools_are_created_through_arm_throttling_and_server_errors(
    operator: Any, fault: ArmFault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Throttling and transient 5xx while pools are created (the PUT and the operation polls) delay the
    Workspace; they never fail it, and never leave a second pool behind."""
    arm = operator.cluster.arm
    answered: list[ArmError] = []
    take = arm.faults.take_request_fault

    def counted(method: str) -> ArmError | None:
        error = take(method)
        if error is not None:
            answered.append(error)
        return error

    monkeypatch.setattr(arm.faults, "take_request_fault", counted)
    if fault.throttled:
        arm.faults.throttle(fault.throttled, retry_after_s=fault.retry_after_s)
    if fault.server_errors:
        arm.faults.server_errors(fault.server_errors, status=fault.status)
    await _apply(operator, fault.sample)
    try:
        await operator.wait_condition(fault.sample.name, "WorkspaceSucceeded", within=WITHIN)
    finally:
        arm.faults.clear()  # so that a failure here does not also throttle the clean-up

    assert len(answered) == fault.throttled + fault.server_errors
    workspace = await _assert_converged(operator, fault.sample)
    failed = [c for c in workspace["status"]["conditions"] if c["status"] == "False"]
    assert failed == [], failed
    await _assert_deleted_leaves_nothing(operator, fault.sample)


# ---- a killed operator ------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", [PHI3, LLAMA70B], ids=SAMPLE_IDS.get)
async def test_a_killed_operator_is_replaced_and_the_new_one_adopts_what_exists(
    operator: Any, sample: Sample
) -> None:
    """Killed twice: once right after the Machines exist (their pools still being created), before any
    workload; once after the workload exists and runs but before any status saying so was written (the
    Workspace's status writes are refused until then, so the window is certain). Each time a fresh
    operator, with empty caches, adopts what the last one made: no second Machine, pool or workload."""
    operator.cluster.arm.faults.provisioning_s = 1.0  # pools take a while: the kill lands mid-creation
    await _apply(operator, sample)

    async def machines_exist() -> bool:
        return len(await operator.machines(sample.name)) == sample.nodes

    await operator.eventually(machines_exist, within=WITHIN)
    await operator.kill_operator()
    assert await _workloads(operator) == []
    assert len(await operator.machines()) == sample.nodes

    operator.cluster.arm.faults.provisioning_s = None
    statuses = operator.cluster.faults.fail(10_000, code=503, verb="patch", resource="workspaces/status")
    before = (await operator.workspace(sample.name)).get("status") or {}
    await operator.start_operator()

    async def workload_runs() -> bool:
        ready = [w for w in await _workloads(operator) if (w.get("status") or {}).get("readyReplicas")]
        return len(ready) == 1 and ready[0]["status"]["readyReplicas"] == sample.nodes

    await operator.eventually(workload_runs, within=WITHIN)
    await operator.kill_operator()
    operator.cluster.faults.clear()
    assert statuses.hits >= 1
    workspace = await operator.workspace(sample.name)
    assert (workspace.get("status") or {}) == before  # nothing about the workload was written
    assert operator.condition_of(workspace, "InferenceReady").get("status") != "True"
    assert len(await operator.machines()) == sample.nodes
    assert len(operator.cluster.arm.pools()) == sample.nodes

    await operator.start_operator()
    await _assert_converged(operator, sample)
    await _assert_deleted_leaves_nothing(operator, sample)


async def test_an_operator_killed_after_creating_a_tuning_job_is_replaced_and_the_job_is_not_run_twice(
    operator: Any,
) -> None:
    """The tuning sample: killed once its Job exists but before any status was written (status writes are
    refused until then). The fresh operator finds the Job (same uid: not created again, so the tuning is
    not run twice) and reports its outcome: WorkspaceSucceeded, state Succeeded."""
    name = "workspace-tuning-phi-3"
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "myregistry-push-secret"}}
    docker = {".dockerconfigjson": '{"auths": {}}'}
    await operator.apply({**secret, "type": "kubernetes.io/dockerconfigjson", "stringData": docker})
    statuses = operator.cluster.faults.fail(10_000, code=503, verb="patch", resource="workspaces/status")
    await operator.apply_sample("workspace-tuning-phi-3.yaml")

    async def job() -> dict[str, Any] | None:
        jobs = await operator.list("batch/v1", "Job")
        return jobs[0] if jobs else None

    created = await operator.eventually(job, within=WITHIN)
    await operator.kill_operator()
    operator.cluster.faults.clear()
    assert statuses.hits >= 1
    assert not (await operator.workspace(name)).get("status")

    await operator.start_operator()
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded", within=WITHIN)
    assert workspace["status"]["state"] == "Succeeded"
    (finished,) = await operator.list("batch/v1", "Job")
    assert finished["metadata"]["uid"] == created["metadata"]["uid"]
    assert len(await operator.machines(name)) == 1
    assert len(operator.cluster.arm.pools()) == 1


async def test_an_operator_killed_while_deleting_is_replaced_and_the_new_one_finishes(operator: Any) -> None:
    """Killed after the Workspace's Machines were told to go but before their pools were gone: the fresh
    operator finds the Workspace still held by its finalizer, waits for the Machines, then releases it;
    not one Machine, pool or Node remains."""
    await _apply(operator, PHI3)
    await _assert_converged(operator, PHI3)
    operator.cluster.arm.service.deletion_s = 1.0  # the pool's deletion takes a while: the kill lands in it
    await operator.user.delete(WORKSPACE, PHI3.name, "default")

    async def machines_going() -> bool:
        machines = await operator.machines(PHI3.name)
        return bool(machines) and all("deletionTimestamp" in m["metadata"] for m in machines)

    await operator.eventually(machines_going, within=WITHIN)
    await operator.kill_operator()
    workspace = await operator.workspace(PHI3.name)
    assert "kaito.sh/workspace-cleanup" in workspace["metadata"]["finalizers"]
    assert len(operator.cluster.arm.pools()) == 1

    await operator.start_operator()
    await _assert_deleted_leaves_nothing(operator, PHI3)


async def test_an_operator_killed_while_replacing_nodes_leaves_one_set(operator: Any) -> None:
    """Killed while a new instanceType's Machine is coming up next to the old one (new before old): the
    fresh operator finishes the replacement; exactly one Machine and pool, of the new type, remain."""
    await operator.without_admission()  # the webhook would refuse the change at apply
    await _apply(operator, PHI3)
    await _assert_converged(operator, PHI3)
    (old,) = await operator.machines(PHI3.name)
    resource = {
        "instanceType": "Standard_NC24ads_A100_v4",
        "labelSelector": {"matchLabels": {"apps": "phi-3"}},
    }
    operator.cluster.arm.faults.provisioning_s = 1.0
    await operator.apply_sample(PHI3.file, resource=resource)

    async def both_exist() -> bool:
        return len(await operator.machines(PHI3.name)) == 2

    await operator.eventually(both_exist, within=WITHIN)
    await operator.kill_operator()
    operator.cluster.arm.faults.provisioning_s = None
    await operator.start_operator()

    async def replaced() -> dict[str, Any] | None:
        workspace = await operator.workspace(PHI3.name)
        condition = operator.condition_of(workspace, "WorkspaceSucceeded")
        types = {m["spec"]["instanceType"] for m in await operator.machines(PHI3.name)}
        done = condition.get("observedGeneration") == 2 and condition.get("status") == "True"
        return workspace if done and types == {"Standard_NC24ads_A100_v4"} else None

    await operator.eventually(replaced, within=WITHIN)
    await _assert_converged(operator, PHI3)
    (new,) = await operator.machines(PHI3.name)
    assert new["metadata"]["name"] != old["metadata"]["name"]
    (pool,) = operator.cluster.arm.pools().values()
    assert pool["properties"]["vmSize"] == "Standard_NC24ads_A100_v4"
    await _assert_deleted_leaves_nothing(operator, PHI3)


# ---- bad input --------------------------------------------------------------------------------------


def _configmap(name: str, text: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"inference_config.yaml": text},
    }


GARBAGE_YAML = "vllm: [unclosed\n  max-model-len: :\n"


async def test_bad_workspaces_applied_mid_flight_get_field_named_conditions_and_the_good_one_succeeds(
    operator: Any,
) -> None:
    """While phi-3 converges, an invalid Workspace and one whose inference ConfigMap is garbage YAML are
    applied. The good one succeeds with exactly its own objects; each bad one gets WorkspaceSucceeded=False
    naming the field, and no Machine. Fixing the ConfigMap then lets that Workspace proceed: nothing was
    lost while it was broken."""
    await operator.without_admission()  # the webhook would refuse the change at apply
    await _apply(operator, PHI3)
    invalid = yaml.safe_load((INVALID / "controller" / "unknown-inference-preset.yaml").read_text())
    await operator.apply(invalid)
    await operator.apply(_configmap("garbage-config", GARBAGE_YAML))
    garbage = yaml.safe_load((SAMPLES / PHI3.file).read_text())
    garbage["metadata"]["name"] = "workspace-garbage-config"
    garbage["inference"]["config"] = "garbage-config"
    await operator.apply(garbage)

    workspace = await operator.wait_condition(invalid["metadata"]["name"], "WorkspaceSucceeded", "False")
    condition = operator.condition_of(workspace, "WorkspaceSucceeded")
    assert condition["reason"] == "InvalidWorkspace"
    assert condition["message"].startswith("inference.preset.name: "), condition["message"]
    assert '"no-such-model-7b" is not a supported inference preset' in condition["message"]

    workspace = await operator.wait_condition("workspace-garbage-config", "WorkspaceSucceeded", "False")
    condition = operator.condition_of(workspace, "WorkspaceSucceeded")
    assert condition["reason"] == "InvalidInferenceConfig"
    assert condition["message"].startswith("inference.config: inference_config.yaml is not valid YAML")
    assert workspace["status"]["state"] == "Failed"

    await _assert_converged(operator, PHI3)  # counts: only phi-3's Machine, pool, workload and Service
    await operator.wait_event("workspace-garbage-config", "InvalidInferenceConfig", "Warning")

    await operator.apply(_configmap("garbage-config", "vllm:\n  max-model-len: 2048\n"))
    await operator.wait_condition("workspace-garbage-config", "WorkspaceSucceeded", within=WITHIN)
    assert len(await operator.machines("workspace-garbage-config")) == 1


@dataclass(frozen=True)
class BadEdit:
    """An edit that breaks a running Workspace, what it reports, and the edit that puts it right."""

    reason: str
    field: str  # the condition's message starts with it
    says: str  # and says this
    generation: int  # the Workspace generation the refusal is reported for (a ConfigMap edit adds none)


BAD_EDITS = {
    "unknown-preset": BadEdit("InvalidWorkspace", "inference.preset.name: ", "no-such-model-7b", 2),
    "garbage-configmap": BadEdit("InvalidInferenceConfig", "inference.config: ", "is not valid YAML", 1),
}
CONFIGURED = {"preset": {"name": "phi-3-mini-4k-instruct"}, "config": "phi-config"}


async def _break(operator: Any, case: str) -> None:
    if case == "unknown-preset":
        await operator.apply_sample(PHI3.file, inference={"preset": {"name": "no-such-model-7b"}})
    else:
        await operator.apply(_configmap("phi-config", GARBAGE_YAML))


async def _mend(operator: Any, case: str) -> None:
    if case == "unknown-preset":
        await operator.apply_sample(PHI3.file)
    else:
        await operator.apply(_configmap("phi-config", "vllm:\n  max-model-len: 2048\n"))


@pytest.mark.parametrize("case", BAD_EDITS)
async def test_a_bad_edit_to_a_running_workspace_is_reported_and_what_runs_keeps_running(
    operator: Any, case: str
) -> None:
    """What a user expects, and what the controller does: an edit the controller cannot carry out (an
    unknown preset; the inference ConfigMap rewritten as garbage YAML) is an error in the spec, not a
    reason to stop serving. It is reported at once (WorkspaceSucceeded=False naming the field, state
    Failed, a Warning) and nothing is torn down or re-rendered: the same Machine, pool, Deployment (same
    generation, still ready) and Service keep serving the last good rendering; InferenceReady and
    ResourceReady keep saying so (before the fix that came with this test, the garbage ConfigMap also
    flipped ResourceReady to False, reporting healthy nodes as not ready). Mending the edit succeeds again
    on the same Machine."""
    await operator.without_admission()  # the webhook would refuse the change at apply
    edit = BAD_EDITS[case]
    if case == "garbage-configmap":
        await operator.apply(_configmap("phi-config", "vllm:\n  max-model-len: 4096\n"))
        await operator.apply_sample(PHI3.file, inference=CONFIGURED)
    else:
        await _apply(operator, PHI3)
    await _assert_converged(operator, PHI3)
    (machine,) = await operator.machines(PHI3.name)
    (deployment,) = await _workloads(operator)
    pools = set(operator.cluster.arm.pools())

    await _break(operator, case)

    async def refused() -> dict[str, Any] | None:
        workspace = await operator.workspace(PHI3.name)
        condition = operator.condition_of(workspace, "WorkspaceSucceeded")
        return workspace if condition.get("reason") == edit.reason else None

    workspace = await operator.eventually(refused, within=WITHIN)
    condition = operator.condition_of(workspace, "WorkspaceSucceeded")
    assert (condition["status"], condition["observedGeneration"]) == ("False", edit.generation)
    assert condition["message"].startswith(edit.field), condition["message"]
    assert edit.says in condition["message"]
    assert workspace["status"]["state"] == "Failed"
    for type_ in ("ResourceReady", "InferenceReady"):
        assert operator.condition_of(workspace, type_)["status"] == "True", (type_, workspace["status"])
    event = await operator.wait_event(PHI3.name, edit.reason, "Warning", says=edit.says)
    assert edit.says in event["message"]

    await asyncio.sleep(0.3)  # a few reconciles' worth: nothing may have been torn down meanwhile
    (still,) = await operator.machines(PHI3.name)
    assert still["metadata"]["name"] == machine["metadata"]["name"]
    assert "deletionTimestamp" not in still["metadata"]
    assert set(operator.cluster.arm.pools()) == pools
    (running,) = await _workloads(operator)
    assert running["metadata"]["uid"] == deployment["metadata"]["uid"]
    assert running["metadata"]["generation"] == deployment["metadata"]["generation"]
    assert running["status"]["readyReplicas"] == 1
    assert [s["metadata"]["name"] for s in await operator.list("v1", "Service")] == [PHI3.name]

    await _mend(operator, case)

    async def recovered() -> bool:
        workspace = await operator.workspace(PHI3.name)
        condition = operator.condition_of(workspace, "WorkspaceSucceeded")
        return condition.get("status") == "True" and condition.get("reason") != edit.reason

    await operator.eventually(recovered, within=WITHIN)
    await _assert_converged(operator, PHI3)
    (after,) = await operator.machines(PHI3.name)
    assert after["metadata"]["name"] == machine["metadata"]["name"]
