"""The fine-tuning Job of a tuning Workspace (batch/v1), and what its status means: pure.

One Job `<ws>-tuning` with one pod on the Workspace's node, holding every GPU of it:

    init containers   data-downloader (input.urls: each URL fetched into /mnt/data), or data-copier
                      (input.image: the image's /data copied into /mnt/data); input.volumeSource is mounted
                      at /mnt/data instead
    containers        tuning: `accelerate launch` of the preset's fine-tuning entrypoint with --method
                      lora|qlora, reading /mnt/data, writing the adapter to /mnt/output (and the user's
                      ConfigMap tuning.config mounted at /mnt/config when given);
                      output-pusher (output.image only): waits for the tuning container's completion marker
                      and pushes /mnt/output as an OCI artifact with the credentials of imagePushSecret
    volumes           data, output (emptyDir, or the user's volumeSource), /dev/shm in memory

URLs and image references reach the shell only through environment variables, never spliced into the
script. `backoffLimit` is 0: a training failure is rarely transient and a retry repeats hours of GPU time,
so the Workspace reports the failure instead. `job_outcome` reads the Job's Complete/Failed conditions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kaito.api import Workspace
from kaito.runtimes import BASE_IMAGE, GPU_RESOURCE, GPU_TOLERATIONS, GpuConfig, Preset, node_affinity

__all__ = [
    "COMPLETION_MARKER",
    "DATA_DOWNLOADER_IMAGE",
    "OUTPUT_PUSHER_IMAGE",
    "JobOutcome",
    "job_name",
    "job_outcome",
    "render_tuning_job",
]

DATA_DOWNLOADER_IMAGE = "mcr.microsoft.com/azurelinux/base/core:3.0"
OUTPUT_PUSHER_IMAGE = "ghcr.io/oras-project/oras:v1.2.2"
COMPLETION_MARKER = "/mnt/output/fine_tuning_completed.txt"
_DATA, _OUTPUT, _CONFIG = "/mnt/data", "/mnt/output", "/mnt/config"

_DOWNLOAD_SCRIPT = (
    "set -euf; i=0; for url in $DATA_URLS; do "
    'name=$(basename "${url%%\\?*}"); [ -n "$name" ] || name="data-$i"; '
    f'curl -sSfL --retry 3 -o "{_DATA}/$i-$name" "$url"; i=$((i+1)); done'
)
_PUSH_SCRIPT = (
    f'while [ ! -f "{COMPLETION_MARKER}" ]; do sleep 10; done; cd "{_OUTPUT}" && oras push "$OUTPUT_IMAGE" .'
)


def job_name(workspace: Workspace) -> str:
    """The tuning Job's name."""
    return f"{workspace.metadata.name}-tuning"


def _volume(name: str, source: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"name": name, **(dict(source) if source is not None else {"emptyDir": {}})}


def render_tuning_job(workspace: Workspace, preset: Preset, gpu: GpuConfig, node: str) -> dict[str, Any]:
    """The Job (not yet owned: the reconciler adds the ownerReference and hash) for a tuning Workspace."""
    tuning = workspace.tuning
    assert tuning is not None
    name = workspace.metadata.name or ""
    labels = {"kaito.sh/workspace": name}
    mounts = [
        {"name": "data", "mountPath": _DATA},
        {"name": "output", "mountPath": _OUTPUT},
        {"name": "dshm", "mountPath": "/dev/shm"},
    ]
    volumes = [
        _volume("data", tuning.input.volume_source),
        _volume("output", tuning.output.volume_source),
        {"name": "dshm", "emptyDir": {"medium": "Memory"}},
    ]
    args = [
        "launch",
        f"--num_processes={gpu.gpu_count}",
        "/workspace/tfs/fine_tuning.py",
        f"--model={preset.hf_repo}",
        f"--method={tuning.method}",
        f"--input-dir={_DATA}",
        f"--output-dir={_OUTPUT}",
        f"--completion-marker={COMPLETION_MARKER}",
    ]
    if tuning.config:
        volumes.append({"name": "config", "configMap": {"name": tuning.config}})
        mounts.append({"name": "config", "mountPath": _CONFIG})
        args.append(f"--config={_CONFIG}/training_config.yaml")
    container: dict[str, Any] = {
        "name": "tuning",
        "image": BASE_IMAGE,
        "command": ["accelerate"],
        "args": args,
        "resources": {
            "requests": {GPU_RESOURCE: str(gpu.gpu_count)},
            "limits": {GPU_RESOURCE: str(gpu.gpu_count)},
        },
        "volumeMounts": mounts,
    }
    options = tuning.preset.preset_options
    if options is not None and options.model_access_secret:
        container["env"] = [
            {
                "name": "HF_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": options.model_access_secret, "key": "HF_TOKEN"}},
            }
        ]
    init: list[dict[str, Any]] = []
    pull_secrets = list(tuning.input.image_pull_secrets or [])
    if tuning.input.urls:
        init.append(
            {
                "name": "data-downloader",
                "image": DATA_DOWNLOADER_IMAGE,
                "command": ["/bin/sh", "-c", _DOWNLOAD_SCRIPT],
                "env": [{"name": "DATA_URLS", "value": " ".join(tuning.input.urls)}],
                "volumeMounts": [{"name": "data", "mountPath": _DATA}],
            }
        )
    elif tuning.input.image:
        init.append(
            {
                "name": "data-copier",
                "image": tuning.input.image,
                "command": ["/bin/sh", "-c", f'cp -r /data/. "{_DATA}/"'],
                "volumeMounts": [{"name": "data", "mountPath": _DATA}],
            }
        )
    containers = [container]
    if tuning.output.image:
        volumes.append(
            {
                "name": "push-secret",
                "secret": {
                    "secretName": tuning.output.image_push_secret,
                    "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
                },
            }
        )
        containers.append(
            {
                "name": "output-pusher",
                "image": OUTPUT_PUSHER_IMAGE,
                "command": ["/bin/sh", "-c", _PUSH_SCRIPT],
                "env": [
                    {"name": "OUTPUT_IMAGE", "value": tuning.output.image},
                    {"name": "DOCKER_CONFIG", "value": "/root/.docker"},
                ],
                "volumeMounts": [
                    {"name": "output", "mountPath": _OUTPUT},
                    {"name": "push-secret", "mountPath": "/root/.docker", "readOnly": True},
                ],
            }
        )
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": containers,
        "volumes": volumes,
        "tolerations": [dict(t) for t in GPU_TOLERATIONS],
        "affinity": node_affinity([node]),
    }
    if init:
        pod_spec["initContainers"] = init
    if pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": secret} for secret in pull_secrets]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(workspace), "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


@dataclass(frozen=True)
class JobOutcome:
    """Where a Job stands: running, succeeded or failed, with the Job's reason and message."""

    state: Literal["running", "succeeded", "failed"]
    reason: str
    message: str


def job_outcome(job: Mapping[str, Any]) -> JobOutcome:
    """Read the Job's terminal conditions (Complete / Failed), else report it running."""
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
    return JobOutcome("running", "JobRunning", f"Job {name}: {active} pod(s) running")
