"""The Workspace controller end to end, over HTTP on kaito.sim with the AKS endpoint (issue 7's "done when").

Each test applies what a user would apply, waits for the conditions a user would read, checks the objects
the operator made (agent pools, Machines, Deployment or StatefulSet, Services, Job), and ends by deleting
everything through the operator (the `operator` fixture's leak check: no Machine, pool or Node left). The
operator runs as the manifests' ServiceAccount with kaito.sim enforcing RBAC (issue 8), so each test also
fails if manifests/rbac lacks a permission the path needs; a test that sets `sim_options` keeps
`authorization` and `tls` on.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito import ctrl
from kaito.controllers.workspace import WorkspaceControllerOptions
from kaito.ctrl.metrics import REGISTRY
from kaito.runtimes import get_gpu_config, get_preset, plan_inference
from kaito.sim.workloads.kubelet import Timings

pytestmark = pytest.mark.integration

INVALID = Path(__file__).resolve().parents[2] / "data" / "invalid"
SAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "samples"


async def _gone(operator: Any, api_version: str, kind: str, name: str) -> None:
    async def check() -> bool:
        return all(o["metadata"]["name"] != name for o in await operator.list(api_version, kind))

    await operator.eventually(check)


async def _kubectl(kubeconfig: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "kubectl", "--kubeconfig", str(kubeconfig), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


def _phase_count(phase: str) -> float:
    value = REGISTRY.get_sample_value("kaito_workspace_phase_duration_seconds_count", {"phase": phase})
    return value or 0.0


def _columns(header: str, row: str) -> dict[str, str]:
    """kubectl's table row by column name (columns are fixed-width; an empty cell stays empty)."""
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[i - 1] == " ")]
    bounds = [*starts[1:], None]
    return {header[a:b].strip(): row[a:b].strip() for a, b in zip(starts, bounds, strict=True)}


async def test_phi3_on_nc6s_v3_gets_a_pool_a_vllm_deployment_and_a_service(
    operator: Any, kubeconfig: Path
) -> None:
    name = "workspace-phi-3-mini"
    timed = {phase: _phase_count(phase) for phase in ("node_provision", "node_ready", "workload_ready")}
    await operator.apply_sample("workspace-phi-3-mini.yaml")
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded")

    status = workspace["status"]
    assert status["state"] == "Ready"
    assert status["targetNodeCount"] == 1
    for type_ in ("ResourceReady", "InferenceReady", "WorkspaceSucceeded"):
        assert operator.condition_of(workspace, type_)["status"] == "True", type_
    (pool,) = operator.cluster.arm.pools().values()
    assert pool["properties"]["vmSize"] == "Standard_NC6s_v3"
    (machine,) = await operator.machines(name)
    assert "ownerReferences" not in machine["metadata"]  # cluster-scoped: tied by labels and workspaceRef
    assert machine["spec"]["workspaceRef"]["name"] == name
    assert machine["spec"]["provisioner"] == "aks"  # pinned: a later change of the default strands nothing
    assert machine["metadata"]["labels"]["kaito.sh/workspacenamespace"] == "default"
    assert status["workerNodes"] == [machine["status"]["nodeName"]]

    (deployment,) = await operator.list("apps/v1", "Deployment")
    assert deployment["metadata"]["ownerReferences"][0]["kind"] == "Workspace"
    assert deployment["metadata"]["ownerReferences"][0]["controller"] is True
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    plan = plan_inference(get_preset("phi-3-mini-4k-instruct"), get_gpu_config("Standard_NC6s_v3"))
    args = " ".join(container["args"])
    assert f"--max-model-len {plan.max_model_len}" in args
    assert "--tensor-parallel-size 1" in args
    assert "--dtype float16" in args  # a V100 has no bfloat16
    (service,) = [s for s in await operator.list("v1", "Service") if s["metadata"]["name"] == name]
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["ports"][0]["targetPort"] == 5000
    # the namespace's shared default (KAITO's inference-params-template), mounted by the Deployment
    (configmap,) = [
        c
        for c in await operator.list("v1", "ConfigMap")
        if c["metadata"]["name"] == "inference-params-template"
    ]
    assert "inference_config.yaml" in configmap["data"]
    assert "ownerReferences" not in configmap["metadata"]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": "config", "configMap": {"name": "inference-params-template"}} in volumes

    if shutil.which("kubectl"):
        table = (await _kubectl(kubeconfig, "get", "workspace", name)).splitlines()
        columns = _columns(table[0], table[1])
        for column in ("RESOURCEREADY", "INFERENCEREADY", "WORKSPACESUCCEEDED"):
            assert columns[column] == "True", table
        assert columns["INSTANCE"] == "Standard_NC6s_v3"

    # a Workspace that came up without trouble tells its plan (naming its Machine); the steps after it
    # are the conditions' business
    events = await operator.events(name)
    assert [(e["type"], e["reason"]) for e in events] == [("Normal", "Planned")], events
    assert machine["metadata"]["name"] in events[0]["message"]
    assert "Standard_NC6s_v3" in events[0]["message"]
    for phase, before in timed.items():
        assert _phase_count(phase) == before + 1, phase
    assert REGISTRY.get_sample_value("kaito_workspaces", {"state": "Ready"}) >= 1

    await operator.delete_workspace(name)
    await _gone(operator, "apps/v1", "Deployment", name)
    await _gone(operator, "v1", "Service", name)
    assert operator.cluster.arm.pools() == {}


