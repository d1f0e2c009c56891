"""Kubernetes objects shared by every runtime: pod template pieces, Deployment, StatefulSet, Services.

Renders plain dicts (what a client applies), never API types. No ownerReferences: the Workspace controller
adds its own before applying. Conventions, the same for every workspace:

* selector label `kaito.sh/workspace: <workspace>`; the user's labels are added to pods and objects;
* the container runs `python3 -m kaito.serve <runtime>` (the serving program, kaito.serve) with the
  inference ConfigMap mounted at /mnt/config (`--kaito-config-file`) and, with adapters, the adapter
  directory /mnt/adapter (`--kaito-adapters-dir`);
* the model server listens on 5000; Service `<ws>` (ClusterIP, or LoadBalancer when the Workspace has
  KAITO's `kaito.sh/enablelb: "True"`) maps port 80 to it (multi-node: only pod 0, selected by
  `apps.kubernetes.io/pod-index: "0"`); headless Service `<ws>-headless` (Ray port 6379, not-ready
  addresses published) gives StatefulSet pods stable DNS names for Ray;
* pods tolerate `sku=gpu:NoSchedule` (AKS GPU pools), `nvidia.com/gpu:NoSchedule` and AKS spot pools
  `kubernetes.azure.com/scalesetpriority=spot:NoSchedule` (as KAITO does on Azure), are pinned to the
  workspace's nodes by node name, request all GPUs of a node, and get a memory-backed /dev/shm
  (NCCL and PyTorch use shared memory between GPU workers);
* a single-node Deployment rolls out with maxSurge 0 / maxUnavailable 1: every GPU is taken, so a surge pod
  could never schedule; a StatefulSet starts its pods in parallel so Ray workers can join together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from kaito.runtimes.presets import ORAS_IMAGE, RuntimeName
from kaito.runtimes.request import WorkloadRequest

__all__ = [
    "ADAPTER_MOUNT",
    "CONFIG_FILE",
    "CONFIG_MOUNT",
    "GPU_RESOURCE",
    "GPU_TOLERATIONS",
    "MODEL_PORT",
    "POD_INDEX_LABEL",
    "RAY_PORT",
    "SERVE_ENTRYPOINT",
    "SERVICE_PORT",
    "WEIGHTS_PATH",
    "WORKSPACE_LABEL",
    "Workload",
    "adapter_init_containers",
    "adapter_mounts",
    "adapter_volumes",
    "headless_service_name",
    "leader_address",
    "node_affinity",
    "pod_template",
    "render_deployment",
    "render_headless_service",
    "render_service",
    "render_statefulset",
    "selector_labels",
    "serve_options",
    "serving_mounts",
    "weights_init_container",
]

WORKSPACE_LABEL = "kaito.sh/workspace"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
GPU_RESOURCE = "nvidia.com/gpu"
MODEL_PORT = 5000
SERVICE_PORT = 80
RAY_PORT = 6379
ADAPTER_MOUNT = "/mnt/adapter"
CONFIG_MOUNT = "/mnt/config"
CONFIG_FILE = f"{CONFIG_MOUNT}/inference_config.yaml"
# The program in the inference pod (kaito.serve); the runtime's name follows, then its options.
SERVE_ENTRYPOINT = ("python3", "-m", "kaito.serve")
GPU_TOLERATIONS: tuple[dict[str, str], ...] = (
    {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
    # AKS spot node pools taint their nodes; KAITO's pods tolerate it on Azure so spot GPU nodes serve.
    {
        "key": "kubernetes.azure.com/scalesetpriority",
        "operator": "Equal",
        "value": "spot",
        "effect": "NoSchedule",
    },
)


class Workload(BaseModel):
    """Everything one workspace's inference needs applied, plus the serving command for display."""

    model_config = ConfigDict(frozen=True)

    runtime: RuntimeName
    kind: Literal["Deployment", "StatefulSet"]
    command: list[str]
    pod_template: dict[str, Any]
    workload: dict[str, Any]
    service: dict[str, Any]
    headless_service: dict[str, Any] | None = None

    def objects(self) -> list[dict[str, Any]]:
        """Objects in apply order: Services first so DNS exists when pods start."""
        ordered = [self.headless_service] if self.headless_service is not None else []
        return [*ordered, self.service, self.workload]


