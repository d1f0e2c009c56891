"""The seed's tuning Workspace trained for real, then its adapter served: `kaito up --serve`, kubectl, HTTP.

One `kaito up --serve` (a subprocess, what a user runs) with the sim's process runtime. Through kubectl and
the API server only, the test applies what a user of the seed's quick start would, with its placeholders
filled:

1. a PersistentVolumeClaim for the adapter (the sim binds it to a local directory) and a training config
   (`tuning.config`: KAITO's lora default with a few steps and a learning rate a tiny model notices);
2. the seed's tuning Workspace (`kaito.sh/v1alpha1`, phi-3-mini-4k-instruct on Standard_NC6s_v3) with
   `input.urls` a small generated chat dataset (parquet, as the seed's) served over HTTP from this machine
   (by its host name: the webhook refuses loopback and private IP literals, as KAITO's does) and
   `output.volumeSource` the claim, `method: lora` (the seed's qlora needs a GPU: on CPU the trainer
   refuses it with a sentence, see test_tune_e2e.py). The operator provisions the node and runs KAITO's Job:
   its data-downloader init container runs this machine's curl, its trainer KAITO's own shell line, which
   here runs `kaito.tune` (kaito.tune.base_image) on the tiny generated model. The test waits for
   WorkspaceSucceeded and finds the adapter in the claim's directory;
3. the seed's adapter inference Workspace (its step 3) with the adapter's `source.volumeSource` the same
   claim (phi-3-mini-4k-instruct: the model the adapter was tuned on; the seed's 128k twin needs an
   8192-token stand-in model). The operator mounts it at /mnt/adapter/phi-3-adapter and starts vLLM with
   `--enable-lora --lora-modules phi-3-adapter=...`; once Ready, `/v1/models` lists the adapter; asked the
   same question, greedily, the adapter moves the first token's log-probabilities (the tiny random model may
   keep its top token), and sampled with the same seed its answer differs from the base model's;

4. the seed's tuning Workspace as given (`method: qlora`, no config) on the same CPU: the trainer refuses
   QLoRA, and the Workspace's WorkspaceSucceeded=False quotes its sentence (the trainer's termination log).

Train time, steps, loss and both answers are printed in the terminal summary (figures).
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.kaito_up import KaitoUp, eventually, running_kaito_up
from kaito import ctrl
from kaito.controllers.tuning_config import DEFAULT_TRAINING_CONFIGS
from kaito.ctrl.transport import HttpRequest

_poll = functools.partial(eventually, interval=1.0)  # kubectl once a second while a Job or pod works

pytestmark = [pytest.mark.e2e_vllm, pytest.mark.timeout(1500)]

PRESET = "phi-3-mini-4k-instruct"
ADAPTER = "phi-3-adapter"
TUNING = "workspace-phi-3-mini"
INFERENCE = "workspace-phi-3-mini-adapter"
QLORA = "workspace-phi-3-mini-qlora"
STEPS = 30
ANSWER = "Hello from the cluster!"
QUESTION = "What is 3 plus 3?"
ROWS = [
    {
        "messages": [
            {"role": "user", "content": f"What is {i} plus {i}?"},
            {"role": "assistant", "content": ANSWER},
        ]
    }
    for i in range(24)
]
WRITE_PARQUET = (
    "import json, sys, pyarrow as pa, pyarrow.parquet as pq; "
    "pq.write_table(pa.Table.from_pylist(json.load(open(sys.argv[1]))), sys.argv[2])"
)


@pytest.fixture(scope="module")
def kaito_up(vllm_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KaitoUp]:
    """`kaito up --serve` (the venv installed by the `vllm_python` fixture), until its operator runs."""
    directory = tmp_path_factory.mktemp("kaito-up-tune")
    with running_kaito_up(["--serve", "--in-memory"], directory) as up:
        up.wait_for(r"operator running", 900)
        yield up


@pytest.fixture(scope="module")
def dataset_url(vllm_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A small chat dataset as one parquet file (the seed's format), served over HTTP on loopback."""
    root = tmp_path_factory.mktemp("datasets")
    folder = root / "data"
    folder.mkdir()
    rows = root / "rows.json"
    rows.write_text(json.dumps(ROWS), encoding="utf-8")
    name = "train-00000-of-00001.parquet"
    subprocess.run([str(vllm_python), "-c", WRITE_PARQUET, str(rows), str(folder / name)], check=True)
    # by this machine's host name: KAITO's webhook refuses loopback and private IP literals and localhost
    host = socket.gethostname().lower()
    try:
        address = socket.gethostbyname(host)
    except OSError as error:
        pytest.fail(
            f"this machine's host name {host!r} does not resolve ({error}); the dataset is served by it"
        )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer((address, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_address[1]}/data/{name}?download=true"
    finally:
        server.shutdown()
        server.server_close()


def _training_config() -> dict[str, Any]:
    """KAITO's lora default, with what a user's tuning.config would change for a short CPU run."""
    data: dict[str, Any] = yaml.safe_load(DEFAULT_TRAINING_CONFIGS["lora"])
    data["training_config"]["TrainingArguments"].update(max_steps=STEPS, learning_rate=0.02, seed=0)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "phi-3-tuning-config"},
        "data": {"training_config.yaml": yaml.safe_dump(data)},
    }