async def test_llama_70b_on_two_nc48ads_a100_v4_runs_a_statefulset_tp2_pp2(operator: Any) -> None:
    name = "workspace-llama-3-3-70b-instruct"
    await operator.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "hf-token"},
            "stringData": {"HF_TOKEN": "x"},
        }
    )
    await operator.apply_sample("workspace-llama-3.3-70b.yaml")
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded", within=30.0)

    assert workspace["status"]["targetNodeCount"] == 2
    assert len(workspace["status"]["workerNodes"]) == 2
    assert len(await operator.machines(name)) == 2
    assert len(operator.cluster.arm.pools()) == 2
    (statefulset,) = await operator.list("apps/v1", "StatefulSet")
    assert statefulset["spec"]["replicas"] == 2
    script = statefulset["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "--tensor-parallel-size 2" in script and "--pipeline-parallel-size 2" in script
    services = {s["metadata"]["name"]: s for s in await operator.list("v1", "Service")}
    assert services[f"{name}-headless"]["spec"]["clusterIP"] == "None"
    assert services[name]["spec"]["selector"]["apps.kubernetes.io/pod-index"] == "0"

    await operator.delete_workspace(name, within=30.0)
    await _gone(operator, "apps/v1", "StatefulSet", name)
    await _gone(operator, "v1", "Service", f"{name}-headless")


async def test_bring_your_own_nodes_are_used_and_no_machine_is_created(operator: Any) -> None:
    name = "workspace-phi-3-mini-byo"
    await operator.add_gpu_node("gpu-node-0", {"apps": "phi-3-byo"})
    await operator.add_gpu_node("gpu-node-1", {"apps": "phi-3-byo"})
    await operator.add_gpu_node("other-node", {"apps": "someone-else"})
    await operator.apply_sample("workspace-phi-3-mini-byo.yaml")
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded")

    assert workspace["status"]["workerNodes"] == ["gpu-node-0"]  # preferred first, one node needed
    assert await operator.machines() == []
    assert operator.cluster.arm.pools() == {}
    (deployment,) = await operator.list("apps/v1", "Deployment")
    affinity = deployment["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    terms = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchFields"][0]["values"] == ["gpu-node-0"]

    await operator.delete_workspace(name)
    await _gone(operator, "apps/v1", "Deployment", name)
    nodes = {n["metadata"]["name"] for n in await operator.list("v1", "Node", None)}
    assert {"gpu-node-0", "gpu-node-1", "other-node"} <= nodes  # the user's nodes stay


async def test_byo_workspace_waits_for_nodes_then_runs_when_one_is_labelled(operator: Any) -> None:
    name = "workspace-phi-3-mini-byo"
    await operator.apply_sample("workspace-phi-3-mini-byo.yaml")
    workspace = await operator.wait_condition(name, "ResourceReady", "False")
    assert operator.condition_of(workspace, "ResourceReady")["reason"] == "NodesNotFound"
    assert "resource.labelSelector" in operator.condition_of(workspace, "ResourceReady")["message"]
    assert workspace["status"]["state"] == "Pending"

    await operator.add_gpu_node("gpu-node-0", {"apps": "phi-3-byo"})
    await operator.wait_condition(name, "WorkspaceSucceeded")


async def _tuning_sample(operator: Any) -> None:
    await operator.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "myregistry-push-secret"},
            "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson": '{"auths": {}}'},
        }
    )
    await operator.apply_sample("workspace-tuning-phi-3.yaml")


