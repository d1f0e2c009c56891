"""Discovery documents: what ``/version``, ``/api``, ``/apis``, ``/apis/{g}/{v}`` and ``/openapi/v3``
answer.

Every document is a pure function of the :class:`~kaito.sim.server.resources.ResourceRegistry`, computed per
request, so a CRD registered a moment ago is served at once (kube's discovery also updates as soon as a CRD
is Established).

Two discovery formats are served, as kube-apiserver 1.30+ does:
- the legacy one (``APIVersions``, ``APIGroupList``, ``APIGroup``, ``APIResourceList``), and
- the aggregated one (``apidiscovery.k8s.io/v2`` ``APIGroupDiscoveryList``) on ``/api`` and ``/apis`` when
  the Accept header asks for it (client-go and kubectl 1.30+ do), which saves one request per group version.

OpenAPI v3 is served because kubectl's client-side checks need it: ``kubectl apply``/``create`` look in the
group-version document for a PATCH operation of the kind (``x-kubernetes-group-version-kind``) that lists
the ``fieldValidation`` query parameter, and leave validation to the server when they find one. The PATCH
operations deliberately do not list strategic merge patch as a body type, so kubectl computes its patch from
its compiled-in types instead of from schemas this server does not carry. ``/openapi/v2`` is only served as
JSON; kubectl asks for protobuf there, gets 406 and falls back as it does against old servers.

Only subresources this server really answers (status, scale, log, namespaces/finalize) are advertised.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from kaito.sim.server.resources import ResourceRegistry, ResourceType

__all__ = [
    "AGGREGATED_MEDIA_TYPE",
    "KUBE_VERSION",
    "aggregated_discovery",
    "api_group",
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "openapi_v2",
    "openapi_v3_document",
    "openapi_v3_index",
    "served_subresources",
    "sorted_versions",
    "version_info",
    "wants_aggregated",
]

KUBE_VERSION = (1, 32, 0)
AGGREGATED_MEDIA_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

# subresource -> (verbs, response (group, version, kind) or None for the parent's kind)
_SUBRESOURCES: dict[str, tuple[tuple[str, ...], tuple[str, str, str] | None]] = {
    "status": (("get", "patch", "update"), None),
    "scale": (("get", "patch", "update"), ("autoscaling", "v1", "Scale")),
    "log": (("get",), None),
    "attach": (("create", "get"), ("", "v1", "PodAttachOptions")),  # over WebSocket (kaito.sim.attach)
    "finalize": (("update",), None),
}


def version_info() -> dict[str, Any]:
    """``/version``: a 1.32 server, so kubectl 1.32 prints no version-skew warning."""
    major, minor, patch = KUBE_VERSION
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": f"v{major}.{minor}.{patch}-kaito-sim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def _version_priority(version: str) -> tuple[int, int, int, str]:
    """kube's version ordering: GA before beta before alpha, higher numbers first, then the rest by name."""
    m = _VERSION_RE.match(version)
    if not m:
        return (3, 0, 0, version)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, "")


def sorted_versions(versions: list[str]) -> list[str]:
    """Versions most preferred first (``v1`` > ``v1beta2`` > ``v1beta1`` > ``v1alpha1``)."""
    return sorted(set(versions), key=_version_priority)


def _group_versions(registry: ResourceRegistry) -> dict[str, list[str]]:
    return {group: sorted_versions(versions) for group, versions in registry.groups().items()}


def served_subresources(rt: ResourceType) -> list[str]:
    """The type's subresources this server answers, sorted."""
    return sorted(s for s in rt.subresources if s in _SUBRESOURCES)


def _types_of(registry: ResourceRegistry, group: str, version: str) -> list[ResourceType]:
    return sorted(
        (rt for rt in registry.all() if rt.group == group and rt.version == version), key=lambda r: r.plural
    )


