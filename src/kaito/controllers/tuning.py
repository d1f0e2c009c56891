"""The fine-tuning Job of a tuning Workspace (batch/v1) as KAITO v0.12 runs it, and its outcome: pure.

One Job `<ws>-tuning` with one pod on the Workspace's node, holding every GPU of it:

    init containers   model-weights-downloader (hosted presets: `oras pull` of the preset's weights artifact
                      into /workspace/weights, which the base image links as /workspace/tfs/weights);
                      data-downloader (input.urls: each URL fetched into /mnt/data) or puller (input.image:
                      the image's /data copied into /mnt/data with skopeo); input.volumeSource is mounted at
                      /mnt/data instead
    containers        <ws>: the base image running KAITO's trainer,
                        cd /workspace/tfs/ && python3 metrics_server.py &
                        accelerate launch --num_processes=<gpus> /workspace/tfs/fine_tuning.py
                      which reads /mnt/config/training_config.yaml (the Workspace's tuning.config, or the
                      copy of its method's default: `kaito.controllers.tuning_config`) and /mnt/data, and
                      writes the adapter and fine_tuning_completed.txt to the results volume, mounted at the
                      config's TrainingArguments.output_dir;
                      pusher (output.image only): waits for fine_tuning_completed.txt and pushes the adapter
                      (adapter_config.json, adapter_model.safetensors under /data) as an OCI image with the
                      credentials of imagePushSecret
    volumes           dshm (memory), model-weights-volume, config-volume, results-volume (emptyDir, or
                      output.volumeSource), data-volume (emptyDir, or input.volumeSource), docker-config

Presets marked test_only (kaito's own tiny models) run `python3 -m kaito.tune` in their own image instead:
the same contract (config, /mnt/data, output_dir, completion marker), on CPU.

Where this differs from KAITO, and why:
- the Job is named `<ws>-tuning` (KAITO: `<ws>`), so it never collides with an inference object's name;
- no `pause` sidecar: the pusher exits after pushing, so the pod (and the Job) completes;
- the trainer leaves fine_tuning_failed.txt when it fails, and the pusher exits on it, so a failed training
  fails the pod instead of leaving the pusher waiting forever; the trainer's container reports its last log
  lines as its termination message (FallbackToLogsOnError), which the Workspace's condition quotes;
- URLs and image references reach the shells only through environment variables, never spliced in;
- `backoffLimit` is 0: a training failure is rarely transient and a retry repeats hours of GPU time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kaito.api import Workspace
from kaito.controllers.tuning_config import CONFIG_FILE, CONFIG_MOUNT
from kaito.runtimes import GPU_RESOURCE, GPU_TOLERATIONS, WEIGHTS_PATH, GpuConfig, Preset, node_affinity

__all__ = [
    "COMPLETION_MARKER",
    "DATA_DOWNLOADER_IMAGE",
    "FAILURE_MARKER",
    "INPUT_PULLER_IMAGE",
    "OUTPUT_PUSHER_IMAGE",
    "TUNING_IMAGE",
    "WEIGHTS_DOWNLOADER_IMAGE",
    "JobOutcome",
    "TrainingConfigRef",
    "job_name",
    "job_outcome",
    "pod_failure_details",
    "render_tuning_job",
    "training_configmap",
    "training_configmap_name",
    "tuning_command",
]

TUNING_IMAGE = "mcr.microsoft.com/aks/kaito/kaito-base:0.5.0"
"""KAITO v0.12's base image (its catalog's `base` entry): the trainer and its libraries, no weights."""
WEIGHTS_TAG = "0.2.0"  # the tag of every tunable preset's weights artifact in KAITO v0.12's catalog
WEIGHTS_DOWNLOADER_IMAGE = "mcr.microsoft.com/oss/v2/oras-project/oras:v1.2.3"
DATA_DOWNLOADER_IMAGE = "curlimages/curl"
INPUT_PULLER_IMAGE = "mcr.microsoft.com/aks/skopeo:1.14.4-6"
OUTPUT_PUSHER_IMAGE = "ghcr.io/oras-project/oras:v1.2.2"
COMPLETION_MARKER = "fine_tuning_completed.txt"
FAILURE_MARKER = "fine_tuning_failed.txt"
_DATA = "/mnt/data"
_WEIGHTS = "/workspace/weights"
_PUSH_CONFIG = "/root/.docker"
_PULL_CONFIG = "/root/.docker/config.d/tuning-input"
_PHI3_TARGET_MODULES = "k_proj,q_proj,v_proj,o_proj,gate_proj,down_proj,up_proj"

_DOWNLOAD_SCRIPT = """\
set -u
for url in $DATA_URLS; do
  name=$(basename "${url%%[?#]*}")
  [ -n "$name" ] || name=data
  ok=0
  for attempt in 1 2 3; do
    if curl -sSfL --proto =http,https -o "$DATA_VOLUME_PATH/$name" "$url" && [ -s "$DATA_VOLUME_PATH/$name" ]
    then ok=1; break; fi
    echo "download of $url failed (attempt $attempt of 3)"; rm -f "$DATA_VOLUME_PATH/$name"; sleep 2
  done
  [ "$ok" = 1 ] || { echo "could not download $url after 3 attempts" >&2; exit 1; }
  echo "downloaded $url to $DATA_VOLUME_PATH/$name"
