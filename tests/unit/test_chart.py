"""The Helm chart charts/kaito-py: `helm lint`, the values schema's refusals, each value landing where it
should, one source of truth with the kustomize tree (the same objects at the defaults) and with
`kaito manifests crds` (the same CRDs, byte for byte), and docs/deployment.md listing every value.
`helm install`, `upgrade` and `uninstall` against kaito.sim are in tests/integration/deploy/test_helm.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from helm_support import CHART, helm, needs_helm, refusal, render
from kaito.api.crd import all_crds, crd_filename, render_yaml

ROOT = Path(__file__).resolve().parents[2]
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
KEEP = {"helm.sh/resource-policy": "keep"}


def _key(obj: dict[str, Any]) -> tuple[str, str, str | None]:
    return obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace")


def _one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} rendered"
    return found[0]


def _manager(docs: list[dict[str, Any]]) -> dict[str, Any]:
    container: dict[str, Any] = _one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return container


# ------------------------------------------------------------------------------------ one source of truth


def test_chart_crds_are_the_generated_ones_byte_for_byte() -> None:
    expected = {crd_filename(crd): render_yaml(crd) for crd in all_crds()}
    files = {p.name: p.read_text(encoding="utf-8") for p in (CHART / "files" / "crds").glob("*.yaml")}
    assert sorted(files) == sorted(expected), "run `make manifests` and commit charts/kaito-py/files/crds/"
    for name, text in expected.items():
        assert files[name] == text, f"charts/kaito-py/files/crds/{name} drifted: run `make manifests`"


@needs_helm
@pytest.mark.parametrize(
    ("sets", "annotations"),
    [((), KEEP), (("crds.keep=false",), None)],
    ids=["kept-by-default", "keep-false"],
)
def test_rendered_crds_are_the_generated_objects(
    tmp_path: Path, sets: tuple[str, ...], annotations: dict[str, str] | None
) -> None:
    rendered = {
        d["metadata"]["name"]: d for d in render(tmp_path, *sets) if d["kind"] == "CustomResourceDefinition"
    }
    generated = {crd["metadata"]["name"]: crd for crd in all_crds()}
    assert sorted(rendered) == sorted(generated)
    for name, crd in rendered.items():
        assert crd["metadata"].pop("annotations", None) == annotations, name
        assert crd["metadata"].pop("labels")["app.kubernetes.io/managed-by"] == "Helm", name
        assert crd == generated[name], f"{name} renders differently from `kaito manifests crds`"


@needs_helm
def test_crds_install_false_renders_no_crd(tmp_path: Path) -> None:
    kinds = {d["kind"] for d in render(tmp_path, "crds.install=false")}
    assert "CustomResourceDefinition" not in kinds and "Deployment" in kinds


def _kustomize(directory: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "manifests" / directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without what Helm adds on purpose: its labels and annotations (compared separately), and
    the Deployment's pod-template annotation checksum/config (rolls the pods when the ConfigMap changes)."""
    out = json.loads(json.dumps(obj))
    for field in ("labels", "annotations"):
        out["metadata"].pop(field, None)
    if obj["kind"] == "Deployment":
        out["spec"]["template"]["metadata"].pop("annotations", None)
    return out