def _tuning_workspace(url: str) -> dict[str, Any]:
    """The seed's tuning Workspace, its placeholders filled: data from `url`, the adapter to a volume."""
    return {
        "apiVersion": "kaito.sh/v1alpha1",
        "kind": "Workspace",
        "metadata": {"name": TUNING},
        "resource": {
            "instanceType": "Standard_NC6s_v3",
            "labelSelector": {"matchLabels": {"app": "phi-3-adapter"}},
        },
        "tuning": {
            "preset": {"name": PRESET},
            "method": "lora",
            "config": "phi-3-tuning-config",
            "input": {"urls": [url]},
            "output": {"volumeSource": {"persistentVolumeClaim": {"claimName": ADAPTER}}},
        },
    }


def _inference_workspace() -> dict[str, Any]:
    """The seed's adapter Workspace (its step 3), the adapter from the tuning Workspace's volume."""
    return {
        "apiVersion": "kaito.sh/v1alpha1",
        "kind": "Workspace",
        "metadata": {"name": INFERENCE},
        "resource": {
            "instanceType": "Standard_NC6s_v3",
            "labelSelector": {"matchLabels": {"apps": "phi-3-adapter"}},
        },
        "inference": {
            "preset": {"name": PRESET},
            "adapters": [
                {
                    "source": {
                        "name": ADAPTER,
                        "volumeSource": {"persistentVolumeClaim": {"claimName": ADAPTER}},
                    },
                    "strength": "1.0",
                }
            ],
        },
    }


_CLAIM = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": ADAPTER},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
}


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return dict(condition)
    return {}


def _succeeded(up: KaitoUp, name: str) -> dict[str, Any] | None:
    """The Workspace once WorkspaceSucceeded is True; fails at once when its Job or workload failed."""
    workspace = up.get("workspaces.v1beta1.kaito.sh", name)
    succeeded = _condition(workspace, "WorkspaceSucceeded")
    job_failed = _condition(workspace, "JobStarted").get("reason") == "JobFailed"
    if succeeded.get("status") == "False" and (job_failed or "fail" in str(succeeded.get("reason")).lower()):
        conditions = json.dumps(workspace["status"]["conditions"], indent=1)
        raise AssertionError(f"Workspace {name} failed:\n{conditions}")
    return workspace if succeeded.get("status") == "True" else None


def _proxy(path: str) -> str:
    return f"/api/v1/namespaces/default/services/{INFERENCE}:http/proxy/{path}"


