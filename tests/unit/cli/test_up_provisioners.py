"""`kaito up --provisioner aks|karpenter`: the command line picks where the Workspace's GPU node comes from.

The command runs as a user runs it (parsed arguments, `asyncio.run`); its embedded cluster (a child process)
keeps everything in the data dir, which the test opens afterwards to see what was provisioned for the Ready
Workspace.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kaito.cli import build_parser
from kaito.sim.cluster import Cluster
from kaito.sim.server.errors import NotFound

SAMPLE = Path(__file__).resolve().parents[3] / "manifests" / "samples" / "workspace-phi-3-mini.yaml"


def _nodeclaims(cluster: Cluster) -> list[dict[str, Any]]:
    """Every NodeClaim (none when the cluster does not serve the kind: no Karpenter there)."""
    try:
        return cluster.store.list("karpenter.sh/v1", "NodeClaim")[0]
    except NotFound:
        return []


async def _provisioned(data_dir: Path) -> dict[str, Any]:
    """The pools and NodeClaims a stopped `kaito up` left in ``data_dir``."""
    async with Cluster(data_dir=data_dir, workloads=False) as cluster:
        assert cluster.arm is not None
        return {"pools": cluster.arm.pools(), "claims": _nodeclaims(cluster)}


@pytest.mark.integration
@pytest.mark.parametrize(("provisioner", "claims", "pools"), [("karpenter", 1, 0), ("aks", 0, 1)])
def test_kaito_up_provisions_the_workspace_node_with_the_chosen_provisioner(
    provisioner: str,
    claims: int,
    pools: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(
        [
            "up",
            "--provisioner",
            provisioner,
            "--apply",
            str(SAMPLE),
            "--exit-when-ready",
            "--timeout",
            "60",
            "--kubeconfig-out",
            str(tmp_path / "kubeconfig"),
            "--data-dir",
            str(tmp_path / "data"),
        ]
    )
    code = args.func(args)
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"provisioner: {provisioner}" in out
    assert "Workspace default/workspace-phi-3-mini is Ready" in out, out
    seen = asyncio.run(_provisioned(tmp_path / "data"))
    assert len(seen["claims"]) == claims, seen
    assert len(seen["pools"]) == pools, seen
    if claims:
        (claim,) = seen["claims"]
        assert claim["metadata"]["labels"]["kaito.sh/workspace"] == "workspace-phi-3-mini"
        assert {c["type"]: c["status"] for c in claim["status"]["conditions"]}["Ready"] == "True"


def test_an_unknown_provisioner_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["up", "--provisioner", "gke"])
    assert exited.value.code == 2
    assert "argument --provisioner: invalid choice: 'gke'" in capsys.readouterr().err
