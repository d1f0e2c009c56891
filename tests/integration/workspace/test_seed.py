"""KAITO's quick start, verbatim, with the real kubectl against the cluster with the operator installed
(its admission and conversion webhooks served and registered, under the manifests' RBAC).

Done when (issue 15): the seed's first Workspace, `kaito.sh/v1alpha1` as the quick start writes it, reaches
WorkspaceSucceeded and reads back in both versions, with the quick start's columns; `kubectl apply` of an
unknown preset exits non-zero naming `inference.preset.name`; `kubectl patch` of `resource.instanceType` is
refused; with the operator stopped a create is refused with kube's webhook-unreachable message. The other two
seed samples hold the placeholders the quick start asks the user to fill, and are refused naming the field.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

SEED = Path(__file__).resolve().parents[3] / "manifests" / "samples" / "seed"


class Kubectl:
    def __init__(self, kubeconfig: Path, cache_dir: Path) -> None:
        self.base = [
            "kubectl",
            f"--kubeconfig={kubeconfig}",
            f"--cache-dir={cache_dir}",
            "--namespace=default",
        ]

    async def result(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.base,
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), 60)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    async def run(self, *args: str, stdin: str | None = None) -> str:
        code, out, err = await self.result(*args, stdin=stdin)
        assert code == 0, f"kubectl {' '.join(args)} failed ({code}): {err}"
        return out


@pytest.fixture
def kubectl(operator: Any, tmp_path: Path) -> Kubectl:
    return Kubectl(operator.cluster.kubeconfig, tmp_path / "kubectl-cache")


async def test_the_seed_workspace_succeeds_and_reads_back_as_v1alpha1_and_v1beta1(
    operator: Any, kubectl: Kubectl
) -> None:
    await kubectl.run("apply", "-f", str(SEED / "workspace-phi-3-mini.yaml"))
    await operator.wait_condition("workspace-phi-3-mini", "WorkspaceSucceeded", within=30.0)

    alpha = json.loads(
        await kubectl.run("get", "workspaces.v1alpha1.kaito.sh", "workspace-phi-3-mini", "-o", "json")
    )
    beta = json.loads(
        await kubectl.run("get", "workspaces.v1beta1.kaito.sh", "workspace-phi-3-mini", "-o", "json")
    )
    assert alpha["apiVersion"] == "kaito.sh/v1alpha1" and beta["apiVersion"] == "kaito.sh/v1beta1"
    for obj in (alpha, beta):
        assert obj["resource"]["instanceType"] == "Standard_NC6s_v3"
        assert obj["inference"] == {"preset": {"name": "phi-3-mini-4k-instruct"}}
    assert "targetNodeCount" in beta["status"] and "targetNodeCount" not in alpha["status"]
    assert alpha["status"]["conditions"] == beta["status"]["conditions"]

    table = (await kubectl.run("get", "workspaces.v1alpha1.kaito.sh")).splitlines()
    assert table[0].split() == [
        "NAME",
        "INSTANCE",
        "RESOURCEREADY",
        "INFERENCEREADY",
        "WORKSPACEREADY",
        "AGE",
    ]
    assert table[1].split()[:5] == ["workspace-phi-3-mini", "Standard_NC6s_v3", "True", "True", "True"]

    code, _, err = await kubectl.result(
        "patch", "workspace", "workspace-phi-3-mini", "--type=merge", "-p",
        '{"resource":{"instanceType":"Standard_NC12s_v3"}}',
    )  # fmt: skip
    assert code != 0
    assert 'admission webhook "validation.workspace.kaito.sh" denied the request' in err
    assert 'resource.instanceType: Forbidden: field is immutable: "Standard_NC6s_v3" cannot become' in err
    still = await operator.workspace("workspace-phi-3-mini")
    assert still["resource"]["instanceType"] == "Standard_NC6s_v3"


async def test_an_unknown_preset_is_refused_at_apply_naming_the_field(
    operator: Any, kubectl: Kubectl
) -> None:
    obj = yaml.safe_load((SEED / "workspace-phi-3-mini.yaml").read_text())
    obj["metadata"]["name"] = "unknown-preset"
    obj["inference"]["preset"]["name"] = "phi-9-giant"
    code, _, err = await kubectl.result("apply", "-f", "-", stdin=yaml.safe_dump(obj))
    assert code != 0
    assert 'inference.preset.name: Invalid value: "phi-9-giant" is not a supported inference preset' in err
    assert "phi-3-mini-4k-instruct" in err  # the known presets are listed
    code, _, _ = await kubectl.result("get", "workspace", "unknown-preset")
    assert code != 0


@pytest.mark.parametrize(
    ("sample", "field"),
    [
        ("workspace-tuning-phi-3-mini.yaml", "tuning.output.image"),
        ("workspace-phi-3-mini-adapter.yaml", "inference.adapters[0].source.image"),
    ],
)
async def test_seed_samples_with_placeholders_are_refused_naming_the_field(
    operator: Any, kubectl: Kubectl, sample: str, field: str
) -> None:
    code, _, err = await kubectl.result("apply", "-f", str(SEED / sample))
    assert code != 0
    # the CRD's CEL rule refuses it first, as kube's would (kube words a CEL failure: Invalid value: "string")
    refusal = f'{field}: Invalid value: "string": must be an image reference'
    assert refusal in err, err


async def test_with_the_operator_stopped_a_create_is_refused_as_the_webhook_is_unreachable(
    operator: Any, kubectl: Kubectl
) -> None:
    await operator.stop_operator()
    beta = yaml.safe_load((SEED / "workspace-phi-3-mini.yaml").read_text())
    beta["apiVersion"] = "kaito.sh/v1beta1"
    code, _, err = await kubectl.result("apply", "-f", "-", stdin=yaml.safe_dump(beta))
    assert code != 0
    assert (
        'Internal error occurred: failed calling webhook "validation.workspace.kaito.sh": '
        "failed to call webhook: "
        'Post "https://kaito-webhook-service.kaito-system.svc:443/validate-workspace?timeout=10s": '
        "dial tcp 127.0.0.1:"
    ) in err
    assert err.rstrip().endswith("connect: connection refused")
    # the seed's v1alpha1 object cannot even be converted to the stored version
    code, _, err = await kubectl.result("apply", "-f", str(SEED / "workspace-phi-3-mini.yaml"))
    assert code != 0
    assert "conversion webhook for kaito.sh/v1alpha1, Kind=Workspace failed: " in err
    assert (
        'Post "https://kaito-webhook-service.kaito-system.svc:443/convert?timeout=30s": dial tcp 127.0.0.1:'
        in err
    )
    await operator.start_operator()  # the fixture's clean-up deletes through the operator
