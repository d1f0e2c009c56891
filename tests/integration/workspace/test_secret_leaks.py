"""Secrets stay secret: tokens planted in the Secrets of a gated-model Workspace (its Hugging Face token) and
of a tuning Workspace (model access, data-source pull and image-push secrets) reach the processes that need
them, and appear in no log line, pod log, Event, status or other object.

The inference and tuning containers run as real local processes (the sim's process runtime, a small stand-in
program for the image's ``python3`` and ``accelerate``): each prints the SHA-256 of the HF_TOKEN it was
given, so the test knows the token went all the way into the process without the token being printed.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import sys
from pathlib import Path
from typing import Any

import pytest

from integration import rbac_support as rbac
from integration.secret_scan import leaks, log_texts, object_texts, pod_log_texts
from kaito.runtimes import BASE_IMAGE
from kaito.sim.workloads.processes import ImageMapping, ProcessRuntimeConfig

pytestmark = pytest.mark.integration

HF_TOKEN = f"hf_planted{secrets.token_hex(12)}"
PULL_PASSWORD = f"pull-planted-{secrets.token_hex(12)}"
PUSH_PASSWORD = f"push-planted-{secrets.token_hex(12)}"
PLANTED = (HF_TOKEN, PULL_PASSWORD, PUSH_PASSWORD)

# Stands in for the image's python3 (vLLM: serve /health on --host:--port) and accelerate (tune, exit 0).
STAND_IN = """\
import argparse, hashlib, http.server, os
parser = argparse.ArgumentParser()
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int)
known, _ = parser.parse_known_args()
digest = hashlib.sha256(os.environ.get("HF_TOKEN", "").encode()).hexdigest()
print(f"HF_TOKEN sha256 {digest}", flush=True)
if known.port is not None:
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        def log_message(self, *args):
            pass
    http.server.ThreadingHTTPServer((known.host, known.port), Health).serve_forever()
"""


@pytest.fixture
def sim_options(tmp_path: Path) -> dict[str, Any]:
    program = tmp_path / "stand-in"
    program.write_text(f"#!{sys.executable}\n{STAND_IN}")
    program.chmod(0o755)
    mapping = ImageMapping(executables={"python3": str(program), "accelerate": str(program)})
    runtime = ProcessRuntimeConfig(images={BASE_IMAGE: mapping}, probe_time_scale=0.1, stop_grace_s=2)
    return {**rbac.RBAC_SIM_OPTIONS, "process_runtime": runtime}


def _docker_secret(name: str, password: str) -> dict[str, Any]:
    config = f'{{"auths": {{"myregistry.azurecr.io": {{"username": "u", "password": "{password}"}}}}}}'
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": config},
    }


GATED = {
    "apiVersion": "kaito.sh/v1beta1",
    "kind": "Workspace",
    "metadata": {"name": "gated"},
    "resource": {
        "instanceType": "Standard_NC24ads_A100_v4",
        "labelSelector": {"matchLabels": {"apps": "gated"}},
    },
    "inference": {
        "preset": {"name": "llama-3.2-1b-instruct", "presetOptions": {"modelAccessSecret": "hf-token"}}
    },
}
TUNING = {
    "apiVersion": "kaito.sh/v1beta1",
    "kind": "Workspace",
    "metadata": {"name": "tuning"},
    "resource": {
        "instanceType": "Standard_NC24ads_A100_v4",
        "labelSelector": {"matchLabels": {"apps": "tuning"}},
    },
    "tuning": {
        "preset": {"name": "phi-3-mini-4k-instruct", "presetOptions": {"modelAccessSecret": "hf-token"}},
        "method": "qlora",
        "input": {"image": "myregistry.azurecr.io/data/dolly:1", "imagePullSecrets": ["pull-secret"]},
        "output": {"image": "myregistry.azurecr.io/adapters/phi-3:1", "imagePushSecret": "push-secret"},
    },
}


async def test_planted_tokens_reach_the_processes_and_appear_nowhere_else(
    operator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kaito")
    await operator.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "hf-token"},
            "stringData": {"HF_TOKEN": HF_TOKEN},
        }
    )
    await operator.apply(_docker_secret("pull-secret", PULL_PASSWORD))
    await operator.apply(_docker_secret("push-secret", PUSH_PASSWORD))
    await operator.apply(dict(GATED))
    await operator.apply(dict(TUNING))
    await operator.wait_condition("gated", "WorkspaceSucceeded", within=60.0)
    await operator.wait_condition("tuning", "WorkspaceSucceeded", within=60.0)

    pod_logs = await pod_log_texts(operator.cluster)
    digest = f"HF_TOKEN sha256 {hashlib.sha256(HF_TOKEN.encode()).hexdigest()}"
    given = sorted(place for place, text in pod_logs.items() if digest in text)
    assert [place.rsplit("/", 1)[1] for place in given] == ["gated", "tuning"], pod_logs
    texts = {**log_texts(caplog.records), **pod_logs, **object_texts(operator.cluster)}
    assert any(place.startswith("events ") for place in texts)  # Events were scanned, not missed
    assert leaks(PLANTED, texts) == []
