"""The inference objects a Workspace runs as (owned, hashed, in apply order) and how readiness is read."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.api import Workspace
from kaito.controllers.workspace_plan import resolve_plan
from kaito.controllers.workspace_workload import (
    APPLIED_HASH,
    DEFAULT_CONFIG_NAME,
    DEFAULT_INFERENCE_CONFIG,
    WorkloadProblem,
    applied_hash,
    default_config,
    inference_objects,
    metadata_only,
    trim_workload,
    workload_readiness,
)


def workspace(**inference: Any) -> Workspace:
    return Workspace.model_validate(
        {
            "metadata": {"name": "ws", "namespace": "team", "uid": "u1"},
            "resource": {"instanceType": "Standard_NC6s_v3", "labelSelector": {"matchLabels": {"a": "b"}}},
            "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}, **inference},
        }
    )


def objects(ws: Workspace, nodes: list[str] | None = None, config: str | None = None) -> list[dict[str, Any]]:
    return inference_objects(ws, resolve_plan(ws, config_text=config), nodes or ["n0"])


def test_objects_come_owned_hashed_and_in_apply_order() -> None:
    rendered = objects(workspace())
    assert [(o["kind"], o["metadata"]["name"]) for o in rendered] == [
        ("Service", "ws"),
        ("Deployment", "ws"),
    ]
    for obj in rendered:
        (owner,) = obj["metadata"]["ownerReferences"]
        assert owner == {
            "apiVersion": "kaito.sh/v1beta1",
            "kind": "Workspace",
            "name": "ws",
            "uid": "u1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
        assert obj["metadata"]["namespace"] == "team"
        assert obj["metadata"]["annotations"][APPLIED_HASH] == applied_hash(obj)


def _config_volume(obj: dict[str, Any]) -> Any:
    return next(v for v in obj["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")


def test_a_named_config_replaces_the_namespaces_default() -> None:
    rendered = objects(workspace(config="mine"), config="vllm:\n  enable-prefix-caching: true\n")
    assert [o["kind"] for o in rendered] == ["Service", "Deployment"]
    assert "--enable-prefix-caching" in rendered[-1]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert _config_volume(rendered[-1]) == {"name": "config", "configMap": {"name": "mine"}}


def test_without_a_named_config_the_namespaces_shared_default_is_mounted_not_owned() -> None:
    """KAITO's inference-params-template: one per namespace, however many Workspaces use it."""
    other = workspace()
    other = other.model_copy(update={"metadata": other.metadata.model_copy(update={"name": "b"})})
    for ws in (workspace(), other):
        assert _config_volume(objects(ws)[-1]) == {
            "name": "config",
            "configMap": {"name": DEFAULT_CONFIG_NAME},
        }
    configmap = default_config("ns")
    assert configmap["metadata"]["name"] == DEFAULT_CONFIG_NAME == "inference-params-template"
    assert configmap["metadata"]["namespace"] == "ns" and "ownerReferences" not in configmap["metadata"]
    assert configmap["data"] == {"inference_config.yaml": DEFAULT_INFERENCE_CONFIG}


def _hash(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["annotations"][APPLIED_HASH])