def selector_labels(request: WorkloadRequest) -> dict[str, str]:
    """Labels that select this workspace's pods."""
    return {WORKSPACE_LABEL: request.workspace}


def _object_labels(request: WorkloadRequest) -> dict[str, str]:
    return {**request.labels, **selector_labels(request)}


def _metadata(request: WorkloadRequest, name: str) -> dict[str, Any]:
    return {"name": name, "namespace": request.namespace, "labels": _object_labels(request)}


def headless_service_name(request: WorkloadRequest) -> str:
    """Name of the headless Service that gives StatefulSet pods DNS names."""
    return f"{request.workspace}-headless"


def leader_address(request: WorkloadRequest) -> str:
    """host:port of the Ray head (pod 0) as the other pods reach it."""
    host = f"{request.workspace}-0.{headless_service_name(request)}.{request.namespace}.svc.cluster.local"
    return f"{host}:{RAY_PORT}"


def node_affinity(node_names: Sequence[str]) -> dict[str, Any] | None:
    """Required node affinity to exactly these nodes (by name), or None when the list is empty."""
    if not node_names:
        return None
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": sorted(node_names)}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


WEIGHTS_PATH = "/workspace/vllm/weights"
"""Where the model server reads hosted weights (KAITO's path): the ORAS init container pulls them here."""
_WEIGHTS_VOLUME = "model-weights"


def weights_init_container(artifact: str) -> dict[str, Any]:
    """KAITO's `model-weights-downloader`: `oras pull <artifact>` into the weights volume."""
    return {
        "name": "model-weights-downloader",
        "image": ORAS_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["oras", "pull", artifact, "-o", WEIGHTS_PATH],
        "volumeMounts": [{"name": _WEIGHTS_VOLUME, "mountPath": WEIGHTS_PATH}],
    }


def adapter_volumes(request: WorkloadRequest) -> list[dict[str, Any]]:
    """The pod's adapter volumes: `adapter-volume` (emptyDir) that init containers fill from images, and
    one `adapter-volume-<name>` per adapter from a volume (KAITO's names)."""
    volumes: list[dict[str, Any]] = []
    if any(adapter.image is not None for adapter in request.adapters):
        volumes.append({"name": "adapter-volume", "emptyDir": {}})
    for adapter in request.adapters:
        if adapter.volume_source is not None:
            volumes.append({"name": f"adapter-volume-{adapter.name}", **adapter.volume_source})
    return volumes


def adapter_mounts(request: WorkloadRequest) -> list[dict[str, Any]]:
    """The serving container's adapter mounts: every adapter ends up in /mnt/adapter/<name>."""
    mounts: list[dict[str, Any]] = []
    if any(adapter.image is not None for adapter in request.adapters):
        mounts.append({"name": "adapter-volume", "mountPath": ADAPTER_MOUNT})
    for adapter in request.adapters:
        if adapter.volume_source is not None:
            mounts.append(
                {"name": f"adapter-volume-{adapter.name}", "mountPath": f"{ADAPTER_MOUNT}/{adapter.name}"}
            )
    return mounts


def adapter_init_containers(request: WorkloadRequest) -> list[dict[str, Any]]:
    """One init container per image adapter, copying the image's /data into /mnt/adapter/<name>."""
    containers = []
    for adapter in request.adapters:
        if adapter.image is None:
            continue  # mounted from its volume
        target = f"{ADAPTER_MOUNT}/{adapter.name}"
        containers.append(
            {
                "name": f"adapter-{adapter.name}",
                "image": adapter.image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["/bin/sh", "-c", f"mkdir -p {target} && cp -r /data/. {target}/"],
                "volumeMounts": [{"name": "adapter-volume", "mountPath": ADAPTER_MOUNT}],
            }
        )
    return containers


