"""kaito.cli.install_manifests and `kaito manifests [install]`: the install YAML, as manifests/default."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito.cli import main
from kaito.cli.install_manifests import DEFAULT_IMAGE, install_objects, render_install

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_install_objects_are_what_kustomize_renders_from_manifests_default() -> None:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "manifests" / "default")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    from_kustomize = [doc for doc in yaml.safe_load_all(rendered) if doc]
    # change manifests/ and kaito/cli/install_manifests.py together: this is the only thing tying them
    assert install_objects() == from_kustomize


def _printed(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    code = main(["manifests", *argv])
    out, err = capsys.readouterr()
    return code, [doc for doc in yaml.safe_load_all(out) if doc], err


@pytest.mark.parametrize(
    "argv",
    [
        ["--image", "example.io/kaito:2", "--namespace", "ops"],
        ["install", "--image", "example.io/kaito:2", "--namespace", "ops"],
        ["--image", "example.io/kaito:2", "--namespace", "ops", "install"],
    ],
)
def test_manifests_prints_the_install_with_image_and_namespace(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, docs, _ = _printed(capsys, *argv)
    assert code == 0
    assert docs == install_objects(image="example.io/kaito:2", namespace="ops")
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "example.io/kaito:2"
    (namespace,) = [d for d in docs if d["kind"] == "Namespace"]
    assert namespace["metadata"]["name"] == "ops"
    for doc in docs:
        if doc["kind"] in ("ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Service", "Deployment"):
            assert doc["metadata"]["namespace"] == "ops", doc["kind"]
    bindings = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert [b["subjects"][0]["namespace"] for b in bindings] == ["ops", "ops"]
    (crd,) = [d for d in docs if d["metadata"]["name"] == "workspaces.kaito.sh"]
    assert crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["namespace"] == "ops"
    (configuration,) = [d for d in docs if d["kind"] == "ValidatingWebhookConfiguration"]
    assert configuration["webhooks"][0]["clientConfig"]["service"]["namespace"] == "ops"


def test_manifests_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    code, docs, _ = _printed(capsys)
    assert code == 0
    assert docs == install_objects()
    assert yaml.safe_load_all(render_install())
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == DEFAULT_IMAGE


@pytest.mark.parametrize(("flag", "field"), [("--image", "image"), ("--namespace", "namespace")])
def test_an_empty_value_is_refused_with_a_sentence(
    capsys: pytest.CaptureFixture[str], flag: str, field: str
) -> None:
    code, docs, err = _printed(capsys, flag, "")
    assert (code, docs) == (2, [])
    assert err.startswith(f"kaito manifests: {field} is empty; give the")
