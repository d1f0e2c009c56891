"""A durable cluster killed with SIGKILL comes back with every acknowledged write, and watches resume.

``kaito sim up --data-dir D`` runs in a subprocess; the test talks HTTP to it, kills it with SIGKILL (no
clean stop, no snapshot), starts it again on the same directory and checks what a client would notice:
every acknowledged object is there, resourceVersions go on upwards, a watch resumed from a retained
resourceVersion replays what followed it and then goes on live, and one from before the window answers 410.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from integration.admin_http import admin_session, kubeconfig_session
from kaito.sim.cluster import Cluster
from kaito.sim.server.durable import DB_FILE, DataDirInUse, SqliteBackend

pytestmark = pytest.mark.integration

_URL_LINE = re.compile(r"kaito-sim API server: (?P<url>\S+)")
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@asynccontextmanager
async def _sim_up(data_dir: Path, kubeconfig: Path) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """``kaito sim up --data-dir`` in a subprocess; yields its URL and the process (killed at the end)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kaito.cli", "sim", "up", "--no-workloads", "--no-arm",
        f"--kubeconfig={kubeconfig}", f"--data-dir={data_dir}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        url = None
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert line, f"kaito sim up exited early: {(await proc.stderr.read()).decode()}"
            if found := _URL_LINE.search(line):
                url = found["url"]
            if "press Ctrl-C" in line:
                break
        assert url is not None
        yield url, proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _watch_events(
    http: aiohttp.ClientSession, url: str, resource_version: str, count: int, then: Any = None
) -> list[dict[str, Any]]:
    """The first ``count`` events of a watch from ``resource_version`` (``then()`` is awaited once open)."""
    events: list[dict[str, Any]] = []
    params = {"watch": "1", "resourceVersion": resource_version}
    async with asyncio.timeout(30), http.get(url + CONFIGMAPS, params=params) as response:
        assert response.status == 200, await response.text()
        if then is not None:
            await then()
        while len(events) < count:
            line = await response.content.readline()
            assert line, f"the watch ended after {events}"
            events.append(json.loads(line))
    return events


async def test_kaito_sim_up_killed_with_sigkill_restarts_with_every_acknowledged_configmap(
    tmp_path: Path,
) -> None:
    data_dir, kubeconfig = tmp_path / "data", tmp_path / "sim.kubeconfig"
    acknowledged: dict[str, str] = {}
    # the default flags: HTTPS and the admin token of the kubeconfig each run writes
    async with _sim_up(data_dir, kubeconfig) as (url, proc), kubeconfig_session(kubeconfig) as http:
        for i in range(30):
            body = {"metadata": {"name": f"cm-{i:02d}"}, "data": {"i": str(i)}}
            async with http.post(url + CONFIGMAPS, json=body) as response:
                assert response.status == 201, await response.text()
                acknowledged[f"cm-{i:02d}"] = (await response.json())["metadata"]["resourceVersion"]
        proc.kill()  # SIGKILL: no clean stop, nothing saved at exit
        assert await proc.wait() == -9

    async with _sim_up(data_dir, kubeconfig) as (url, _), kubeconfig_session(kubeconfig) as http:
        async with http.get(url + CONFIGMAPS) as response:
            listed = await response.json()
        found = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in listed["items"]}
        assert found == acknowledged
        last = max(int(rv) for rv in acknowledged.values())
        assert int(listed["metadata"]["resourceVersion"]) >= last

        # resumed from the 10th create: the 20 creates after it, in order, then a live one
        async def create_one_more() -> None:
            body = {"metadata": {"name": "after-restart"}}
            async with http.post(url + CONFIGMAPS, json=body) as response:
                assert response.status == 201, await response.text()
                assert int((await response.json())["metadata"]["resourceVersion"]) > last

        events = await _watch_events(http, url, acknowledged["cm-09"], 21, then=create_one_more)
        names = [e["object"]["metadata"]["name"] for e in events]
        assert names == [f"cm-{i:02d}" for i in range(10, 30)] + ["after-restart"]
        assert {e["type"] for e in events} == {"ADDED"}

        (expired,) = await _watch_events(http, url, "1", 1)  # before the retained window
        assert expired["type"] == "ERROR"
        assert (expired["object"]["code"], expired["object"]["reason"]) == (410, "Expired")


def _as_after_a_kill(data_dir: Path, scratch: Path) -> tuple[Any, Any]:
    """The ARM section and the image a restart after a SIGKILL now would read: a copy of the database and its
    WAL, taken in one synchronous step (the cluster runs on this loop, so no write is half done), opened
    apart (the running cluster holds its database exclusively)."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    for suffix in ("", "-wal"):
        if (data_dir / (DB_FILE + suffix)).exists():
            shutil.copyfile(data_dir / (DB_FILE + suffix), scratch / (DB_FILE + suffix))
    reader = SqliteBackend(scratch / DB_FILE)
    try:
        return reader.section("arm"), reader.load()
    finally:
        reader.close()


async def test_a_durable_cluster_saves_its_agent_pools_as_they_change_not_only_at_stop(
    tmp_path: Path,
) -> None:
    data_dir, scratch = tmp_path / "data", tmp_path / "copy"
    async with Cluster(data_dir=data_dir, workloads=False, arm_options={"provisioning_s": 0.0}) as cluster:
        arm = cluster.arm
        assert arm is not None
        arm.service.put("gpu", {"properties": {"vmSize": "Standard_NC24ads_A100_v4", "count": 1}})
        deadline = time.monotonic() + 10
        section, image = _as_after_a_kill(data_dir, scratch)
        while (section or {}).get("pools", [{}])[0].get("state") != "Succeeded":
            assert time.monotonic() < deadline, section
            await asyncio.sleep(0.05)
            section, image = _as_after_a_kill(data_dir, scratch)
        (pool,) = section["pools"]
        assert pool["name"] == "gpu"
        assert image is not None
        nodes = [o for o in image.objects if o.plural == "nodes"]
        assert len(nodes) == 1 and nodes[0].name in {
            n["metadata"]["name"] for n in cluster.store.list("v1", "Node")[0]
        }


async def test_the_running_cluster_holds_its_database_exclusively(tmp_path: Path) -> None:
    async with Cluster(data_dir=tmp_path, workloads=False, arm=False):
        with pytest.raises(DataDirInUse, match="is held by a running kaito-sim"):
            SqliteBackend(tmp_path / DB_FILE)


async def test_a_write_the_disk_refuses_is_answered_500_and_the_cluster_keeps_nothing_of_it(
    tmp_path: Path,
) -> None:
    async with (
        Cluster(data_dir=tmp_path, workloads=False, arm=False) as cluster,
        admin_session(cluster) as http,
    ):
        durable = cluster._durable
        assert durable is not None
        pages = durable._db.execute("PRAGMA page_count").fetchone()[0]
        durable._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full
        rv = cluster.store.resource_version
        body = {"metadata": {"name": "big"}, "data": {"v": "x" * 20_000}}
        async with http.post(CONFIGMAPS, json=body) as response:
            assert response.status == 500
            status = await response.json()
        assert "refused the write of configmaps default/big" in status["message"], status
        async with http.get(f"{CONFIGMAPS}/big") as response:
            assert response.status == 404
        async with http.get(CONFIGMAPS) as response:
            assert (await response.json())["metadata"]["resourceVersion"] == str(rv)