done
"""

_PULL_SCRIPT = """\
set -eu
work=$(mktemp -d)
pulled=0
for auth in '' $(find -L "$PULL_CONFIG_DIR" -type f 2>/dev/null); do
  if skopeo copy --dest-decompress ${auth:+--authfile=$auth} "docker://$INPUT_IMAGE" "dir:$work/image"
  then pulled=1; break; fi
done
[ "$pulled" = 1 ] || { echo "could not pull $INPUT_IMAGE" >&2; exit 1; }
mkdir -p "$work/rootfs"
for layer in $(skopeo inspect --format '{{ range .Layers }}{{ slice . 7 }} {{ end }}' "dir:$work/image"); do
  tar -x -f "$work/image/$layer" -C "$work/rootfs"
done
cp -R "$work/rootfs/data/." "$DATA_VOLUME_PATH/"
"""

_PUSH_SCRIPT = """\
set -eu
until [ -e "$RESULTS_DIR/fine_tuning_completed.txt" ]; do
  [ ! -e "$RESULTS_DIR/fine_tuning_failed.txt" ] || { echo "training failed; nothing to push" >&2; exit 1; }
  sleep 1
done
work=$(mktemp -d)
mkdir "$work/data"
cp "$RESULTS_DIR/adapter_config.json" "$RESULTS_DIR/adapter_model.safetensors" "$work/data/"
tar -c -f "$work/layer.tar" -C "$work" data
diff_id=$(sha256sum "$work/layer.tar" | cut -d ' ' -f 1)
gzip -9 "$work/layer.tar"
printf '{"rootfs":{"diff_ids":["sha256:%s"]}}' "$diff_id" > "$work/config.json"
printf '%s' "$ANNOTATIONS" > "$work/annotations.json"
cd "$work"
oras push --disable-path-validation --annotation-file annotations.json \\
  --config config.json:application/vnd.oci.image.config.v1+json \\
  "$OUTPUT_IMAGE" layer.tar.gz:application/vnd.oci.image.layer.v1.tar+gzip
echo "pushed the adapter to $OUTPUT_IMAGE"
"""


@dataclass(frozen=True)
class TrainingConfigRef:
    """The ConfigMap mounted at /mnt/config and the output_dir its training_config.yaml names."""

    configmap: str
    output_dir: str


def job_name(workspace: Workspace) -> str:
    """The tuning Job's name."""
    return f"{workspace.metadata.name}-tuning"


def training_configmap_name(workspace: Workspace) -> str:
    """The copy of the method's default config made for a Workspace that names no tuning.config."""
    return f"{workspace.metadata.name}-tuning-config"


def training_configmap(workspace: Workspace, text: str) -> dict[str, Any]:
    """The Workspace's copy of its method's default training config (not yet owned)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": training_configmap_name(workspace),
            "labels": {"kaito.sh/workspace": workspace.metadata.name or ""},
        },
        "data": {CONFIG_FILE: text},
    }


def tuning_command(preset: Preset, gpu_count: int, output_dir: str) -> list[str]:
    """The trainer's argv: KAITO's shell line for real presets, `kaito.tune` for kaito's test presets."""
    if preset.test_only:
        # every path in argv, so a runtime that maps image and volume paths to local ones can rewrite them
        return [
            "python3",
            "-m",
            "kaito.tune",
            f"--config={CONFIG_MOUNT}/{CONFIG_FILE}",
            f"--data-dir={_DATA}",
            f"--output-dir={output_dir}",
            f"--model={WEIGHTS_PATH}",
        ]
    kaito = (
        "cd /workspace/tfs/ && python3 metrics_server.py & "
        f"accelerate launch --num_processes={gpu_count} /workspace/tfs/fine_tuning.py"
    )
    return ["/bin/sh", "-c", f'{kaito} || {{ code=$?; touch "{output_dir}/{FAILURE_MARKER}"; exit $code; }}']