@needs_helm
@needs_kubectl
@pytest.mark.parametrize(
    ("directory", "sets"),
    [
        ("default", ()),
        ("overlays/karpenter", ("provisioner.type=karpenter",)),
        (
            "overlays/aks",
            (
                "provisioner.aks.subscriptionId=11111111-2222-3333-4444-555555555555",
                "provisioner.aks.resourceGroup=my-rg",
                "provisioner.aks.clusterName=my-aks",
                "provisioner.aks.workloadIdentity.clientId=66666666-7777-8888-9999-000000000000",
            ),
        ),
    ],
    ids=["defaults", "karpenter", "aks"],
)
def test_chart_renders_what_kustomize_renders(tmp_path: Path, directory: str, sets: tuple[str, ...]) -> None:
    """At the defaults (and with the overlays' settings): same kinds and names, same RBAC rules and bindings,
    same container and pod spec, same ConfigMap, Service and CRDs; the chart only adds labels (Helm's
    app.kubernetes.io/instance, managed-by, ...)."""
    chart = {_key(d): d for d in render(tmp_path, *sets)}
    kustomize = {_key(d): d for d in _kustomize(directory)}
    # the release namespace is Helm's to make (`--create-namespace`), not the chart's
    namespace = ("Namespace", "kaito-system", None)
    assert set(chart) == set(kustomize) - {namespace}
    for key, theirs in kustomize.items():
        if key == namespace:
            continue
        ours = chart[key]
        assert _comparable(ours) == _comparable(theirs), f"{key} drifted from manifests/{directory}"
        their_labels = theirs["metadata"].get("labels") or {}
        assert their_labels.items() <= (ours["metadata"].get("labels") or {}).items(), key
        assert ours["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm", key
    pod = chart[("Deployment", "kaito-controller", "kaito-system")]["spec"]["template"]["metadata"]
    assert set(pod["annotations"]) == {"checksum/config"}


# ---------------------------------------------------------------------------------------------- helm lint


@needs_helm
@pytest.mark.parametrize(
    "sets",
    [
        (),
        ("provisioner.type=karpenter", "metrics.serviceMonitor.enabled=true", "crds.install=false"),
        ("webhook.enabled=false",),
    ],
    ids=["defaults", "karpenter-servicemonitor", "no-webhook"],
)
def test_helm_lint_strict_is_clean(tmp_path: Path, sets: tuple[str, ...]) -> None:
    args = ["lint", "--strict", str(CHART)]
    for item in sets:
        args += ["--set", item]
    result = helm(*args, home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


# ------------------------------------------------------------------------------------- schema refusals


@needs_helm
@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (("replicaCount=-1",), "replicaCount: Must be greater than or equal to 0"),
        (("replicaCount=two",), "replicaCount: Invalid type. Expected: integer, given: string"),
        (("replicas=3",), "Additional property replicas is not allowed"),
        (("logLevel=verbose",), 'logLevel must be one of the following: "debug", "info", "warning", "error"'),
        (("provisioner.type=gke",), 'provisioner.type must be one of the following: "aks", "karpenter"'),
        (("image.pullPolicy=Sometimes",), 'must be one of the following: "Always", "IfNotPresent", "Never"'),
        (("image.repository=",), "image.repository: String length must be greater than or equal to 1"),
        (
            ("provisioner.aks.subscriptionId=my-sub",),
            "provisioner.aks.subscriptionId: Does not match pattern",
        ),
        (
            ("provisioner.aks.workloadIdentity.clientId=abc",),
            "workloadIdentity.clientId: Does not match pattern",
        ),
        (
            ("provisioner.karpenter.nodeClass=default",),
            "provisioner.karpenter.nodeClass: Does not match pattern",
        ),
        (("extraArgs[0]=launch-timeout=45m",), "extraArgs.0: Does not match pattern '^--'"),
        (
            ("metrics.serviceMonitor.interval=often",),
            "metrics.serviceMonitor.interval: Does not match pattern",
        ),
        (("crds.keep=maybe",), "crds.keep: Invalid type. Expected: boolean, given: string"),
        (
            ("webhook.failurePolicy=Never",),
            'webhook.failurePolicy must be one of the following: "Fail", "Ignore"',
        ),
        (("webhook.timeoutSeconds=31",), "webhook.timeoutSeconds: Must be less than or equal to 30"),
        (("webhook.port=443",), "webhook.port: Must be greater than or equal to 1024"),
        (
            ("webhook.port=8081",),
            "webhook.port is 8081, the port of the controller's health probes; choose another port",
        ),
        (
            ("leaderElection.enabled=false",),
            "replicaCount is 2 with leaderElection.enabled false; replicas would reconcile at the same time, "
            "so set replicaCount to 0 or 1, or enable leader election",
        ),
        (
            ("metrics.service.enabled=false", "metrics.serviceMonitor.enabled=true"),
            "metrics.serviceMonitor.enabled is true but metrics.service.enabled is false",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_value(tmp_path: Path, sets: tuple[str, ...], message: str) -> None:
    assert message in refusal(tmp_path, *sets)


# ----------------------------------------------------------------------------------- values that land


@needs_helm
def test_karpenter_provisioner_names_the_node_class(tmp_path: Path) -> None:
    docs = render(
        tmp_path,
        "provisioner.type=karpenter",
        "provisioner.karpenter.nodeClass=karpenter.azure.com/AKSNodeClass/gpu",
    )
    args = _manager(docs)["args"]
    assert "--provisioner=karpenter" in args
    assert args[-1] == "--karpenter-node-class=karpenter.azure.com/AKSNodeClass/gpu"
    assert "--karpenter-node-class" not in " ".join(_manager(render(tmp_path))["args"])


@needs_helm
def test_aks_settings_and_workload_identity(tmp_path: Path) -> None:
    client_id = "66666666-7777-8888-9999-000000000000"
    docs = render(
        tmp_path,
        "provisioner.aks.subscriptionId=11111111-2222-3333-4444-555555555555",
        "provisioner.aks.resourceGroup=my-rg",
        "provisioner.aks.clusterName=my-aks",
        "provisioner.aks.resourceManagerUrl=https://management.usgovcloudapi.net",
        f"provisioner.aks.workloadIdentity.clientId={client_id}",
        "serviceAccount.annotations.team=ml",
    )
    assert _one(docs, "ConfigMap", "kaito-controller-config")["data"] == {
        "AZURE_SUBSCRIPTION_ID": "11111111-2222-3333-4444-555555555555",
        "AZURE_RESOURCE_GROUP": "my-rg",
        "AKS_CLUSTER_NAME": "my-aks",
        "AZURE_RESOURCE_MANAGER_URL": "https://management.usgovcloudapi.net",
    }
    assert _one(docs, "ServiceAccount")["metadata"]["annotations"] == {
        "azure.workload.identity/client-id": client_id,
        "team": "ml",
    }
    pod_labels = _one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["azure.workload.identity/use"] == "true"
    # without a client id: neither the annotation nor the label
    defaults = render(tmp_path)
    assert "annotations" not in _one(defaults, "ServiceAccount")["metadata"]
    assert (
        "azure.workload.identity/use"
        not in _one(defaults, "Deployment")["spec"]["template"]["metadata"]["labels"]
    )


@needs_helm
def test_a_provisioner_setting_changes_the_pod_template(tmp_path: Path) -> None:
    """The operator reads the ConfigMap at start only, so a changed setting must roll the pods."""

    def checksum(*sets: str) -> str:
        pod = _one(render(tmp_path, *sets), "Deployment")["spec"]["template"]["metadata"]
        return str(pod["annotations"]["checksum/config"])

    assert checksum() == checksum()
    assert checksum("provisioner.aks.clusterName=other") != checksum()


@needs_helm
def test_without_leader_election_there_is_no_lease_role(tmp_path: Path) -> None:
    docs = render(tmp_path, "leaderElection.enabled=false", "replicaCount=1")
    roles = {d["metadata"]["name"] for d in docs if d["kind"] in ("Role", "RoleBinding")}
    assert roles == {"kaito-webhook-cert"}
    assert not any(arg.startswith("--leader-elect") for arg in _manager(docs)["args"])
    assert _one(docs, "Deployment")["spec"]["replicas"] == 1


@needs_helm
def test_pod_placement_image_resources_security_and_flags(tmp_path: Path) -> None:
    values = {
        "image": {"repository": "myregistry.azurecr.io/kaito-py", "tag": "0.2.0", "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "acr"}],
        "replicaCount": 3,
        "logLevel": "debug",
        "extraArgs": ["--launch-timeout=45m", "--orphan-sweep-interval=5m"],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.azure.com/mode", "operator": "In", "values": ["system"]}
            ]}]
        }}},
        "resources": {"requests": {"cpu": "200m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        "podSecurityContext": {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 1000},
        "podAnnotations": {"example.com/owner": "ml-platform"},
        "podLabels": {"team": "ml"},
    }  # fmt: skip
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    docs = render(tmp_path, values=path)
    deployment = _one(docs, "Deployment")
    pod = deployment["spec"]["template"]
    container = _manager(docs)
    assert deployment["spec"]["replicas"] == 3
    assert container["image"] == "myregistry.azurecr.io/kaito-py:0.2.0"
    assert container["imagePullPolicy"] == "Always"
    assert "--log-level=debug" in container["args"]
    assert container["args"][-2:] == ["--launch-timeout=45m", "--orphan-sweep-interval=5m"]
    # Helm merges maps with the defaults: what is not overridden stays (null removes a key)
    assert container["resources"] == {
        "requests": {"cpu": "200m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 65532,
        "fsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for field in ("nodeSelector", "tolerations", "affinity", "imagePullSecrets"):
        assert pod["spec"][field] == values[field], field
    assert pod["metadata"]["annotations"]["example.com/owner"] == "ml-platform"
    assert pod["metadata"]["labels"]["team"] == "ml"
    # the selector stays the kustomize tree's (selectors are immutable)
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "kaito",
        "app.kubernetes.io/component": "controller",
    }
    assert _one(docs, "ServiceAccount")["imagePullSecrets"] == [{"name": "acr"}]


@needs_helm
def test_metrics_service_and_service_monitor_toggles(tmp_path: Path) -> None:
    assert "ServiceMonitor" not in {d["kind"] for d in render(tmp_path)}
    docs = render(
        tmp_path, "metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.interval=15s",
        "metrics.serviceMonitor.labels.release=prometheus",
    )  # fmt: skip
    monitor, service = _one(docs, "ServiceMonitor"), _one(docs, "Service", "kaito-controller-metrics")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "15s"}]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [p["name"] for p in service["spec"]["ports"]] == ["metrics"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["kaito-system"]}
    services = {d["metadata"]["name"] for d in render(tmp_path, "metrics.service.enabled=false")
                if d["kind"] == "Service"}  # fmt: skip
    assert services == {"kaito-webhook-service"}