async def test_tuning_job_runs_to_completion(operator: Any) -> None:
    name = "workspace-tuning-phi-3"
    await _tuning_sample(operator)
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded", within=30.0)

    assert workspace["status"]["state"] == "Succeeded"
    assert operator.condition_of(workspace, "JobStarted")["status"] == "True"
    (job,) = await operator.list("batch/v1", "Job")
    pod = job["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["model-weights-downloader", "data-downloader"]
    assert [c["name"] for c in pod["containers"]] == [name, "pusher"]
    assert "fine_tuning.py" in pod["containers"][0]["command"][2]
    assert job["metadata"]["ownerReferences"][0]["name"] == name
    # no tuning.config: the trainer reads a copy of the qlora default, owned by the Workspace
    config_volume = next(v for v in pod["volumes"] if v["name"] == "config-volume")
    (config,) = [
        c for c in await operator.list("v1", "ConfigMap") if c["metadata"]["name"] == f"{name}-tuning-config"
    ]
    assert config_volume["configMap"]["name"] == config["metadata"]["name"]
    assert "load_in_4bit: true" in config["data"]["training_config.yaml"]
    assert config["metadata"]["ownerReferences"][0]["name"] == name

    await operator.delete_workspace(name)
    await _gone(operator, "batch/v1", "Job", f"{name}-tuning")


async def test_a_tuning_config_of_the_users_own_is_mounted_and_places_the_results(operator: Any) -> None:
    """tuning.config names a ConfigMap that does not exist yet: the Workspace fails naming the field; once
    the ConfigMap exists the Job mounts it (not the default) and the results volume (a PVC) where its
    output_dir says, and the tuning succeeds."""
    name = "workspace-tuning-phi-3"
    claim = {"persistentVolumeClaim": {"claimName": "adapters"}}
    sample = yaml.safe_load((SAMPLES / "workspace-tuning-phi-3.yaml").read_text())
    tuning = {**sample["tuning"], "config": "my-tuning", "output": {"volumeSource": claim}}
    await operator.apply_sample("workspace-tuning-phi-3.yaml", tuning=tuning)

    workspace = await operator.wait_condition(name, "WorkspaceSucceeded", "False", within=30.0)
    failed = operator.condition_of(workspace, "WorkspaceSucceeded")
    assert failed["reason"] == "ConfigMapNotFound"
    assert failed["message"].startswith("tuning.config: ConfigMap 'my-tuning' does not exist")

    text = "training_config:\n  TrainingArguments:\n    output_dir: adapters/phi-3\n    num_train_epochs: 1\n"
    await operator.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "my-tuning"},
            "data": {"training_config.yaml": text},
        }
    )
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded", within=30.0)
    assert operator.condition_of(workspace, "JobStarted")["status"] == "True"
    (job,) = await operator.list("batch/v1", "Job")
    pod = job["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config-volume"]["configMap"]["name"] == "my-tuning"
    assert volumes["results-volume"]["persistentVolumeClaim"] == {"claimName": "adapters"}
    trainer = pod["containers"][0]
    assert {"name": "results-volume", "mountPath": "/mnt/adapters/phi-3"} in trainer["volumeMounts"]
    assert [c["name"] for c in pod["containers"]] == [name]  # a volume output needs no pusher
    names = [c["metadata"]["name"] for c in await operator.list("v1", "ConfigMap")]
    assert f"{name}-tuning-config" not in names  # no default copy when the user gives a config