def api_versions(server_address: str) -> dict[str, Any]:
    """``/api`` (legacy form)."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_entry(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: ResourceRegistry) -> dict[str, Any]:
    """``/apis`` (legacy form): every named group with its versions, preferred first."""
    groups = [_group_entry(g, vs) for g, vs in sorted(_group_versions(registry).items()) if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: ResourceRegistry, group: str) -> dict[str, Any] | None:
    """``/apis/{group}``, or None when the group is not served."""
    versions = _group_versions(registry).get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)}


def _storage_hash(rt: ResourceType) -> str:
    digest = hashlib.sha256(f"{rt.group}/{rt.storage_version}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def api_resource_list(registry: ResourceRegistry, group: str, version: str) -> dict[str, Any] | None:
    """``/api/v1`` or ``/apis/{g}/{v}``: the resources and their subresources, or None when not served."""
    types = _types_of(registry, group, version)
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rt in types:
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
            "storageVersionHash": _storage_hash(rt),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        for sub in served_subresources(rt):
            verbs, response = _SUBRESOURCES[sub]
            sub_entry: dict[str, Any] = {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": response[2] if response else rt.kind,
                "verbs": list(verbs),
            }
            if response:
                sub_entry["group"], sub_entry["version"] = response[0], response[1]
            resources.append(sub_entry)
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


# ------------------------------------------------------------------------------------------
# Aggregated discovery (apidiscovery.k8s.io/v2)


def wants_aggregated(accept: str) -> bool:
    """Whether the Accept header prefers an ``APIGroupDiscoveryList`` (v2) over the legacy documents."""
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        values = dict(p.partition("=")[::2] for p in params)
        if values.get("as") == "APIGroupDiscoveryList":
            if values.get("g") == "apidiscovery.k8s.io" and values.get("v") == "v2":
                return True
            continue
        if media in ("application/json", "*/*", "application/*"):
            return False
    return False


def _resource_discovery(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subs = []
    for sub in served_subresources(rt):
        verbs, response = _SUBRESOURCES[sub]
        group, version, kind = response or (rt.group, rt.version, rt.kind)
        subs.append(
            {
                "subresource": sub,
                "responseKind": {"group": group, "version": version, "kind": kind},
                "verbs": list(verbs),
            }
        )
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated_discovery(registry: ResourceRegistry, *, core: bool) -> dict[str, Any]:
    """The ``APIGroupDiscoveryList`` of ``/api`` (``core=True``) or ``/apis``, preferred versions first."""
    items = []
    for group, versions in sorted(_group_versions(registry).items()):
        if (group == "") != core:
            continue
        version_entries = [
            {
                "version": v,
                "resources": [_resource_discovery(rt) for rt in _types_of(registry, group, v)],
                "freshness": "Current",
            }
            for v in versions
        ]
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": version_entries})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


# ------------------------------------------------------------------------------------------
# OpenAPI


def openapi_v2() -> dict[str, Any]:
    """``/openapi/v2`` as JSON: an empty but valid Swagger document (schemas are published through v3)."""
    major, minor, patch = KUBE_VERSION
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": f"v{major}.{minor}.{patch}"},
        "paths": {},
        "definitions": {},
    }


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_v3_index(registry: ResourceRegistry) -> dict[str, Any]:
    """``/openapi/v3``: one entry per served group version, its URL carrying a hash of the document."""
    paths: dict[str, Any] = {}
    for group, versions in sorted(_group_versions(registry).items()):
        for version in versions:
            doc = openapi_v3_document(registry, group, version)
            digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
            path = _gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


_QUERY_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
_PATCH_BODIES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)


def _schema_name(rt: ResourceType) -> str:
    group = ".".join(reversed(rt.group.split("."))) if rt.group else "core"
    return f"{group}.{rt.version}.{rt.kind}"


def openapi_v3_document(registry: ResourceRegistry, group: str, version: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group version: item paths with their PATCH/PUT operations, and the
    structural schemas of custom resources (so ``kubectl explain`` can describe them)."""
    types = _types_of(registry, group, version)
    if not types:
        return None
    major, minor, patch = KUBE_VERSION
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    for rt in types:
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        scope = f"{prefix}/namespaces/{{namespace}}" if rt.namespaced else prefix
        ref = {"$ref": f"#/components/schemas/{_schema_name(rt)}"}
        params = [{"name": p, "in": "query", "schema": {"type": "string"}} for p in _QUERY_PARAMS]
        paths[f"{scope}/{rt.plural}/{{name}}"] = {
            "get": _operation("read", rt, gvk, ref, []),
            "put": _operation("replace", rt, gvk, ref, params, bodies=("application/json",)),
            "patch": _operation("patch", rt, gvk, ref, params, bodies=_PATCH_BODIES),
            "delete": _operation("delete", rt, gvk, ref, [p for p in params if p["name"] == "dryRun"]),
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        }
        paths[f"{scope}/{rt.plural}"] = {
            "post": _operation("create", rt, gvk, ref, params, bodies=("application/json",)),
        }
        schema: dict[str, Any] = dict(rt.schema) if rt.schema else {"type": "object"}
        schema["x-kubernetes-group-version-kind"] = [gvk]
        schemas[_schema_name(rt)] = schema
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": f"v{major}.{minor}.{patch}"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _operation(
    action: str,
    rt: ResourceType,
    gvk: dict[str, str],
    ref: dict[str, str],
    params: list[dict[str, Any]],
    *,
    bodies: tuple[str, ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{action}{rt.kind}",
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}},
        "x-kubernetes-action": {"read": "get", "replace": "put", "create": "post"}.get(action, action),
        "x-kubernetes-group-version-kind": gvk,
    }
    if bodies:
        op["requestBody"] = {"content": {b: {"schema": ref} for b in bodies}, "required": True}
    return op