@needs_helm
def test_everything_namespaced_lands_in_the_release_namespace(tmp_path: Path) -> None:
    docs = render(tmp_path, namespace="ml-ops")
    cluster_scoped = (
        "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration"
    )  # fmt: skip
    namespaced = [d for d in docs if d["kind"] not in cluster_scoped]
    assert {d["metadata"]["namespace"] for d in namespaced} == {"ml-ops"}
    subjects = [s for d in docs if d["kind"].endswith("Binding") for s in d["subjects"]]
    assert {s["namespace"] for s in subjects} == {"ml-ops"}
    # the API server calls the webhook Service of this release, for admission and for conversion
    admission = _one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]["clientConfig"]["service"]
    crd = _one(docs, "CustomResourceDefinition", "workspaces.kaito.sh")
    conversion = crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"]
    for service in (admission, conversion):
        assert (service["namespace"], service["name"], service["port"]) == (
            "ml-ops",
            "kaito-webhook-service",
            443,
        )
    assert _one(docs, "Service", "kaito-webhook-service")["metadata"]["namespace"] == "ml-ops"


def _webhook_objects(docs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {
        (d["kind"], d["metadata"]["name"])
        for d in docs
        if "webhook" in d["metadata"]["name"] or d["kind"] == "ValidatingWebhookConfiguration"
    }


@needs_helm
def test_webhook_settings_land_and_no_ca_bundle_is_rendered(tmp_path: Path) -> None:
    """The operator patches the caBundles in: a rendered one would be stale, and each `helm upgrade` would
    put it back over the operator's, so no object of the chart carries one."""
    docs = render(tmp_path, "webhook.port=10250", "webhook.failurePolicy=Ignore", "webhook.timeoutSeconds=5")
    container = _manager(docs)
    assert container["args"][-2:] == ["--webhook-port=10250", "--webhook-namespace=$(POD_NAMESPACE)"]
    assert {"name": "webhook", "containerPort": 10250, "protocol": "TCP"} in container["ports"]
    webhook = _one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]
    assert (webhook["failurePolicy"], webhook["timeoutSeconds"]) == ("Ignore", 5)
    service = _one(docs, "Service", "kaito-webhook-service")
    assert service["spec"]["ports"] == [
        {"name": "webhook", "port": 443, "targetPort": "webhook", "protocol": "TCP"}
    ]
    pod_labels = _one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert "caBundle" not in json.dumps(render(tmp_path))


