"""The deployment files: the Dockerfile's shape (no Docker engine here, so its structure is checked instead),
the kustomize tree rendering, the manager's hardening, and the RBAC's least privilege."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


# ------------------------------------------------------------------------------------------ Dockerfile


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        keyword, _, args = pending.partition(" ")
        out.append((keyword.upper(), args.strip()))
        pending = ""
    return out


def _stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in instructions:
        if instruction[0] == "FROM":
            stages.append([])
        assert stages, f"{instruction} comes before the first FROM"
        stages[-1].append(instruction)
    return stages


def test_dockerfile_builds_a_wheel_then_runs_it_slim_non_root_and_read_only_friendly() -> None:
    stages = _stages(_instructions(ROOT / "Dockerfile"))
    assert len(stages) >= 2, "multi-stage: a builder and the final image"
    builder_from = stages[0][0][1].split()
    assert builder_from[-2].upper() == "AS", builder_from
    builder = builder_from[-1]
    assert any(k == "RUN" and "pip wheel" in a for k, a in stages[0]), "the builder makes a wheel"

    final = stages[-1]
    assert final[0][1] == "python:3.11-slim"
    assert any(k == "COPY" and a.startswith(f"--from={builder} ") for k, a in final), "final copies the wheel"
    assert not any(k == "COPY" and "src" in a.split() for k, a in final), "no source tree in the final image"
    env = " ".join(a for k, a in final if k == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env, "the only writable place under readOnlyRootFilesystem is /tmp"

    users = [a for k, a in final if k == "USER"]
    assert users, "the final stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid == "65532", "non-root uid 65532 (the Deployment's runAsUser)"
    entrypoint = [a for k, a in final if k == "ENTRYPOINT"]
    assert [json.loads(a) for a in entrypoint] == [["kaito", "run"]], "exec form, kaito run"


def test_dockerignore_sends_only_what_the_wheel_needs() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert {line[1:].rstrip("/") for line in lines if line.startswith("!")} == {
        "pyproject.toml",
        "README.md",
        "src",
    }


# ------------------------------------------------------------------------------------------ kustomize


def _render(directory: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS / directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


@needs_kubectl
@pytest.mark.parametrize(
    "directory", ["default", "crd", "rbac", "manager", "samples", "overlays/aks", "overlays/karpenter"]
)
def test_every_kustomization_renders(directory: str) -> None:
    assert _render(directory)


@needs_kubectl
def test_default_installs_everything_into_kaito_system() -> None:
    docs = _render("default")
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        ["Namespace", "ServiceAccount", "Deployment", "ValidatingWebhookConfiguration"]
        + ["CustomResourceDefinition"] * 4  # Workspace, Machine, InferenceSet, MultiRoleInference
        + ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "Service"] * 2
        + ["ConfigMap"] * 3  # the controller's settings, and the lora / qlora default training configs
    )
    cluster_scoped = (
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingWebhookConfiguration",
    )
    for doc in docs:
        if doc["kind"] not in cluster_scoped:
            assert doc["metadata"]["namespace"] == "kaito-system", doc["metadata"]
    for binding in _by_kind(docs, "ClusterRoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "kaito-controller", "namespace": "kaito-system"}
        ]


@needs_kubectl
def test_the_manager_runs_two_hardened_leader_electing_replicas() -> None:
    docs = _render("default")
    (deployment,) = _by_kind(docs, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    # one replica may be replaced at a time: the other keeps (or takes) the Lease meanwhile
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 1
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "kaito-controller"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert "--leader-elect" in container["args"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    probe_port = container["livenessProbe"]["httpGet"]["port"]
    assert f"--health-port={ports[probe_port]}" in container["args"]
    assert f"--metrics-port={ports['metrics']}" in container["args"]
    assert set(container["resources"]) == {"requests", "limits"}
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/tmp"]
    metrics, webhook = _by_kind(docs, "Service")
    assert metrics["spec"]["ports"][0]["targetPort"] == "metrics"
    assert metrics["spec"]["selector"] == spec["selector"]["matchLabels"]
    assert webhook["spec"]["ports"][0]["targetPort"] == "webhook" and "webhook" in ports
    assert f"--webhook-port={ports['webhook']}" in container["args"]


@needs_kubectl
@pytest.mark.parametrize(
    ("overlay", "arg"),
    [
        ("overlays/aks", "--provisioner=aks"),
        ("overlays/karpenter", "--karpenter-node-class=karpenter.azure.com/AKSNodeClass/default"),
    ],
)
def test_overlays_set_their_provisioner(overlay: str, arg: str) -> None:
    docs = _render(overlay)
    (deployment,) = _by_kind(docs, "Deployment")
    assert arg in deployment["spec"]["template"]["spec"]["containers"][0]["args"]


@needs_kubectl
def test_the_aks_overlay_configures_workload_identity() -> None:
    docs = _render("overlays/aks")
    (account,) = _by_kind(docs, "ServiceAccount")
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"]
    (deployment,) = _by_kind(docs, "Deployment")
    assert deployment["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    (config,) = [c for c in _by_kind(docs, "ConfigMap") if c["metadata"]["name"] == "kaito-controller-config"]
    assert set(config["data"]) == {
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_RESOURCE_GROUP",
        "AKS_CLUSTER_NAME",
    }
    assert (
        config["data"]["AZURE_RESOURCE_GROUP"]
        != next(
            c
            for c in _by_kind(_render("default"), "ConfigMap")
            if c["metadata"]["name"] == "kaito-controller-config"
        )["data"]["AZURE_RESOURCE_GROUP"]
    )


@pytest.mark.parametrize(("directory", "pattern"), [("crd", "kaito.sh_*.yaml"), ("samples", "*.yaml")])
def test_listing_kustomizations_name_every_file(directory: str, pattern: str) -> None:
    folder = MANIFESTS / directory
    listed = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
    present = sorted(p.name for p in folder.glob(pattern) if p.name != "kustomization.yaml")
    assert sorted(listed) == present


# ------------------------------------------------------------------------------------------ RBAC


def _rbac_rules() -> list[tuple[str, dict[str, Any]]]:
    rules = []
    for path in sorted((MANIFESTS / "rbac").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") in ("Role", "ClusterRole"):
                rules.extend((f"{doc['kind']} {doc['metadata']['name']}", rule) for rule in doc["rules"])
    return rules


def test_no_rule_grants_a_wildcard() -> None:
    rules = _rbac_rules()
    assert rules
    for role, rule in rules:
        for field in ("verbs", "resources", "apiGroups", "resourceNames", "nonResourceURLs"):
            assert not any("*" in value for value in rule.get(field) or ()), f"{role}: {field} {rule[field]}"


def test_the_operator_reads_secrets_only_by_name_or_its_own_certificate() -> None:
    """Two Secret rules and nothing more: the controller may `get` one Secret at a time (the model-access
    Secret a Workspace names when its preset is a Hugging Face model id: its token reads the model's
    config.json from the hub, as KAITO does), and the webhook keeps its own certificate Secret, by name
    (create cannot be limited by name, so it is granted in the operator's namespace alone). No list, watch or
    wildcard. The tuning output push needs no Secret access: the Job's pod mounts `imagePushSecret` as a
    volume (and the serving pod's token arrives through `secretKeyRef`), and the kubelet reads them.
    """
    for role, rule in _rbac_rules():
        resources = {r.split("/")[0] for r in rule.get("resources") or ()}
        if "secrets" in resources:
            assert resources == {"secrets"} and rule.get("apiGroups") == [""], role
            if role == "Role kaito-webhook-cert":
                assert rule.get("resourceNames") == ["kaito-webhook-cert"] or rule["verbs"] == ["create"], (
                    rule
                )
            else:
                assert rule.get("verbs") == ["get"] and "resourceNames" not in rule, role
        assert "serviceaccounts" not in resources, (
            f"{role}: a token request would be a way to another identity"
        )


def test_leader_election_is_confined_to_its_lease() -> None:
    roles = [
        d for d in yaml.safe_load_all((MANIFESTS / "rbac" / "leader_election_role.yaml").read_text()) if d
    ]
    (role,) = roles
    assert role["kind"] == "Role", "namespaced: the Lease lives in the controller's namespace"
    for rule in role["rules"]:
        assert rule["resources"] == ["leases"]
        assert rule["verbs"] == ["create"] or rule.get("resourceNames") == ["kaito-operator"]


def test_deployment_args_are_flags_of_kaito_run() -> None:
    from kaito.cli import build_parser

    manager = yaml.safe_load((MANIFESTS / "manager" / "manager.yaml").read_text())
    args = manager["spec"]["template"]["spec"]["containers"][0]["args"]
    args = [a.replace("$(POD_NAMESPACE)", "kaito-system") for a in args]
    parsed = build_parser().parse_args(["run", *args])
    assert (parsed.leader_elect, parsed.leader_election_namespace) == (True, "kaito-system")
    assert (parsed.health_port, parsed.metrics_port, parsed.bind_address) == (8081, 8080, "0.0.0.0")