def _trainer_env(workspace: Workspace, preset: Preset) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = []
    if preset.name.lower().startswith("phi-3"):
        env.append({"name": "DEFAULT_TARGET_MODULES", "value": _PHI3_TARGET_MODULES})
    env.append({"name": "PYTORCH_CUDA_ALLOC_CONF", "value": "expandable_segments:True"})
    assert workspace.tuning is not None
    options = workspace.tuning.preset.preset_options
    if options is not None and options.model_access_secret:
        secret = {"secretKeyRef": {"name": options.model_access_secret, "key": "HF_TOKEN"}}
        env.append({"name": "HF_TOKEN", "valueFrom": secret})
    return env


def _source(name: str, source: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"name": name, **(dict(source) if source is not None else {"emptyDir": {}})}


def _projected_secrets(name: str, secrets: Iterable[str], path: str | None = None) -> dict[str, Any]:
    sources = [
        {"secret": {"name": s, "items": [{"key": ".dockerconfigjson", "path": path or f"{s}.json"}]}}
        for s in secrets
    ]
    return {"name": name, "projected": {"sources": sources}}


def render_tuning_job(
    workspace: Workspace, preset: Preset, gpu: GpuConfig, node: str, config: TrainingConfigRef
) -> dict[str, Any]:
    """The Job (not yet owned: the reconciler adds the ownerReference and hash) for a tuning Workspace."""
    tuning = workspace.tuning
    assert tuning is not None
    name = workspace.metadata.name or ""
    data_mount = {"name": "data-volume", "mountPath": _DATA}
    results_mount = {"name": "results-volume", "mountPath": config.output_dir}
    mounts: list[dict[str, Any]] = [{"name": "dshm", "mountPath": "/dev/shm"}]
    volumes: list[dict[str, Any]] = [{"name": "dshm", "emptyDir": {"medium": "Memory"}}]
    init: list[dict[str, Any]] = []
    image = TUNING_IMAGE
    if preset.test_only and preset.image_name:
        image = preset.image_name  # the tiny model is baked into the test image
    elif preset.hostable_image:
        weights = {"name": "model-weights-volume", "mountPath": _WEIGHTS}
        volumes.append({"name": "model-weights-volume", "emptyDir": {}})
        mounts.append(weights)
        artifact = f"mcr.microsoft.com/aks/kaito/kaito-{preset.name}:{WEIGHTS_TAG}"
        init.append(
            {
                "name": "model-weights-downloader",
                "image": WEIGHTS_DOWNLOADER_IMAGE,
                "command": ["oras", "pull", artifact, "-o", _WEIGHTS],
                "volumeMounts": [dict(weights)],
            }
        )
    volumes += [
        {"name": "config-volume", "configMap": {"name": config.configmap}},
        _source("results-volume", tuning.output.volume_source),
        _source("data-volume", tuning.input.volume_source),
    ]
    mounts += [{"name": "config-volume", "mountPath": CONFIG_MOUNT}, results_mount, data_mount]
    pull_secrets: list[str] = []
    if tuning.input.urls:
        init.append(
            {
                "name": "data-downloader",
                "image": DATA_DOWNLOADER_IMAGE,
                "command": ["/bin/sh", "-c", _DOWNLOAD_SCRIPT],
                "env": [
                    {"name": "DATA_URLS", "value": " ".join(tuning.input.urls)},
                    {"name": "DATA_VOLUME_PATH", "value": _DATA},
                ],
                "volumeMounts": [dict(data_mount)],
            }
        )
    elif tuning.input.image:
        secrets = list(tuning.input.image_pull_secrets or [])
        puller_mounts: list[dict[str, Any]] = [dict(data_mount)]
        if secrets:
            volumes.append(_projected_secrets("input-pull-secrets", secrets))
            puller_mounts.append({"name": "input-pull-secrets", "mountPath": _PULL_CONFIG, "readOnly": True})
        init.append(
            {
                "name": "puller",
                "image": INPUT_PULLER_IMAGE,
                "command": ["/bin/sh", "-c", _PULL_SCRIPT],
                "env": [
                    {"name": "INPUT_IMAGE", "value": tuning.input.image},
                    {"name": "DATA_VOLUME_PATH", "value": _DATA},
                    {"name": "PULL_CONFIG_DIR", "value": _PULL_CONFIG},
                ],
                "volumeMounts": puller_mounts,
            }
        )
    trainer: dict[str, Any] = {
        "name": name,
        "image": image,
        "command": tuning_command(preset, gpu.gpu_count, config.output_dir),
        "env": _trainer_env(workspace, preset),
        "resources": {
            "requests": {GPU_RESOURCE: str(gpu.gpu_count)},
            "limits": {GPU_RESOURCE: str(gpu.gpu_count)},
        },
        "ports": [{"containerPort": 5000}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": mounts,
    }
    containers = [trainer]
    pod_spec: dict[str, Any] = {"restartPolicy": "Never"}
    if tuning.output.image and tuning.output.volume_source is None:
        push_secret = tuning.output.image_push_secret or ""
        pull_secrets.append(push_secret)
        volumes.append(_projected_secrets("docker-config", [push_secret], "config.json"))
        annotations = {"$manifest": {"sh.kaito.model.name": preset.name}}
        containers.append(
            {
                "name": "pusher",
                "image": OUTPUT_PUSHER_IMAGE,
                "command": ["/bin/sh", "-c", _PUSH_SCRIPT],
                "env": [
                    {"name": "OUTPUT_IMAGE", "value": tuning.output.image},
                    {"name": "RESULTS_DIR", "value": config.output_dir},
                    {"name": "ANNOTATIONS", "value": json.dumps(annotations, separators=(",", ":"))},
                ],
                "volumeMounts": [{"name": "docker-config", "mountPath": _PUSH_CONFIG}, dict(results_mount)],
            }
        )
        pod_spec["shareProcessNamespace"] = True
    pod_spec.update(
        {
            "containers": containers,
            "volumes": volumes,
            "tolerations": [dict(t) for t in GPU_TOLERATIONS],
            "affinity": node_affinity([node]),
        }
    )
    if init:
        pod_spec["initContainers"] = init
    if pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": secret} for secret in pull_secrets]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(workspace), "labels": {"kaito.sh/workspace": name}},
        "spec": {
            "backoffLimit": 0,
            "template": {"metadata": {"labels": {"kaito.sh/workspace": name}}, "spec": pod_spec},
        },
    }


