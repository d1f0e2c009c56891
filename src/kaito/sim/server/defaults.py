"""What kube-apiserver fills in when a built-in object is written (PrepareForCreate and defaulting).

Pure functions over the wire form, called by the store after it has set ``metadata.uid`` and before it
validates. Only the defaults a client or controller can observe are applied: status reset for kinds whose
status is a subresource (Nodes keep theirs: the kubelet registers with it), Pod status ``Pending`` with its
QoS class, Service cluster IPs and port defaults, workload strategies, and the Job's generated selector and
template labels (``batch.kubernetes.io/controller-uid``), which the Job controller relies on.
:func:`apply_defaults` runs on every write; :func:`prepare_create` only on create.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["apply_defaults", "prepare_create", "qos_class"]

_KEEP_STATUS_ON_CREATE = frozenset({("", "nodes")})


def qos_class(spec: dict[str, Any]) -> str:
    """Guaranteed / Burstable / BestEffort from requests and limits (kube's GetPodQOS, simplified)."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests = [((c.get("resources") or {}).get("requests") or {}) for c in containers]
    limits = [((c.get("resources") or {}).get("limits") or {}) for c in containers]
    if not any(requests) and not any(limits):
        return "BestEffort"
    guaranteed = all(
        lim.get("cpu") and lim.get("memory") and all(req.get(k, lim[k]) == lim[k] for k in ("cpu", "memory"))
        for req, lim in zip(requests, limits, strict=True)
    )
    return "Guaranteed" if guaranteed else "Burstable"


def _pod_spec_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    for container in spec.get("containers") or []:
        if isinstance(container, dict):
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("imagePullPolicy", "IfNotPresent")
            for port in container.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def _template_defaults(spec: dict[str, Any]) -> None:
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        _pod_spec_defaults(template["spec"])


def apply_defaults(key: tuple[str, str], obj: dict[str, Any]) -> None:
    """The defaulting kube applies on every write of the built-in kind ``key`` = (group, plural), in place.

    Idempotent (only absent fields are set), so that an update carrying an object without its defaults neither
    changes the stored spec nor bumps ``generation``.
    """
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if key == ("", "pods"):
        _pod_spec_defaults(spec)
    elif key == ("", "services"):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
    elif key == ("apps", "deployments"):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault(
            "strategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        )
        _template_defaults(spec)
    elif key == ("apps", "replicasets"):
        spec.setdefault("replicas", 1)
        _template_defaults(spec)
    elif key == ("apps", "statefulsets"):
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        _template_defaults(spec)
    elif key == ("batch", "jobs"):
        spec.setdefault("parallelism", 1)
        spec.setdefault("completions", spec["parallelism"] if spec.get("completionMode") == "Indexed" else 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        template = spec.get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            template["spec"].setdefault("restartPolicy", "Never")
            _pod_spec_defaults(template["spec"])


_SPECLESS = frozenset({("", "configmaps"), ("", "secrets"), ("", "events"), ("", "endpoints")})


def prepare_create(
    key: tuple[str, str], obj: dict[str, Any], *, has_status: bool, next_cluster_ip: Callable[[], str]
) -> None:
    """Create-time preparation of the built-in kind ``key``: status reset, allocations, then defaults."""
    if has_status and key not in _KEEP_STATUS_ON_CREATE:
        obj.pop("status", None)
    md = obj.setdefault("metadata", {})
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
        if key not in _SPECLESS:
            obj["spec"] = spec
    if key == ("", "namespaces"):
        spec.setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md["name"]
    elif key == ("", "pods"):
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}
    elif key == ("", "services"):
        if spec.get("type") != "ExternalName" and not spec.get("clusterIP"):
            spec["clusterIP"] = next_cluster_ip()
        if spec.get("clusterIP"):
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        obj["status"] = {"loadBalancer": {}}
    elif key == ("batch", "jobs"):
        _job_selector(md, spec)
    apply_defaults(key, obj)


def _job_selector(md: dict[str, Any], spec: dict[str, Any]) -> None:
    """The selector and template labels kube generates for a Job without ``manualSelector``."""
    template = spec.setdefault("template", {})
    if spec.get("manualSelector") or not isinstance(template, dict):
        return
    uid = md["uid"]
    generated = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": md["name"],
        "controller-uid": uid,
        "job-name": md["name"],
    }
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    template_md = template.setdefault("metadata", {})
    template_md["labels"] = {**(template_md.get("labels") or {}), **generated}