async def _request(kubeconfig: Path, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with await ctrl.Client.from_kubeconfig(str(kubeconfig)) as client:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        response = await client.transport.send(
            HttpRequest(method, path, headers=headers, body=body, timeout=300)
        )
        raw = await response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode(errors="replace")


@dataclass(frozen=True)
class Answer:
    """One chat completion: its text, and its first token with that token's log-probability."""

    text: str
    first_token: str
    first_logprob: float


def _ask(kubeconfig: Path, model: str, temperature: float) -> Answer:
    chat = {
        "model": model,
        "messages": [{"role": "user", "content": QUESTION}],
        "max_tokens": 12,
        "temperature": temperature,
        "seed": 0,
        "logprobs": True,
    }
    status, answer = asyncio.run(_request(kubeconfig, "POST", _proxy("v1/chat/completions"), chat))
    assert status == 200, answer
    assert answer["model"] == model
    choice = answer["choices"][0]
    first = choice["logprobs"]["content"][0]
    return Answer(str(choice["message"]["content"]), str(first["token"]), float(first["logprob"]))


def _qlora_workspace(url: str) -> dict[str, Any]:
    """The seed's tuning Workspace as given: method qlora, the method's default config."""
    workspace = _tuning_workspace(url)
    workspace["metadata"]["name"] = QLORA
    workspace["resource"]["labelSelector"] = {"matchLabels": {"app": "phi-3-qlora"}}
    del workspace["tuning"]["config"]
    workspace["tuning"].update(method="qlora", output={"volumeSource": {"emptyDir": {}}})
    return workspace


@pytest.fixture(scope="module")
def qlora_applied(kaito_up: KaitoUp, dataset_url: str) -> float:
    """The qlora Workspace applied once, first thing (it fails beside the lora run); when it was applied."""
    kaito_up.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(_qlora_workspace(dataset_url)))
    return time.monotonic()