def serve_options(request: WorkloadRequest) -> list[str]:
    """kaito.serve's own options: the mounted inference ConfigMap and the adapter directory."""
    options: list[str] = []
    if request.config_map is not None:
        options += ["--kaito-config-file", CONFIG_FILE]
    if request.adapters:
        options += ["--kaito-adapters-dir", ADAPTER_MOUNT]
    return options


def serving_mounts(request: WorkloadRequest) -> list[dict[str, Any]]:
    """The serving container's volume mounts (the volumes `pod_template` declares)."""
    mounts: list[dict[str, Any]] = [{"name": "dshm", "mountPath": "/dev/shm"}]
    if request.config_map is not None:
        mounts.append({"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True})
    return [*mounts, *adapter_mounts(request)]


def pod_template(
    request: WorkloadRequest,
    container: dict[str, Any],
    *,
    extra_labels: dict[str, str] | None = None,
    weights_artifact: str | None = None,
) -> dict[str, Any]:
    """Pod template around the serving `container` (which must mount the volumes declared here).

    weights_artifact: an OCI artifact of hosted weights; an init container pulls it into an emptyDir that
    is mounted on the serving container at WEIGHTS_PATH (KAITO v0.12's layout).
    """
    volumes: list[dict[str, Any]] = [{"name": "dshm", "emptyDir": {"medium": "Memory"}}]
    if request.config_map is not None:
        volumes.append({"name": "config", "configMap": {"name": request.config_map}})
    volumes += adapter_volumes(request)
    init: list[dict[str, Any]] = []
    if weights_artifact is not None:
        volumes.append({"name": _WEIGHTS_VOLUME, "emptyDir": {}})
        init.append(weights_init_container(weights_artifact))
        mount = {"name": _WEIGHTS_VOLUME, "mountPath": WEIGHTS_PATH}
        container = {**container, "volumeMounts": [*container.get("volumeMounts", []), mount]}
    spec: dict[str, Any] = {
        "containers": [container],
        "tolerations": [dict(t) for t in GPU_TOLERATIONS],
        "volumes": volumes,
    }
    init += adapter_init_containers(request)
    if init:
        spec["initContainers"] = init
    affinity = node_affinity(request.node_names)
    if affinity is not None:
        spec["affinity"] = affinity
    if request.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in request.image_pull_secrets]
    labels = {**_object_labels(request), **(extra_labels or {})}
    return {"metadata": {"labels": labels}, "spec": spec}


def render_deployment(request: WorkloadRequest, template: dict[str, Any], replicas: int) -> dict[str, Any]:
    """Deployment `<ws>` running `replicas` single-node model instances."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(request, request.workspace),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector_labels(request)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            "template": template,
        },
    }


def render_statefulset(request: WorkloadRequest, template: dict[str, Any], nodes: int) -> dict[str, Any]:
    """StatefulSet `<ws>` with one pod per node of a multi-node model instance."""
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _metadata(request, request.workspace),
        "spec": {
            "replicas": nodes,
            "serviceName": headless_service_name(request),
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector_labels(request)},
            "template": template,
        },
    }


def render_service(request: WorkloadRequest, *, leader_only: bool) -> dict[str, Any]:
    """Service `<ws>`: port 80 to the model server (only pod 0 when the model spans nodes)."""
    selector = selector_labels(request)
    if leader_only:
        selector = {**selector, POD_INDEX_LABEL: "0"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(request, request.workspace),
        "spec": {
            "type": request.service_type,
            "selector": selector,
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": MODEL_PORT, "protocol": "TCP"}],
        },
    }


def render_headless_service(request: WorkloadRequest) -> dict[str, Any]:
    """Headless Service `<ws>-headless` giving each StatefulSet pod a DNS name for Ray."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(request, headless_service_name(request)),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": selector_labels(request),
            "ports": [{"name": "ray", "port": RAY_PORT, "targetPort": RAY_PORT, "protocol": "TCP"}],
        },
    }