@needs_helm
def test_without_the_webhook_the_crd_serves_only_what_it_stores(tmp_path: Path) -> None:
    """No webhook objects, flags or port; and since nothing could convert, the Workspace CRD converts nothing
    and serves v1beta1 (its storage version) only, instead of failing every v1alpha1 request."""
    assert _webhook_objects(render(tmp_path)) == {
        ("Service", "kaito-webhook-service"),
        ("ValidatingWebhookConfiguration", "validation.workspace.kaito.sh"),
        ("Role", "kaito-webhook-cert"),
        ("RoleBinding", "kaito-webhook-cert"),
        ("ClusterRole", "kaito-webhook-cabundle"),
        ("ClusterRoleBinding", "kaito-webhook-cabundle"),
    }
    docs = render(tmp_path, "webhook.enabled=false")
    assert _webhook_objects(docs) == set()
    container = _manager(docs)
    assert not any(arg.startswith("--webhook") for arg in container["args"])
    assert "webhook" not in {port["name"] for port in container["ports"]}
    crd = _one(docs, "CustomResourceDefinition", "workspaces.kaito.sh")
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    served = {v["name"]: (v["served"], v["storage"]) for v in crd["spec"]["versions"]}
    assert served == {"v1alpha1": (False, False), "v1beta1": (True, True)}
    machines = _one(docs, "CustomResourceDefinition", "machines.kaito.sh")
    assert machines == _one(render(tmp_path), "CustomResourceDefinition", "machines.kaito.sh")


