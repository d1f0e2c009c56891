"""Shared Kubernetes rendering: labels, affinity, tolerations, Deployment / StatefulSet / Services."""

from __future__ import annotations

from kaito.runtimes.request import Adapter, WorkloadRequest
from kaito.runtimes.workload import (
    adapter_init_containers,
    adapter_mounts,
    leader_address,
    node_affinity,
    pod_template,
    render_deployment,
    render_headless_service,
    render_service,
    render_statefulset,
    selector_labels,
)

REQUEST = WorkloadRequest(
    workspace="ws",
    namespace="team",
    labels={"app": "chat"},
    node_names=("node-b", "node-a"),
    adapters=(Adapter(name="math", image="acr.io/math:1"),),
    image_pull_secrets=("regcred",),
)


def test_node_affinity_pins_exactly_the_workspace_nodes_by_name() -> None:
    assert node_affinity([]) is None
    terms = node_affinity(["b", "a"])["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]  # type: ignore[index]
    assert terms["nodeSelectorTerms"] == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a", "b"]}]}
    ]


def test_pod_template_has_shm_gpu_tolerations_affinity_adapters_and_pull_secrets() -> None:
    template = pod_template(REQUEST, {"name": "c"})
    spec = template["spec"]
    assert template["metadata"]["labels"] == {"app": "chat", "kaito.sh/workspace": "ws"}
    assert {"name": "dshm", "emptyDir": {"medium": "Memory"}} in spec["volumes"]
    assert {"name": "adapter-volume", "emptyDir": {}} in spec["volumes"]
    assert {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in spec["tolerations"]
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert "affinity" in spec and spec["initContainers"] == adapter_init_containers(REQUEST)


def test_a_volume_adapter_is_mounted_in_its_own_directory_without_an_init_container() -> None:
    request = WorkloadRequest(
        workspace="ws",
        adapters=(Adapter(name="tuned", volume_source={"persistentVolumeClaim": {"claimName": "out"}}),),
    )
    spec = pod_template(request, {"name": "srv"})["spec"]
    assert spec["volumes"][1:] == [
        {"name": "adapter-volume-tuned", "persistentVolumeClaim": {"claimName": "out"}}
    ]
    assert "initContainers" not in spec
    assert adapter_mounts(request) == [{"name": "adapter-volume-tuned", "mountPath": "/mnt/adapter/tuned"}]


def test_adapter_init_container_copies_into_its_own_directory() -> None:
    (init,) = adapter_init_containers(REQUEST)
    assert init["name"] == "adapter-math" and init["image"] == "acr.io/math:1"
    assert init["command"][-1] == "mkdir -p /mnt/adapter/math && cp -r /data/. /mnt/adapter/math/"


def test_plain_request_has_no_optional_fields() -> None:
    spec = pod_template(WorkloadRequest(workspace="ws"), {"name": "c"})["spec"]
    assert not {"affinity", "initContainers", "imagePullSecrets"} & set(spec)
    assert [v["name"] for v in spec["volumes"]] == ["dshm"]


def test_deployment_never_surges_past_the_gpus_it_has() -> None:
    deployment = render_deployment(REQUEST, {"spec": {}}, replicas=3)
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    assert deployment["spec"]["selector"]["matchLabels"] == selector_labels(REQUEST)
    assert "ownerReferences" not in deployment["metadata"]


def test_statefulset_and_services_for_multi_node() -> None:
    sts = render_statefulset(REQUEST, {"spec": {}}, nodes=3)
    assert (sts["spec"]["replicas"], sts["spec"]["serviceName"], sts["spec"]["podManagementPolicy"]) == (
        3,
        "ws-headless",
        "Parallel",
    )
    service = render_service(REQUEST, leader_only=True)
    assert service["spec"]["selector"] == {"kaito.sh/workspace": "ws", "apps.kubernetes.io/pod-index": "0"}
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 5000, "protocol": "TCP"}]
    headless = render_headless_service(REQUEST)
    assert headless["metadata"]["name"] == "ws-headless"
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True
    assert leader_address(REQUEST) == "ws-0.ws-headless.team.svc.cluster.local:6379"


def test_single_node_service_selects_every_replica() -> None:
    assert render_service(REQUEST, leader_only=False)["spec"]["selector"] == {"kaito.sh/workspace": "ws"}