@dataclass(frozen=True)
class JobOutcome:
    """Where a Job stands (pending: no pod yet; running; succeeded; failed), with a reason and a sentence."""

    state: Literal["pending", "running", "succeeded", "failed"]
    reason: str
    message: str


def job_outcome(job: Mapping[str, Any]) -> JobOutcome:
    """Read the Job's terminal conditions (Complete / Failed), else whether its pod has started (KAITO:
    started once a pod is active, ready or succeeded)."""
    status = job.get("status") or {}
    name = (job.get("metadata") or {}).get("name", "")
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return JobOutcome("succeeded", "JobSucceeded", f"Job {name} completed")
        if condition.get("type") == "Failed":
            reason = str(condition.get("reason") or "JobFailed")
            detail = condition.get("message") or "the Job failed"
            return JobOutcome("failed", reason, f"Job {name} failed: {reason}: {detail}")
    active = int(status.get("active") or 0)
    ready = int(status.get("ready") or 0)
    if active or ready or int(status.get("succeeded") or 0):
        return JobOutcome("running", "JobRunning", f"Job {name}: {active} pod(s) running")
    return JobOutcome("pending", "JobPending", f"Job {name}: waiting for its pod to start")


def pod_failure_details(pods: Iterable[Mapping[str, Any]]) -> list[str]:
    """Why a Job's containers ended, one sentence per failed container, quoting its termination message
    (the trainer's own last words: its error, or its last log lines)."""
    details = []
    for pod in pods:
        status = pod.get("status") or {}
        for container in [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]:
            terminated = (container.get("state") or {}).get("terminated") or {}
            if not terminated or terminated.get("exitCode", 0) == 0:
                continue
            detail = (
                f"container {container.get('name')}: {terminated.get('reason', 'Error')}, "
                f"exit code {terminated.get('exitCode')}"
            )
            message = str(terminated.get("message") or "").strip()
            if message:
                detail += f": {_last_lines(message)}"
            details.append(detail)
    return details


def _last_lines(message: str, limit: int = 600) -> str:
    """The end of a termination message, on one line (Condition messages are read in one row)."""
    flat = " | ".join(line.strip() for line in message.splitlines() if line.strip())
    return flat if len(flat) <= limit else "..." + flat[-limit:]
