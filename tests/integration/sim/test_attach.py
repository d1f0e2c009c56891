"""``pods/attach`` over WebSocket: the quick start's ``kubectl run -it --rm ... curl`` prints the answer."""

from __future__ import annotations

import asyncio
import shutil
import sys
from typing import Any

import pytest

from integration.sim.test_cluster_ips import CURL_ENTRYPOINT, CURL_IMAGE, _until, web  # noqa: F401 - fixture
from integration.sim.test_proxy import IMAGE
from kaito.sim.cluster import Cluster
from kaito.sim.workloads.processes import ImageMapping, ProcessRuntimeConfig

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("kubectl") is None or shutil.which("curl") is None, reason="needs kubectl and curl"
    ),
]


@pytest.fixture
def sim_options() -> dict[str, Any]:
    server = ImageMapping(executables={"python3": sys.executable}, host_flag="--bind")
    curl = ImageMapping(entrypoint=CURL_ENTRYPOINT, host_flag=None)
    config = ProcessRuntimeConfig(
        images={IMAGE: server, CURL_IMAGE: curl}, probe_time_scale=0.05, stop_grace_s=2
    )
    return {"arm": False, "process_runtime": config}


async def _kubectl(cluster: Cluster, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "kubectl", "--kubeconfig", str(cluster.kubeconfig), *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return int(process.returncode or 0), out.decode()


async def test_kubectl_run_it_rm_prints_what_the_container_said_and_removes_the_pod(
    cluster: Cluster,
    web: str,  # noqa: F811 - the fixture
) -> None:
    code, out = await _kubectl(
        cluster, "run", "-it", "--rm", "--restart=Never", "curl", "--image=curlimages/curl", "--",
        "curl", "-sX", "POST", f"http://{web}/chat", "-H", "Content-Type: application/json",
        "-d", '{"prompt":"YOUR QUESTION HERE"}',
    )  # fmt: skip
    assert code == 0, out
    assert '{"prompt":"YOUR QUESTION HERE"}' in out and "sim: " not in out
    assert 'pod "curl" deleted' in out
    await _until(lambda: not cluster.store.list("v1", "Pod", "default")[0][2:], 10, "the curl pod gone")


async def test_a_failing_command_makes_kubectl_run_fail(cluster: Cluster, web: str) -> None:  # noqa: F811
    code, out = await _kubectl(
        cluster, "run", "-i", "--rm", "--restart=Never", "bad", "--image=curlimages/curl", "--",
        "curl", "-sf", f"http://{web}:1/",
    )  # fmt: skip
    assert code != 0, out