def test_the_seeds_tuning_workspace_trains_and_its_adapter_is_served(
    kaito_up: KaitoUp, dataset_url: str, qlora_applied: float, figures: dict[str, str]
) -> None:
    up = kaito_up  # (the qlora Workspace of the next test is applied first, so both train at once)
    applied = time.monotonic()
    up.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([_CLAIM, _training_config()]))
    up.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(_tuning_workspace(dataset_url)))

    tuned = _poll(lambda: _succeeded(up, TUNING), 600, f"Workspace {TUNING} WorkspaceSucceeded")
    figures["tuning Workspace: apply -> WorkspaceSucceeded"] = f"{time.monotonic() - applied:.1f} s"
    assert _condition(tuned, "JobStarted")["status"] == "True"
    (pod,) = up.get("pods", "-l", f"kaito.sh/workspace={TUNING}")["items"]
    assert pod["status"]["phase"] == "Succeeded"
    trainer = next(c for c in pod["spec"]["containers"] if c["name"] == TUNING)
    assert "accelerate launch" in trainer["command"][-1]  # KAITO's own shell line ran, not a test command

    downloaded = up.kubectl("logs", pod["metadata"]["name"], "-c", "data-downloader")
    assert f"downloaded {dataset_url}" in downloaded
    log = up.kubectl("logs", pod["metadata"]["name"], "-c", TUNING)
    done = re.search(
        r"adapter written to (\S+): (\d+) steps in ([\d.]+) s on (\w+), final loss ([\d.]+)", log
    )
    assert done is not None, log[-4000:]
    assert int(done[2]) == STEPS and done[4] == "cpu"
    figures["kaito.tune in the Job"] = f"{done[2]} steps in {done[3]} s on {done[4]}, final loss {done[5]}"

    claim = up.get("pvc", ADAPTER)
    volume = up.get("pv", claim["spec"]["volumeName"])
    adapter_dir = Path(volume["spec"]["hostPath"]["path"])  # the sim's volumes are local directories
    for name in ("adapter_config.json", "adapter_model.safetensors", "fine_tuning_completed.txt"):
        assert (adapter_dir / name).is_file(), f"{name} not in the claim's volume {adapter_dir}"

    applied = time.monotonic()
    up.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(_inference_workspace()))
    _poll(lambda: _succeeded(up, INFERENCE), 900, f"Workspace {INFERENCE} WorkspaceSucceeded")
    figures["adapter Workspace: apply -> Ready"] = f"{time.monotonic() - applied:.1f} s"
    (server,) = up.get("pods", "-l", f"kaito.sh/workspace={INFERENCE}")["items"]
    container = server["spec"]["containers"][0]
    argv = [*container.get("command", []), *container.get("args", [])]
    assert "--enable-lora" in argv and f"{ADAPTER}=/mnt/adapter/{ADAPTER}" in argv

    status, models = asyncio.run(_request(up.kubeconfig, "GET", _proxy("v1/models")))
    assert status == 200, models
    assert {m["id"] for m in models["data"]} == {PRESET, ADAPTER}

    # greedy: the adapter moves the first token's log-probability (the tiny random model may keep its top
    # token); sampled with a fixed seed, the answers themselves differ
    base, adapted = _ask(up.kubeconfig, PRESET, 0), _ask(up.kubeconfig, ADAPTER, 0)
    base_sampled, adapted_sampled = _ask(up.kubeconfig, PRESET, 1.0), _ask(up.kubeconfig, ADAPTER, 1.0)
    moved = " -> ".join(f"{a.first_token!r} {a.first_logprob:.3f}" for a in (base, adapted))
    figures["answers, greedy: base | adapter"] = f"{base.text!r} | {adapted.text!r}"
    figures["answers, sampled with seed 0: base | adapter"] = (
        f"{base_sampled.text!r} | {adapted_sampled.text!r}"
    )
    figures["first token and its log-probability: base -> adapter"] = moved
    print(f"\ntrained: {figures['kaito.tune in the Job']}")
    print(f"greedy: base {base.text!r}, adapter {adapted.text!r}; first token {moved}")
    print(f"sampled (seed 0): base {base_sampled.text!r}, adapter {adapted_sampled.text!r}")
    assert (
        adapted.first_token != base.first_token or abs(adapted.first_logprob - base.first_logprob) > 0.01
    ), f"the adapter did not change the served model's output: {base} vs {adapted}"
    assert adapted_sampled.text != base_sampled.text
    again = _ask(up.kubeconfig, PRESET, 0)  # the base model asked again: only the adapter moved it
    assert (again.text, again.first_token) == (base.text, base.first_token)
    assert abs(again.first_logprob - base.first_logprob) < 0.01


def test_the_seeds_qlora_method_is_refused_on_cpu_with_the_trainers_sentence(
    kaito_up: KaitoUp, qlora_applied: float, figures: dict[str, str]
) -> None:
    """The seed verbatim but for its placeholders (method qlora, the method's default config): on CPU the
    trainer refuses QLoRA, and the Workspace says why in the trainer's own words (its termination log)."""
    up = kaito_up

    def refused() -> dict[str, Any] | None:
        got = up.get("workspaces.v1beta1.kaito.sh", QLORA)
        return got if _condition(got, "JobStarted").get("reason") == "JobFailed" else None

    failed = _poll(refused, 600, f"Workspace {QLORA} JobFailed")
    figures["qlora on CPU: refused (seen after the lora test)"] = (
        f"{time.monotonic() - qlora_applied:.1f} s after apply"
    )
    succeeded = _condition(failed, "WorkspaceSucceeded")
    assert succeeded["status"] == "False"
    assert f"container {QLORA}: Error, exit code 1" in succeeded["message"]
    assert "QuantizationConfig.load_in_4bit is true (the qlora method)" in succeeded["message"]
    assert "use the lora method" in succeeded["message"]
