"""The full install as objects: CRDs, RBAC, the controller Deployment — what `kaito manifests install` prints.

`install_objects(image=..., namespace=...)` returns, in the order `kubectl kustomize manifests/default` emits
them (Namespace, CRDs, ServiceAccount, Roles, bindings, ConfigMaps, Services, Deployment, the webhook
configuration), the same objects
that kustomize tree renders, with the image and namespace substituted. The kustomize files are what people
edit and overlay; this module is the same install for `kubectl apply -f -` without a checkout. Two copies
can drift, so a test renders `manifests/default` with kubectl and requires equality with
`install_objects()` at its defaults (tests/unit/cli/test_install_manifests.py): change one, change both.

The CRDs come from `kaito.api.crd` (the generator behind `manifests/crd/`), never from files.
"""

from __future__ import annotations

from typing import Any, Final

import yaml

from kaito.api.crd import all_crds
from kaito.controllers.tuning_config import DEFAULT_TRAINING_CONFIGS, TEMPLATE_CONFIGMAPS
from kaito.controllers.webhook_manifests import webhook_objects

__all__ = [
    "CLUSTER_ROLE_RULES",
    "DEFAULT_IMAGE",
    "DEFAULT_NAMESPACE",
    "LEADER_ELECTION_RULES",
    "NAME",
    "WEBHOOK_CABUNDLE_RULES",
    "WEBHOOK_CERT_RULES",
    "install_objects",
    "render_install",
]

DEFAULT_IMAGE: Final = "kaito-py:0.1.0"
DEFAULT_NAMESPACE: Final = "kaito-system"
NAME: Final = "kaito-controller"
_LEASE: Final = "kaito-operator"
_ELECTION: Final = "kaito-leader-election"
_CONFIG: Final = "kaito-controller-config"
_LABELS: Final = {"app.kubernetes.io/component": "controller", "app.kubernetes.io/name": "kaito"}
_RBAC: Final = "rbac.authorization.k8s.io/v1"
_ALL_WRITES: Final = ["get", "list", "watch", "create", "update", "patch", "delete"]


def _rule(groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None) -> Any:
    rule: dict[str, Any] = {"apiGroups": groups}
    if names:
        rule["resourceNames"] = names
    rule["resources"] = resources
    rule["verbs"] = verbs
    return rule


# manifests/rbac/role.yaml, rule for rule (the comments there say why each is needed)
CLUSTER_ROLE_RULES: Final[list[dict[str, Any]]] = [
    _rule(["kaito.sh"], ["workspaces"], ["get", "list", "watch", "update", "patch"]),
    _rule(["kaito.sh"], ["workspaces/status"], ["get", "update", "patch"]),
    _rule(["kaito.sh"], ["workspaces/finalizers", "machines/finalizers"], ["update"]),
    _rule(["kaito.sh"], ["machines"], list(_ALL_WRITES)),
    _rule(["kaito.sh"], ["machines/status"], ["get", "update", "patch"]),
    _rule([""], ["nodes"], ["get", "list", "watch"]),
    _rule([""], ["configmaps", "services"], list(_ALL_WRITES)),
    _rule(["apps"], ["deployments", "statefulsets"], list(_ALL_WRITES)),
    _rule(["batch"], ["jobs"], list(_ALL_WRITES)),
    _rule([""], ["pods"], ["get", "list"]),
    _rule([""], ["secrets"], ["get"]),
    _rule([""], ["events"], ["create", "patch"]),
    _rule(["karpenter.sh"], ["nodeclaims"], ["get", "list", "watch", "create", "delete"]),
]

# manifests/rbac/leader_election_role.yaml
LEADER_ELECTION_RULES: Final[list[dict[str, Any]]] = [
    _rule(["coordination.k8s.io"], ["leases"], ["create"]),
    _rule(["coordination.k8s.io"], ["leases"], ["get", "update"], names=[_LEASE]),
]

# manifests/rbac/webhook_role.yaml: the webhook's certificate Secret, and the two caBundles it patches
_CERT: Final = "kaito-webhook-cert"
_CABUNDLE: Final = "kaito-webhook-cabundle"
_WEBHOOK_LABELS: Final = {"app.kubernetes.io/component": "webhook", "app.kubernetes.io/name": "kaito"}
WEBHOOK_CERT_RULES: Final[list[dict[str, Any]]] = [
    _rule([""], ["secrets"], ["create"]),
    _rule([""], ["secrets"], ["get", "update"], names=[_CERT]),
]
WEBHOOK_CABUNDLE_RULES: Final[list[dict[str, Any]]] = [
    _rule(
        ["admissionregistration.k8s.io"],
        ["validatingwebhookconfigurations"],
        ["get", "patch"],
        names=["validation.workspace.kaito.sh"],
    ),
    _rule(
        ["apiextensions.k8s.io"],
        ["customresourcedefinitions"],
        ["get", "patch"],
        names=["workspaces.kaito.sh"],
    ),
]

_CONFIG_DATA: Final = {
    "AKS_CLUSTER_NAME": "set-your-cluster-name",
    "AZURE_RESOURCE_GROUP": "set-your-resource-group",
    "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
}


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"labels": dict(_LABELS), "name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _binding(
    kind: str,
    role_kind: str,
    name: str,
    namespace: str | None,
    sa_namespace: str,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta = _meta(name, namespace)
    if labels is not None:
        meta["labels"] = dict(labels)
    return {
        "apiVersion": _RBAC,
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": sa_namespace}],
    }


