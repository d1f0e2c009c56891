"""OpenAPI schemas of the built-in kinds, generated from a compact table (what ``kubectl explain`` shows).

:data:`FIELDS` lists, per (group, kind), each field as a dotted path and a type code, e.g.
``"spec.resources.requests": "{quantity}"``. ``a[].b`` is field ``b`` of the objects in array ``a``. Codes:

- ``string``, ``integer``, ``boolean``, ``quantity`` (int-or-string), ``object`` (free-form, kept as given);
- ``[T]`` an array of T, ``{T}`` a map of T, ``selector`` a metav1.LabelSelector.

:func:`builtin_schema` turns a kind's table into a structural OpenAPI v3 schema (every node typed, each
object keeping fields the table does not list, so a partial table never refuses a real manifest), and
:func:`builtin_definitions` into OpenAPI v2 ``definitions``. Kinds without a table get apiVersion, kind,
metadata and free-form spec/status. These schemas describe; they do not validate: the API server checks
built-ins with :mod:`kaito.sim.server.validation`, as kube-apiserver does in Go.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FIELDS", "builtin_definitions", "builtin_schema"]

Schema = dict[str, Any]

_SELECTOR = "selector"
_PVC_SPEC = {
    "spec.accessModes": "[string]",
    "spec.resources.requests": "{quantity}",
    "spec.resources.limits": "{quantity}",
    "spec.storageClassName": "string",
    "spec.volumeName": "string",
    "spec.volumeMode": "string",
    "spec.selector": _SELECTOR,
    "spec.dataSource": "object",
}

FIELDS: dict[tuple[str, str], dict[str, str]] = {
    ("", "PersistentVolumeClaim"): {
        **_PVC_SPEC,
        "status.phase": "string",
        "status.accessModes": "[string]",
        "status.capacity": "{quantity}",
    },
    ("", "PersistentVolume"): {
        "spec.capacity": "{quantity}",
        "spec.accessModes": "[string]",
        "spec.persistentVolumeReclaimPolicy": "string",
        "spec.storageClassName": "string",
        "spec.volumeMode": "string",
        "spec.claimRef.name": "string",
        "spec.claimRef.namespace": "string",
        "spec.claimRef.uid": "string",
        "spec.hostPath.path": "string",
        "spec.hostPath.type": "string",
        "spec.local.path": "string",
        "spec.csi": "object",
        "spec.nodeAffinity": "object",
        "spec.mountOptions": "[string]",
        "status.phase": "string",
        "status.reason": "string",
        "status.message": "string",
    },
    ("storage.k8s.io", "StorageClass"): {
        "provisioner": "string",
        "parameters": "{string}",
        "reclaimPolicy": "string",
        "volumeBindingMode": "string",
        "allowVolumeExpansion": "boolean",
        "mountOptions": "[string]",
        "allowedTopologies": "[object]",
    },
    ("autoscaling", "HorizontalPodAutoscaler"): {
        "spec.scaleTargetRef.apiVersion": "string",
        "spec.scaleTargetRef.kind": "string",
        "spec.scaleTargetRef.name": "string",
        "spec.minReplicas": "integer",
        "spec.maxReplicas": "integer",
        "spec.metrics[].type": "string",
        "spec.metrics[].resource": "object",
        "spec.metrics[].pods": "object",
        "spec.metrics[].object": "object",
        "spec.metrics[].external": "object",
        "spec.metrics[].containerResource": "object",
        "spec.behavior": "object",
        "status.currentReplicas": "integer",
        "status.desiredReplicas": "integer",
        "status.currentMetrics": "[object]",
        "status.conditions": "[object]",
    },
    ("policy", "PodDisruptionBudget"): {
        "spec.minAvailable": "quantity",
        "spec.maxUnavailable": "quantity",
        "spec.selector": _SELECTOR,
        "spec.unhealthyPodEvictionPolicy": "string",
        "status.currentHealthy": "integer",
        "status.desiredHealthy": "integer",
        "status.disruptionsAllowed": "integer",
        "status.expectedPods": "integer",
        "status.conditions": "[object]",
    },
    ("networking.k8s.io", "NetworkPolicy"): {
        "spec.podSelector": _SELECTOR,
        "spec.policyTypes": "[string]",
        "spec.ingress[].from": "[object]",
        "spec.ingress[].ports": "[object]",
        "spec.egress[].to": "[object]",
        "spec.egress[].ports": "[object]",
    },
    ("networking.k8s.io", "Ingress"): {
        "spec.ingressClassName": "string",
        "spec.defaultBackend": "object",
        "spec.tls[].hosts": "[string]",
        "spec.tls[].secretName": "string",
        "spec.rules[].host": "string",
        "spec.rules[].http.paths[].path": "string",
        "spec.rules[].http.paths[].pathType": "string",
        "spec.rules[].http.paths[].backend.service.name": "string",
        "spec.rules[].http.paths[].backend.service.port.number": "integer",
        "spec.rules[].http.paths[].backend.service.port.name": "string",
        "status.loadBalancer.ingress": "[object]",
    },
    ("networking.k8s.io", "IngressClass"): {
        "spec.controller": "string",
        "spec.parameters": "object",
    },
    ("", "Secret"): {
        "type": "string",
        "data": "{string}",
        "stringData": "{string}",
        "immutable": "boolean",
    },
    ("", "ConfigMap"): {
        "data": "{string}",
        "binaryData": "{string}",
        "immutable": "boolean",
    },
}


def _leaf(code: str, where: str) -> Schema:
    if code.startswith("[") and code.endswith("]"):
        return {"type": "array", "items": _leaf(code[1:-1], where)}
    if code.startswith("{") and code.endswith("}"):
        return {"type": "object", "additionalProperties": _leaf(code[1:-1], where)}
    if code == "quantity":
        return {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    if code == "object":
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if code == _SELECTOR:
        return {
            "type": "object",
            "properties": {
                "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                "matchExpressions": {
                    "type": "array",
                    "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            },
        }
    if code in ("string", "integer", "boolean"):
        return {"type": code}
    raise ValueError(f"{where}: unknown type code {code!r}")


def _object() -> Schema:
    return {"type": "object", "properties": {}, "x-kubernetes-preserve-unknown-fields": True}


def _insert(root: Schema, path: str, code: str, kind: str) -> None:
    node = root
    parts = path.split(".")
    for i, part in enumerate(parts):
        is_array = part.endswith("[]")
        name = part[:-2] if is_array else part
        props = node.setdefault("properties", {})
        if i == len(parts) - 1:
            leaf = _leaf(code, f"{kind}.{path}")
            if is_array:
                leaf = {"type": "array", "items": leaf}
            leaf["description"] = f"{kind}.{path.replace('[]', '')}"
            props[name] = leaf
            return
        if is_array:
            holder = props.setdefault(name, {"type": "array", "items": _object()})
            node = holder["items"]
        else:
            node = props.setdefault(name, _object())
            node.setdefault("description", f"{kind}.{'.'.join(parts[: i + 1]).replace('[]', '')}")


def builtin_schema(group: str, kind: str) -> Schema:
    """The OpenAPI v3 schema of a built-in kind (a skeleton when the table has no entry for it)."""
    root: Schema = {
        "type": "object",
        "description": f"{kind} ({group or 'core'}), as served by kaito.sim.",
        "properties": {
            "apiVersion": {"type": "string", "description": "The versioned schema of this object."},
            "kind": {"type": "string", "description": "The REST resource this object represents."},
            "metadata": {
                "type": "object",
                "description": "Standard object metadata.",
                "x-kubernetes-preserve-unknown-fields": True,
            },
        },
    }
    fields = FIELDS.get((group, kind))
    if fields is None:
        for part in ("spec", "status"):
            root["properties"][part] = {**_object(), "description": f"{kind}.{part}"}
        return root
    for path, code in fields.items():
        _insert(root, path, code, kind)
    return root


def _v2(schema: Schema) -> Schema:
    """OpenAPI v2 has no anyOf: an int-or-string keeps only its format marker."""
    if "anyOf" in schema:
        return {k: v for k, v in schema.items() if k != "anyOf"} | {"format": "int-or-string"}
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {k: _v2(v) for k, v in out["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _v2(out[key])
    return out


def builtin_definitions(types: list[tuple[str, str, str]]) -> dict[str, Schema]:
    """OpenAPI v2 ``definitions`` for built-in (group, version, kind)s, keyed as kube names them."""
    out: dict[str, Schema] = {}
    for group, version, kind in types:
        name = f"io.k8s.api.{(group.split('.')[0] if group else 'core')}.{version}.{kind}"
        schema = _v2(builtin_schema(group, kind))
        schema["x-kubernetes-group-version-kind"] = [{"group": group, "version": version, "kind": kind}]
        out[name] = schema
    return out
