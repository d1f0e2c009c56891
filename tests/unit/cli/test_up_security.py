"""`kaito up` with default flags, run as a user runs it: HTTPS, 401 without the kubeconfig's token, the
operator under RBAC as its ServiceAccount, kubectl working, and a planted Hugging Face token in no output."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest
import yaml

from integration.foreground import assert_secured, foreground, kubectl
from integration.secret_scan import leaks

pytestmark = pytest.mark.integration

HF_TOKEN = f"hf_planted{secrets.token_hex(12)}"
GATED = [
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "hf-token"},
        "stringData": {"HF_TOKEN": HF_TOKEN},
    },
    {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "gated"},
        "resource": {
            "instanceType": "Standard_NC24ads_A100_v4",
            "labelSelector": {"matchLabels": {"a": "g"}},
        },
        "inference": {
            "preset": {"name": "llama-3.2-1b-instruct", "presetOptions": {"modelAccessSecret": "hf-token"}}
        },
    },
]
KINDS = ("events", "workspaces", "machines", "deployments", "pods", "services", "configmaps", "nodes")


async def test_kaito_up_is_https_with_rbac_and_prints_no_secret(tmp_path: Path) -> None:
    manifest = tmp_path / "gated.yaml"
    manifest.write_text(yaml.safe_dump_all(GATED))
    kubeconfig = tmp_path / "up.kubeconfig"
    args = ["up", "--apply", str(manifest), f"--kubeconfig-out={kubeconfig}", "--timeout=120"]
    seen: dict[str, str] = {}
    async with foreground(*args, ready="press Ctrl-C", within=180) as up:
        said = await assert_secured(kubeconfig)
        if shutil.which("kubectl") is not None:
            code, subject = await kubectl(
                kubeconfig,
                "get",
                "clusterrolebinding",
                "kaito-controller",
                "-o",
                "jsonpath={.subjects[0].name}",
            )
            assert (code, subject) == (0, "kaito-controller")
            for kind in KINDS:
                code, seen[f"kubectl get {kind}"] = await kubectl(kubeconfig, "get", kind, "-A", "-o", "yaml")
                assert code == 0, seen[f"kubectl get {kind}"]
    printed = "".join(up.output)
    assert "Workspace default/gated is Ready" in printed, printed
    assert "the operator runs as ServiceAccount kaito-system/kaito-controller under RBAC" in printed
    assert "applied Secret default/hf-token" in printed
    assert leaks([HF_TOKEN], {"kaito up output": printed, **seen}) == []
    if not seen:
        pytest.skip(said)
