"""Strict field validation over HTTP: the real kubectl refuses a misspelt Workspace field, as kube does.

kubectl (1.27+) sends ``fieldValidation=Strict`` unless told otherwise (``--validate=warn`` sends Warn,
``--validate=false`` Ignore). The misspelt case of tests/data/invalid (``resource.instancetype``) must be
refused with the message cases.yaml records, not silently pruned into a Workspace without an instance type.
The wire details (status codes, ``Warning`` headers, the patch form of the refusal) are checked with aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml

from integration.admin_http import admin_session
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
CRDS = sorted((ROOT / "manifests" / "crd").glob("kaito.sh_*.yaml"))
INVALID = ROOT / "tests" / "data" / "invalid"
MISSPELT = "apiserver/misspelt-field.yaml"
WORKSPACES = "/apis/kaito.sh/v1beta1/namespaces/default/workspaces"
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"workloads": False, "arm": False}


async def kubectl(cluster: Cluster, cache: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        "kubectl",
        f"--kubeconfig={cluster.kubeconfig}",
        f"--cache-dir={cache}",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest_asyncio.fixture
async def with_crds(cluster: Cluster) -> Cluster:
    for path in CRDS:
        cluster.store.create(
            "apiextensions.k8s.io/v1", "CustomResourceDefinition", yaml.safe_load(path.read_text())
        )
    return cluster


@pytest_asyncio.fixture
async def http(with_crds: Cluster) -> AsyncIterator[aiohttp.ClientSession]:
    async with admin_session(with_crds) as session:
        yield session


def misspelt_case() -> dict[str, Any]:
    case: dict[str, Any] = yaml.safe_load((INVALID / "cases.yaml").read_text())["cases"][MISSPELT]
    return case


@needs_kubectl
async def test_kubectl_apply_refuses_the_misspelt_workspace_field(cluster: Cluster, tmp_path: Path) -> None:
    code, _, err = await kubectl(cluster, tmp_path, "apply", *(f"--filename={p}" for p in CRDS))
    assert code == 0, err

    code, out, err = await kubectl(cluster, tmp_path, "apply", "-f", str(INVALID / MISSPELT))

    assert code == 1, out
    assert "Error from server (BadRequest)" in err
    assert 'Workspace in version "v1beta1" cannot be handled as a Workspace: strict decoding error' in err
    assert misspelt_case()["apiServerMessage"] in err
    code, _, err = await kubectl(cluster, tmp_path, "get", "workspace", "misspelt-field")
    assert code == 1 and "NotFound" in err


@needs_kubectl
@pytest.mark.parametrize(("validate", "warned"), [("warn", True), ("false", False)])
async def test_kubectl_validate_warn_and_false_prune_the_field(
    with_crds: Cluster, tmp_path: Path, validate: str, warned: bool
) -> None:
    code, out, err = await kubectl(
        with_crds, tmp_path, "apply", f"--validate={validate}", "-f", str(INVALID / MISSPELT)
    )

    assert code == 0, err
    assert "workspace.kaito.sh/misspelt-field created" in out
    assert (f"Warning: {misspelt_case()['apiServerMessage']}" in err) is warned, err
    stored = with_crds.store.get("kaito.sh/v1beta1", "Workspace", "misspelt-field", "default")
    assert "instancetype" not in stored["resource"]


def _workspace_json(extra_resource: str = "") -> str:
    """A Workspace as raw JSON text (so that it can set a key twice)."""
    return (
        '{"apiVersion": "kaito.sh/v1beta1", "kind": "Workspace", "metadata": {"name": "w"},'
        f' "resource": {{"instanceType": "Standard_NC6s_v3", {extra_resource}'
        ' "labelSelector": {"matchLabels": {"apps": "w"}}},'
        ' "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}}}'
    )


JSON = {"Content-Type": "application/json"}


async def test_absent_directive_warns_per_problem_and_prunes(http: aiohttp.ClientSession) -> None:
    body = _workspace_json('"count": 1, "count": 2, "instancetype": "x",')

    async with http.post(WORKSPACES, data=body, headers=JSON) as resp:
        created = await resp.json()
        assert resp.status == 201, created
        warnings = resp.headers.getall("Warning")

    assert warnings == [
        '299 - "duplicate field \\"count\\""',
        '299 - "unknown field \\"resource.instancetype\\""',
    ]
    assert created["resource"]["count"] == 2 and "instancetype" not in created["resource"]


async def test_strict_create_update_and_patch_are_refused_as_kube_refuses_them(
    http: aiohttp.ClientSession,
) -> None:
    async with http.post(
        WORKSPACES, params={"fieldValidation": "Strict"}, data=_workspace_json(), headers=JSON
    ) as r:
        assert r.status == 201 and "Warning" not in r.headers
        created = await r.json()

    created["resource"]["instancetype"] = "x"
    async with http.put(f"{WORKSPACES}/w", params={"fieldValidation": "Strict"}, json=created) as r:
        status = await r.json()
        assert (r.status, status["reason"]) == (400, "BadRequest")
        assert status["message"].endswith('strict decoding error: unknown field "resource.instancetype"')

    patch = json.dumps({"inference": {"preset": {"name": "phi-3-mini-4k-instruct", "nmae": "typo"}}})
    merge = {"Content-Type": "application/merge-patch+json"}
    async with http.patch(
        f"{WORKSPACES}/w", params={"fieldValidation": "Strict"}, data=patch, headers=merge
    ) as r:
        status = await r.json()
        assert (r.status, status["reason"]) == (422, "Invalid")
        assert status["details"]["causes"][0]["field"] == "patch"
        assert status["message"].endswith('strict decoding error: unknown field "inference.preset.nmae"')

    async with http.patch(
        f"{WORKSPACES}/w", params={"fieldValidation": "Ignore"}, data=patch, headers=merge
    ) as r:
        assert r.status == 200 and "Warning" not in r.headers
        assert "nmae" not in (await r.json())["inference"]["preset"]


async def test_duplicate_keys_in_a_builtin_body_are_refused_under_strict(http: aiohttp.ClientSession) -> None:
    body = (
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "a": "2"}}'
    )
    configmaps = "/api/v1/namespaces/default/configmaps"

    async with http.post(configmaps, params={"fieldValidation": "Strict"}, data=body, headers=JSON) as r:
        status = await r.json()

    assert (r.status, status["reason"]) == (400, "BadRequest")
    assert status["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
        'strict decoding error: duplicate field "a"'
    )