@pytest.mark.parametrize(
    "sim_options", [{"timings": Timings(job_run_s=60.0), "authorization": True, "tls": True}]
)
async def test_a_failing_tuning_job_marks_the_workspace_failed_with_the_reason(operator: Any) -> None:
    name = "workspace-tuning-phi-3"
    await _tuning_sample(operator)
    await operator.wait_condition(name, "JobStarted", within=30.0)

    async def running_pod() -> dict[str, Any] | None:
        for pod in await operator.list("v1", "Pod"):
            if (
                pod["metadata"]["labels"].get("job-name") == f"{name}-tuning"
                and pod["status"].get("phase") == "Running"
            ):
                return pod
        return None

    pod = await operator.eventually(running_pod)
    operator.cluster.workloads.fail_pod("default", pod["metadata"]["name"], exit_code=137, reason="OOMKilled")
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded", "False")

    succeeded = operator.condition_of(workspace, "WorkspaceSucceeded")
    assert workspace["status"]["state"] == "Failed"
    assert succeeded["reason"] == "BackoffLimitExceeded"
    assert "OOMKilled" in succeeded["message"] and "exit code 137" in succeeded["message"]
    await operator.wait_event(name, "BackoffLimitExceeded", "Warning")


async def test_each_invalid_workspace_gets_a_condition_naming_the_field_while_others_are_served(
    operator: Any,
) -> None:
    cases = yaml.safe_load((INVALID / "cases.yaml").read_text())["cases"]
    controller_cases = {path: case for path, case in cases.items() if case["refusedBy"] == "controller"}
    assert len(controller_cases) >= 7
    # with the admission webhook registered, each is refused at apply, naming the same field
    for path, case in controller_cases.items():
        with pytest.raises(ctrl.ApiError) as refused:
            await operator.apply(yaml.safe_load((INVALID / path).read_text()))
        assert 'admission webhook "validation.workspace.kaito.sh" denied the request' in str(refused.value)
        assert f"{case['field']}: Invalid value: " in str(refused.value), (path, str(refused.value))
    # without it (an operator run without --webhook-port), the controller reports them as conditions
    await operator.without_admission()
    names = {}
    for path in controller_cases:
        obj = yaml.safe_load((INVALID / path).read_text())
        names[path] = obj["metadata"]["name"]
        await operator.apply(obj)
    await operator.apply_sample("workspace-phi-3-mini.yaml")

    for path, case in controller_cases.items():
        workspace = await operator.wait_condition(names[path], "WorkspaceSucceeded", "False")
        condition = operator.condition_of(workspace, "WorkspaceSucceeded")
        assert condition["reason"] == "InvalidWorkspace", path
        assert case["field"] in condition["message"], (path, condition["message"])
        assert case["message"] in condition["message"], (path, condition["message"])
        assert workspace["status"]["state"] == "Failed"
    await operator.wait_condition("workspace-phi-3-mini", "WorkspaceSucceeded")
    machines = await operator.machines()
    assert {m["metadata"]["labels"]["kaito.sh/workspace"] for m in machines} == {"workspace-phi-3-mini"}