def test_the_hash_is_stable_and_moves_with_nodes_and_adapters() -> None:
    base = objects(workspace())[-1]
    assert _hash(objects(workspace())[-1]) == _hash(base)
    assert _hash(objects(workspace(), ["n1"])[-1]) != _hash(base)
    adapter = {"source": {"name": "ad", "image": "myregistry.azurecr.io/ad:1"}}
    with_adapter = objects(workspace(adapters=[adapter]))[-1]
    assert _hash(with_adapter) != _hash(base)
    spec = with_adapter["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["model-weights-downloader", "adapter-ad"]
    assert "--enable-lora" in spec["containers"][0]["args"]


def test_an_adapter_from_a_volume_is_mounted_where_vllm_loads_it() -> None:
    claim = {"persistentVolumeClaim": {"claimName": "tuned"}}
    adapters = [
        {"source": {"name": "ad", "volumeSource": claim}},
        {"source": {"name": "img", "image": "myregistry.azurecr.io/img:1"}},
    ]
    spec = objects(workspace(adapters=adapters))[-1]["spec"]["template"]["spec"]
    assert {"name": "adapter-volume-ad", **claim} in spec["volumes"]
    # the volume adapter needs no copy: only the weights and the image adapter have init containers
    assert [c["name"] for c in spec["initContainers"]] == ["model-weights-downloader", "adapter-img"]
    server = spec["containers"][0]
    assert {"name": "adapter-volume-ad", "mountPath": "/mnt/adapter/ad"} in server["volumeMounts"]
    assert {"name": "adapter-volume", "mountPath": "/mnt/adapter"} in server["volumeMounts"]
    modules = server["args"][server["args"].index("--lora-modules") + 1 :]
    assert modules[:2] == ["ad=/mnt/adapter/ad", "img=/mnt/adapter/img"]


def test_a_pod_template_runs_as_a_deployment_on_the_nodes() -> None:
    ws = Workspace.model_validate(
        {
            "metadata": {"name": "ws", "namespace": "team", "uid": "u1"},
            "resource": {
                "instanceType": "Standard_NC6s_v3",
                "count": 2,
                "labelSelector": {"matchLabels": {"a": "b"}},
            },
            "inference": {"template": {"spec": {"containers": [{"name": "srv", "image": "my/server:1"}]}}},
        }
    )
    *_, deployment = inference_objects(ws, resolve_plan(ws), ["n0", "n1"])
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["labels"]["kaito.sh/workspace"] == "ws"
    assert {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in pod["spec"][
        "tolerations"
    ]
    assert pod["spec"]["containers"][0]["image"] == "my/server:1"


def deployment(**status: Any) -> dict[str, Any]:
    obj = {
        "kind": "Deployment",
        "metadata": {"name": "ws", "generation": 2, "annotations": {APPLIED_HASH: "h"}},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 2,
            "replicas": 1,
            "readyReplicas": 1,
            "updatedReplicas": 1,
            **status,
        },
    }
    return obj


@pytest.mark.parametrize(
    ("obj", "wanted", "ready", "says"),
    [
        (None, "h", False, "Deployment ws: 0 of 1 pod(s) ready"),
        (deployment(), "other", False, "being updated"),
        (deployment(observedGeneration=1), "h", False, "waiting for its controller"),
        (deployment(readyReplicas=0), "h", False, "Deployment ws: 0 of 1 pod(s) ready"),
        (deployment(replicas=2), "h", False, "rolling out, 1 of 1 pod(s) updated, 1 ready"),  # an old pod
        (deployment(), "h", True, "1 of 1 pod(s) ready on port 5000"),
    ],
)
def test_readiness(obj: dict[str, Any] | None, wanted: str, ready: bool, says: str) -> None:
    desired = {
        "kind": "Deployment",
        "metadata": {"name": "ws", "annotations": {APPLIED_HASH: wanted}},
        "spec": {"replicas": 1},
    }
    readiness = workload_readiness(obj, desired)
    assert readiness.ready is ready
    assert says in readiness.message
    if obj is not None:  # what the cache keeps (no pod template, no conditions) reads the same
        rendered = {**obj, "spec": {**obj["spec"], "template": objects(workspace())[-1]["spec"]["template"]}}
        rendered["status"] = {**obj["status"], "conditions": [{"type": "Available", "status": "True"}]}
        kept = trim_workload(rendered)
        assert kept["spec"] == {"replicas": 1} and "conditions" not in kept["status"]
        assert kept["metadata"] == obj["metadata"]
        assert workload_readiness(kept, desired) == workload_readiness(rendered, desired) == readiness


def test_the_cache_keeps_a_services_metadata_which_holds_its_hash_and_owner() -> None:
    service = objects(workspace())[0]
    kept = metadata_only(service)
    assert set(kept) == {"apiVersion", "kind", "metadata"} and kept["metadata"] == service["metadata"]
    assert APPLIED_HASH in kept["metadata"]["annotations"] and kept["kind"] == "Service"


def test_a_new_workload_reads_the_same_until_a_pod_is_ready() -> None:
    """Created, seen by its controller, pods scheduled: one sentence, so one status write."""
    desired = {"kind": "Deployment", "metadata": {"name": "ws", "annotations": {APPLIED_HASH: "h"}}}
    new = deployment(readyReplicas=0, updatedReplicas=0, observedGeneration=0)
    new["metadata"]["generation"] = 1
    steps = [None, new, deployment(readyReplicas=0, updatedReplicas=0), deployment(readyReplicas=0)]
    assert len({workload_readiness(step, desired).message for step in steps}) == 1


def _with_annotations(ws: Workspace, annotations: dict[str, str]) -> Workspace:
    return ws.model_copy(update={"metadata": ws.metadata.model_copy(update={"annotations": annotations})})


@pytest.mark.parametrize(
    ("annotations", "command"),
    [
        ({}, ["python3", "-m", "kaito.serve", "vllm"]),
        ({"kaito.sh/runtime": "vllm"}, ["python3", "-m", "kaito.serve", "vllm"]),
        ({"kaito.sh/runtime": "transformers"}, ["python3", "-m", "kaito.serve", "transformers"]),
    ],
)
def test_the_runtime_annotation_selects_the_serving_runtime(
    annotations: dict[str, str], command: list[str]
) -> None:
    deployment = objects(_with_annotations(workspace(), annotations))[-1]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == [*command, "--kaito-config-file", "/mnt/config/inference_config.yaml"]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": "config", "configMap": {"name": DEFAULT_CONFIG_NAME}} in volumes


def test_an_unknown_runtime_annotation_is_refused_naming_it() -> None:
    with pytest.raises(WorkloadProblem, match=r"kaito.sh/runtime\] is 'tgi'; use one of vllm, transformers"):
        objects(_with_annotations(workspace(), {"kaito.sh/runtime": "tgi"}))


def test_a_mig_workspace_requests_its_slice_not_whole_gpus() -> None:
    from kaito.controllers.workspace_workload import workload_request

    body = {
        "metadata": {"name": "ws", "namespace": "default", "uid": "u1"},
        "resource": {
            "labelSelector": {"matchLabels": {"a": "b"}},
            "partition": {"mode": "mig", "profile": "2g.24gb"},
        },
        "inference": {"preset": {"name": "phi-4-mini-instruct"}},
    }
    ws = Workspace.model_validate(body)
    a100 = {
        "metadata": {"name": "n0", "labels": {
            "a": "b", "nvidia.com/gpu.product": "NVIDIA-H100-NVL", "nvidia.com/gpu.count": "1",
            "nvidia.com/gpu.memory": "95830", "nvidia.com/cuda.compute.major": "9",
            "nvidia.com/cuda.compute.minor": "0",
        }},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }  # fmt: skip
    from kaito.controllers.workspace_plan import select_byo_nodes

    plan = resolve_plan(ws, byo_nodes=select_byo_nodes(ws, [a100]))
    request = workload_request(ws, plan, ["n0"])
    assert request.gpu_resource == "nvidia.com/mig-2g.24gb"
    container = inference_objects(ws, plan, ["n0"])[-1]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"nvidia.com/mig-2g.24gb": "1"}


@pytest.mark.parametrize(
    ("value", "service_type"), [("True", "LoadBalancer"), ("true", "ClusterIP"), (None, "ClusterIP")]
)
def test_kaitos_enablelb_annotation_makes_a_load_balancer(value: str | None, service_type: str) -> None:
    body: dict[str, Any] = {
        "metadata": {"name": "ws", "namespace": "default", "uid": "u1"},
        "resource": {
            "instanceType": "Standard_NC24ads_A100_v4",
            "labelSelector": {"matchLabels": {"a": "b"}},
        },
        "inference": {"preset": {"name": "phi-4"}},
    }
    if value is not None:
        body["metadata"]["annotations"] = {"kaito.sh/enablelb": value}
    ws = Workspace.model_validate(body)
    objects = inference_objects(ws, resolve_plan(ws), ["n0"])
    (service,) = [o for o in objects if o["kind"] == "Service"]
    assert service["spec"]["type"] == service_type
    template = objects[-1]["spec"]["template"]["spec"]
    assert {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot",
            "effect": "NoSchedule"} in template["tolerations"]  # fmt: skip