def _security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _deployment(namespace: str, image: str) -> dict[str, Any]:
    container = {
        "args": [
            "--leader-elect",
            "--leader-election-namespace=$(POD_NAMESPACE)",
            "--provisioner=aks",
            "--bind-address=0.0.0.0",
            "--health-port=8081",
            "--metrics-port=8080",
            "--log-level=info",
            "--webhook-port=9443",
            "--webhook-namespace=$(POD_NAMESPACE)",
        ],
        "env": [
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "HOME", "value": "/tmp"},
        ],
        "envFrom": [{"configMapRef": {"name": _CONFIG}}],
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "health"},
            "initialDelaySeconds": 15,
            "periodSeconds": 20,
        },
        "name": "manager",
        "ports": [
            {"containerPort": 8080, "name": "metrics", "protocol": "TCP"},
            {"containerPort": 8081, "name": "health", "protocol": "TCP"},
            {"containerPort": 9443, "name": "webhook", "protocol": "TCP"},
        ],
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": "health"},
            "initialDelaySeconds": 5,
            "periodSeconds": 10,
        },
        "resources": {
            "limits": {"cpu": "1", "memory": "512Mi"},
            "requests": {"cpu": "100m", "memory": "256Mi"},
        },
        "securityContext": _security_context(),
        "volumeMounts": [{"mountPath": "/tmp", "name": "tmp"}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(NAME, namespace),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": dict(_LABELS)},
            "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}, "type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": dict(_LABELS)},
                "spec": {
                    "containers": [container],
                    "securityContext": {
                        "runAsGroup": 65532,
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "serviceAccountName": NAME,
                    "terminationGracePeriodSeconds": 30,
                    "volumes": [{"emptyDir": {"sizeLimit": "64Mi"}, "name": "tmp"}],
                },
            },
        },
    }


def install_objects(
    *, image: str = DEFAULT_IMAGE, namespace: str = DEFAULT_NAMESPACE
) -> list[dict[str, Any]]:
    """Every object of the install, in kustomize's order; `namespace` holds the controller and its Lease."""
    if not image:
        raise ValueError("image is empty; give the controller image, e.g. kaito-py:0.1.0")
    if not namespace:
        raise ValueError("namespace is empty; give the namespace to install into, e.g. kaito-system")
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "labels": {
                    "app.kubernetes.io/name": "kaito",
                    "pod-security.kubernetes.io/enforce": "restricted",
                },
                "name": namespace,
            },
        },
        *sorted(
            (_in_namespace(crd, namespace) for crd in all_crds()),
            key=lambda crd: str(crd["metadata"]["name"]),
        ),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME, namespace)},
        {
            "apiVersion": _RBAC,
            "kind": "Role",
            "metadata": _meta(_ELECTION, namespace),
            "rules": [dict(rule) for rule in LEADER_ELECTION_RULES],
        },
        {
            "apiVersion": _RBAC,
            "kind": "Role",
            "metadata": {"labels": dict(_WEBHOOK_LABELS), "name": _CERT, "namespace": namespace},
            "rules": [dict(rule) for rule in WEBHOOK_CERT_RULES],
        },
        {
            "apiVersion": _RBAC,
            "kind": "ClusterRole",
            "metadata": _meta(NAME),
            "rules": [dict(rule) for rule in CLUSTER_ROLE_RULES],
        },
        {
            "apiVersion": _RBAC,
            "kind": "ClusterRole",
            "metadata": {"labels": dict(_WEBHOOK_LABELS), "name": _CABUNDLE},
            "rules": [dict(rule) for rule in WEBHOOK_CABUNDLE_RULES],
        },
        _binding("RoleBinding", "Role", _ELECTION, namespace, namespace),
        _binding("RoleBinding", "Role", _CERT, namespace, namespace, _WEBHOOK_LABELS),
        _binding("ClusterRoleBinding", "ClusterRole", NAME, None, namespace),
        _binding("ClusterRoleBinding", "ClusterRole", _CABUNDLE, None, namespace, _WEBHOOK_LABELS),
        {
            "apiVersion": "v1",
            "data": dict(_CONFIG_DATA),
            "kind": "ConfigMap",
            "metadata": {"name": _CONFIG, "namespace": namespace},
        },
        *(
            {
                "apiVersion": "v1",
                "data": {"training_config.yaml": DEFAULT_TRAINING_CONFIGS[method]},
                "kind": "ConfigMap",
                "metadata": {"name": template, "namespace": namespace},
            }
            for method, template in TEMPLATE_CONFIGMAPS.items()
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta("kaito-controller-metrics", namespace),
            "spec": {
                "ports": [{"name": "metrics", "port": 8080, "protocol": "TCP", "targetPort": "metrics"}],
                "selector": dict(_LABELS),
            },
        },
        webhook_objects(namespace)[0],
        _deployment(namespace, image),
        webhook_objects(namespace)[1],
    ]


def _in_namespace(crd: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The CRD with its conversion webhook's Service in `namespace` (kustomize's namespace transformer)."""
    service = (((crd["spec"].get("conversion") or {}).get("webhook") or {}).get("clientConfig") or {}).get(
        "service"
    )
    if service is not None:
        service["namespace"] = namespace
    return crd


def render_install(*, image: str = DEFAULT_IMAGE, namespace: str = DEFAULT_NAMESPACE) -> str:
    """The install as one multi-document YAML stream for `kubectl apply -f -`."""
    docs = install_objects(image=image, namespace=namespace)
    return "---\n".join(yaml.safe_dump(doc, sort_keys=False) for doc in docs)