async def test_a_new_instance_type_brings_new_nodes_up_before_the_old_ones_go(operator: Any) -> None:
    await operator.without_admission()  # KAITO's webhook refuses this change (test_seed)
    name = "workspace-phi-3-mini"
    await operator.apply_sample("workspace-phi-3-mini.yaml")
    await operator.wait_condition(name, "WorkspaceSucceeded")
    (old,) = await operator.machines(name)

    resource = {
        "instanceType": "Standard_NC24ads_A100_v4",
        "labelSelector": {"matchLabels": {"apps": "phi-3"}},
    }
    await operator.apply_sample("workspace-phi-3-mini.yaml", resource=resource)

    async def replaced() -> dict[str, Any] | None:
        machines = await operator.machines(name)
        workspace = await operator.workspace(name)
        settled = operator.condition_of(workspace, "WorkspaceSucceeded").get("status") == "True"
        types = {m["spec"]["instanceType"] for m in machines}
        return workspace if settled and types == {"Standard_NC24ads_A100_v4"} else None

    workspace = await operator.eventually(replaced, within=30.0)
    (new,) = await operator.machines(name)
    assert new["metadata"]["name"] != old["metadata"]["name"]
    assert workspace["status"]["workerNodes"] == [new["status"]["nodeName"]]
    (deployment,) = await operator.list("apps/v1", "Deployment")
    terms = deployment["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert terms[0]["matchFields"][0]["values"] == [new["status"]["nodeName"]]
    await operator.wait_event(name, "MachineDeleted")


async def test_a_quota_failure_surfaces_on_the_workspace_with_the_clouds_message(operator: Any) -> None:
    name = "workspace-phi-3-mini"
    operator.cluster.arm.faults.quota("Standard_NC6s_v3", limit_vcpus=0)
    await operator.apply_sample("workspace-phi-3-mini.yaml")
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded", "False")

    resource = operator.condition_of(workspace, "ResourceReady")
    assert resource["status"] == "False"
    assert resource["reason"] == "QuotaExceeded"
    assert resource["message"].startswith("resource.instanceType: Machine ")
    assert "quota" in resource["message"].lower()
    assert workspace["status"]["state"] == "Failed"
    await operator.wait_event(name, "QuotaExceeded", "Warning", says="quota")
    assert await operator.list("apps/v1", "Deployment") == []


@pytest.mark.parametrize("workspace_options", [WorkspaceControllerOptions(machine_retry_interval=1.0)])
async def test_a_failed_machine_is_replaced_after_the_retry_interval(operator: Any) -> None:
    name = "workspace-phi-3-mini"
    operator.cluster.arm.faults.quota("Standard_NC6s_v3", limit_vcpus=0)
    await operator.apply_sample("workspace-phi-3-mini.yaml")
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded", "False")
    assert "A new Machine is tried" in operator.condition_of(workspace, "ResourceReady")["message"]

    operator.cluster.arm.faults.clear()  # the quota was raised
    await operator.wait_condition(name, "WorkspaceSucceeded", within=30.0)
    await operator.wait_event(name, "MachineReplaced")


async def test_scaling_count_adds_and_removes_machines(operator: Any) -> None:
    await operator.without_admission()  # KAITO's webhook refuses this change (test_seed)
    name = "workspace-phi-3-mini"
    selector = {"matchLabels": {"apps": "phi-3"}}
    resource = {"instanceType": "Standard_NC6s_v3", "count": 2, "labelSelector": selector}
    await operator.apply_sample("workspace-phi-3-mini.yaml", resource=resource)
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded")
    assert workspace["status"]["targetNodeCount"] == 2
    assert len(await operator.machines(name)) == 2
    (deployment,) = await operator.list("apps/v1", "Deployment")
    assert deployment["spec"]["replicas"] == 2

    await operator.apply_sample("workspace-phi-3-mini.yaml", resource={**resource, "count": 1})

    async def scaled_down() -> bool:
        live = [m for m in await operator.machines(name) if "deletionTimestamp" not in m["metadata"]]
        workspace = await operator.workspace(name)
        return len(live) == 1 and workspace["status"]["targetNodeCount"] == 1

    await operator.eventually(scaled_down, within=30.0)
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded")
    assert len(workspace["status"]["workerNodes"]) == 1


async def test_changing_the_adapter_list_rolls_the_workload(operator: Any) -> None:
    name = "workspace-phi-3-mini-adapter"
    await operator.apply_sample("workspace-phi-3-mini-adapter.yaml")
    await operator.wait_condition(name, "WorkspaceSucceeded")
    (before,) = await operator.list("apps/v1", "Deployment")
    spec = before["spec"]["template"]["spec"]
    # the ORAS pull of the preset's weights artifact first, then one copy per adapter
    assert [c["name"] for c in spec["initContainers"]] == [
        "model-weights-downloader",
        "adapter-phi-3-adapter",
    ]
    assert "phi-3-adapter=/mnt/adapter/phi-3-adapter" in spec["containers"][0]["args"]

    # the second adapter is one a tuning Job wrote to a volume: mounted as it is, no copy
    claim = {"persistentVolumeClaim": {"claimName": "tuned-adapter"}}
    second = {"source": {"name": "second", "volumeSource": claim}}
    sample = yaml.safe_load((SAMPLES / "workspace-phi-3-mini-adapter.yaml").read_text())
    inference = {**sample["inference"], "adapters": [*sample["inference"]["adapters"], second]}
    await operator.apply_sample("workspace-phi-3-mini-adapter.yaml", inference=inference)

    async def rolled() -> dict[str, Any] | None:
        (deployment,) = await operator.list("apps/v1", "Deployment")
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        workspace = await operator.workspace(name)
        succeeded = operator.condition_of(workspace, "WorkspaceSucceeded")
        ready = succeeded.get("observedGeneration") == 2 and succeeded.get("status") == "True"
        return deployment if {"name": "adapter-volume-second", **claim} in volumes and ready else None

    after = await operator.eventually(rolled)
    assert after["metadata"]["generation"] > before["metadata"]["generation"]
    spec = after["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["initContainers"]] == [
        "model-weights-downloader",
        "adapter-phi-3-adapter",
    ]
    server = spec["containers"][0]
    assert {"name": "adapter-volume-second", "mountPath": "/mnt/adapter/second"} in server["volumeMounts"]
    assert "second=/mnt/adapter/second" in server["args"]


@pytest.mark.parametrize("provisioner", ["karpenter"])
async def test_phi3_through_karpenter_node_claims(operator: Any) -> None:
    name = "workspace-phi-3-mini"
    await operator.apply_sample("workspace-phi-3-mini.yaml")
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded")

    assert operator.cluster.arm.pools() == {}
    (claim,) = operator.cluster.store.list("karpenter.sh/v1", "NodeClaim")[0]
    assert claim["metadata"]["labels"]["kaito.sh/workspace"] == name
    (machine,) = await operator.machines(name)
    assert machine["spec"]["provisioner"] == "karpenter"
    assert workspace["status"]["workerNodes"] == [claim["status"]["nodeName"]]


async def test_a_named_inference_configmap_is_waited_for_checked_and_applied(operator: Any) -> None:
    name = "workspace-phi-3-mini"
    inference = {"preset": {"name": "phi-3-mini-4k-instruct"}, "config": "phi-config"}
    await operator.apply_sample("workspace-phi-3-mini.yaml", inference=inference)
    workspace = await operator.wait_condition(name, "ResourceReady", "False")
    resource = operator.condition_of(workspace, "ResourceReady")
    assert resource["reason"] == "ConfigMapNotFound"
    assert resource["message"].startswith("inference.config: ConfigMap 'phi-config' does not exist")

    def configmap(text: str) -> dict[str, Any]:
        meta = {"name": "phi-config", "namespace": "default"}
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            "data": {"inference_config.yaml": text},
        }

    await operator.apply(configmap("vllm:\n  max-model-lenn: 2048\n"))
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded", "False")
    assert operator.condition_of(workspace, "WorkspaceSucceeded")["reason"] == "InvalidInferenceConfig"
    assert "max-model-lenn" in operator.condition_of(workspace, "WorkspaceSucceeded")["message"]

    await operator.apply(configmap("vllm:\n  max-model-len: 2048\n"))
    await operator.wait_condition(name, "WorkspaceSucceeded")
    (deployment,) = await operator.list("apps/v1", "Deployment")
    assert "--max-model-len 2048" in " ".join(deployment["spec"]["template"]["spec"]["containers"][0]["args"])
    configmaps = {c["metadata"]["name"] for c in await operator.list("v1", "ConfigMap")}
    assert "inference-params-template" not in configmaps  # the default is made only when none is named