# ------------------------------------------------------------------------------------------------ docs


def _leaves(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every value a user sets, by dotted path: the schema's properties, down to free-form objects."""
    out: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if name not in values:
            continue
        path = f"{prefix}{name}"
        if "properties" in prop and isinstance(values[name], dict):
            out.update(_leaves(values[name], prop, f"{path}."))
        else:
            out[path] = values[name]
    return out


def test_docs_list_every_value_with_its_default() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    docs = (ROOT / "docs" / "deployment.md").read_text()
    section = docs.split("### Helm chart values", 1)[1].split("\n#", 1)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([A-Za-z.]+)` \|.*$", section, re.MULTILINE)}
    leaves = _leaves(values, schema)
    assert sorted(set(leaves) - set(rows)) == [], "values missing from docs/deployment.md"
    assert sorted(set(rows) - set(leaves)) == [], "docs/deployment.md lists values the chart does not have"
    for path, default in leaves.items():
        if isinstance(default, (dict, list)) and default:
            continue  # a structured default is shown in YAML flow style; its path is enough to find it
        if isinstance(default, bool):
            shown = str(default).lower()
        elif isinstance(default, (dict, list)) or default == "":
            shown = json.dumps(default)
        else:
            shown = str(default)
        assert f"`{shown}`" in rows[path].split("|")[2], (
            f"docs/deployment.md shows another default for {path}"
        )
