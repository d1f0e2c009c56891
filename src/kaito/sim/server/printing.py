"""Server-side printing: turn objects into a ``meta.k8s.io/v1`` Table, as kube-apiserver does for kubectl.

kubectl asks for ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints whatever columns the
server returns, hiding those with ``priority > 0`` unless ``-o wide``. So the columns live here, on the
server:

- Every table starts with ``Name`` (format ``name``), then the ResourceType's ``printer_columns`` (a type
  whose columns include ``Name`` itself, like Event's, places it where kube does).
- A column with a plain ``jsonPath`` is evaluated like a CRD ``additionalPrinterColumn``: kube's JSONPath
  dialect (``.a.b``, ``['a.b']``, ``[0]``, ``[*]``, ``..x``, and filters such as ``[?(@.type=="Ready")]``),
  the first result only, rendered for the column type (``date`` becomes an age like ``5m``, as kubectl shows
  it).
- A column whose ``format`` is ``computed`` is one kube computes in Go (Pod READY ``1/1``, Node STATUS
  ``Ready,SchedulingDisabled``); :data:`_COMPUTED` holds those renderers, keyed by (group, kind, column
  name).
- A type without printer columns gets ``Age`` (what kube gives a CRD without additionalPrinterColumns).

Rows carry the object per ``includeObject``: ``Metadata`` (the default) a ``PartialObjectMetadata``,
``Object`` the whole object, ``None`` nothing. Time comes in as ``now`` so that tests pin the ages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from kaito.sim.server.jsonpath import JsonPathError, evaluate_jsonpath, jsonpath_text
from kaito.sim.server.resources import ResourceType

__all__ = [
    "TABLE_MEDIA_TYPE",
    "column_definitions",
    "human_duration",
    "include_object",
    "row_for",
    "table_for",
    "wants_table",
]

TABLE_MEDIA_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"
_NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically."
)
_AGE_COLUMN: dict[str, Any] = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


# ------------------------------------------------------------------------------------------
# Content negotiation


def wants_table(accept: str) -> bool:
    """Whether an Accept header asks for a meta.k8s.io v1 (or v1beta1) Table before anything else."""
    for part in accept.split(","):
        params = {}
        media, *rest = (p.strip() for p in part.split(";"))
        for param in rest:
            key, _, value = param.partition("=")
            params[key.strip()] = value.strip()
        if media in ("application/json", "*/*") and params.get("as") == "Table":
            return params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1")
        if media in ("application/json", "*/*", "application/*") and "as" not in params:
            return False
    return False


def include_object(value: str | None) -> str:
    """Validate the ``includeObject`` query parameter; the default is ``Metadata``."""
    if value in (None, ""):
        return "Metadata"
    if value not in ("None", "Metadata", "Object"):
        raise ValueError(f'includeObject "{value}" is not supported; use one of None, Metadata or Object')
    return value


# ------------------------------------------------------------------------------------------
# Ages


def human_duration(seconds: float) -> str:
    """kube's ``duration.HumanDuration``: ``45s``, ``5m3s``, ``3h10m``, ``4d2h``, ``2y``..."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m" if rem == 0 else f"{minutes}m{rem}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h" if rem == 0 else f"{hours}h{rem}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d" if rem == 0 else f"{hours // 24}d{rem}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rem = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if rem == 0 else f"{hours // 24 // 365}y{rem}d"
    return f"{hours // 24 // 365}y"


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _age(value: Any, now: datetime) -> str:
    when = _parse_time(value)
    if when is None:
        return "<unknown>" if value in (None, "") else "<invalid>"
    return human_duration((now - when).total_seconds())


# ------------------------------------------------------------------------------------------
# Columns kube computes in Go


def _get(obj: Any, *path: str | int) -> Any:
    for key in path:
        if isinstance(key, int):
            obj = obj[key] if isinstance(obj, list) and len(obj) > key else None
        else:
            obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _none(value: str) -> str:
    return value if value else "<none>"


def _pod_ready(obj: dict[str, Any], now: datetime) -> Any:
    total = len(_get(obj, "spec", "containers") or [])
    ready = sum(1 for cs in _get(obj, "status", "containerStatuses") or [] if cs.get("ready"))
    return f"{ready}/{total}"


def _pod_status(obj: dict[str, Any], now: datetime) -> Any:
    status = obj.get("status") or {}
    reason = status.get("reason") or status.get("phase") or ""
    initializing = False
    init_specs = _get(obj, "spec", "initContainers") or []
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        term, waiting = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            reason = "Init:" + (term.get("reason") or f"ExitCode:{term.get('exitCode')}")
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                reason = (
                    f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode')}"
                )
            elif state.get("running") and cs.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
            )
            reason = "Running" if ready else "NotReady"
    if _get(obj, "metadata", "deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def _pod_restarts(obj: dict[str, Any], now: datetime) -> Any:
    restarts, last = 0, None
    for cs in _get(obj, "status", "containerStatuses") or []:
        restarts += int(cs.get("restartCount") or 0)
        finished = _parse_time(_get(cs, "lastState", "terminated", "finishedAt"))
        if finished and (last is None or finished > last):
            last = finished
    if restarts and last is not None:
        return f"{restarts} ({human_duration((now - last).total_seconds())} ago)"
    return restarts


def _pod_gates(obj: dict[str, Any], now: datetime) -> Any:
    gates = _get(obj, "spec", "readinessGates") or []
    if not gates:
        return "<none>"
    true = {c.get("type") for c in _get(obj, "status", "conditions") or [] if c.get("status") == "True"}
    return f"{sum(1 for g in gates if g.get('conditionType') in true)}/{len(gates)}"


def _node_status(obj: dict[str, Any], now: datetime) -> Any:
    ready = "Unknown"
    for c in _get(obj, "status", "conditions") or []:
        if c.get("type") == "Ready":
            ready = "Ready" if c.get("status") == "True" else "NotReady"
    parts = [ready]
    if _get(obj, "spec", "unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def _node_roles(obj: dict[str, Any], now: datetime) -> Any:
    roles = set()
    for key, value in (_get(obj, "metadata", "labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key != "node-role.kubernetes.io/":
            roles.add(key.removeprefix("node-role.kubernetes.io/"))
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


def _node_address(kind: str) -> Callable[[dict[str, Any], datetime], Any]:
    def render(obj: dict[str, Any], now: datetime) -> Any:
        for addr in _get(obj, "status", "addresses") or []:
            if addr.get("type") == kind:
                return addr.get("address") or "<none>"
        return "<none>"

    return render


def _service_external(obj: dict[str, Any], now: datetime) -> Any:
    spec = obj.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    external = list(spec.get("externalIPs") or [])
    if kind == "LoadBalancer":
        ingress = [
            i.get("ip") or i.get("hostname") for i in _get(obj, "status", "loadBalancer", "ingress") or []
        ]
        external += [i for i in ingress if i]
        return ",".join(external) or "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName") or "<none>"
    return ",".join(external) or "<none>"


def _service_ports(obj: dict[str, Any], now: datetime) -> Any:
    parts = []
    for port in _get(obj, "spec", "ports") or []:
        proto = port.get("protocol") or "TCP"
        node_port = port.get("nodePort")
        mid = f":{node_port}" if node_port else ""
        parts.append(f"{port.get('port')}{mid}/{proto}")
    return ",".join(parts) or "<none>"


def _selector_map(value: Any) -> str:
    if not isinstance(value, dict):
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(value.items())) or "<none>"


def _label_selector(value: Any) -> str:
    if not isinstance(value, dict):
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((value.get("matchLabels") or {}).items())]
    for expr in value.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) or "<none>"


def _endpoints(obj: dict[str, Any], now: datetime) -> Any:
    pairs = []
    for subset in obj.get("subsets") or []:
        ports = [p.get("port") for p in subset.get("ports") or []] or [None]
        for addr in subset.get("addresses") or []:
            for port in ports:
                pairs.append(f"{addr.get('ip')}:{port}" if port is not None else str(addr.get("ip")))
    if not pairs:
        return "<none>"
    shown = ",".join(pairs[:3])
    return shown + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")


def _count(*fields: str) -> Callable[[dict[str, Any], datetime], Any]:
    def render(obj: dict[str, Any], now: datetime) -> Any:
        return sum(len(obj.get(f) or ()) for f in fields)

    return render


def _event_object(obj: dict[str, Any], now: datetime) -> Any:
    involved = obj.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _replicas_ready(obj: dict[str, Any], now: datetime) -> Any:
    desired = _get(obj, "spec", "replicas")
    return f"{_get(obj, 'status', 'readyReplicas') or 0}/{1 if desired is None else desired}"


def _job_status(obj: dict[str, Any], now: datetime) -> Any:
    conditions = {c.get("type"): c.get("status") for c in _get(obj, "status", "conditions") or []}
    for kind, label in (("Complete", "Complete"), ("Failed", "Failed"), ("Suspended", "Suspended")):
        if conditions.get(kind) == "True":
            return label
    if conditions.get("FailureTarget") == "True":
        return "FailureTarget"
    if _get(obj, "metadata", "deletionTimestamp"):
        return "Terminating"
    return "Running"


def _job_completions(obj: dict[str, Any], now: datetime) -> Any:
    succeeded = _get(obj, "status", "succeeded") or 0
    completions = _get(obj, "spec", "completions")
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = _get(obj, "spec", "parallelism")
    if parallelism is not None and parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def _job_duration(obj: dict[str, Any], now: datetime) -> Any:
    start = _parse_time(_get(obj, "status", "startTime"))
    if start is None:
        return ""
    end = _parse_time(_get(obj, "status", "completionTime")) or now
    return human_duration((end - start).total_seconds())


def _role_ref(obj: dict[str, Any], now: datetime) -> Any:
    ref = obj.get("roleRef") or {}
    return f"{ref.get('kind', '')}/{ref.get('name', '')}"


def _subjects(kind: str) -> Callable[[dict[str, Any], datetime], Any]:
    def render(obj: dict[str, Any], now: datetime) -> Any:
        names = []
        for s in obj.get("subjects") or []:
            if s.get("kind") == kind:
                ns = s.get("namespace")
                names.append(
                    f"{ns}/{s.get('name')}" if kind == "ServiceAccount" and ns else str(s.get("name"))
                )
        return ",".join(names)

    return render


def _access_modes(*path: str) -> _Renderer:
    short = {
        "ReadWriteOnce": "RWO",
        "ReadOnlyMany": "ROX",
        "ReadWriteMany": "RWX",
        "ReadWriteOncePod": "RWOP",
    }

    def render(obj: dict[str, Any], now: datetime) -> Any:
        return ",".join(short.get(str(m), str(m)) for m in _get(obj, *path) or [])

    return render


def _claim(obj: dict[str, Any], now: datetime) -> Any:
    ref = _get(obj, "spec", "claimRef") or {}
    return f"{ref.get('namespace')}/{ref.get('name')}" if ref.get("name") else ""


def _ingress_ports(obj: dict[str, Any], now: datetime) -> Any:
    return "80, 443" if _get(obj, "spec", "tls") else "80"


_Renderer = Callable[[dict[str, Any], datetime], Any]
_COMPUTED: dict[tuple[str, str, str], _Renderer] = {
    ("", "PersistentVolumeClaim", "Access Modes"): _access_modes("status", "accessModes"),
    ("", "PersistentVolume", "Access Modes"): _access_modes("spec", "accessModes"),
    ("", "PersistentVolume", "Claim"): _claim,
    ("networking.k8s.io", "NetworkPolicy", "Pod-Selector"): lambda obj, now: (
        _label_selector(_get(obj, "spec", "podSelector")) or "<none>"
    ),
    ("networking.k8s.io", "Ingress", "Ports"): _ingress_ports,
    ("", "Pod", "Ready"): _pod_ready,
    ("", "Pod", "Status"): _pod_status,
    ("", "Pod", "Restarts"): _pod_restarts,
    ("", "Pod", "Readiness Gates"): _pod_gates,
    ("", "Node", "Status"): _node_status,
    ("", "Node", "Roles"): _node_roles,
    ("", "Node", "Internal-IP"): _node_address("InternalIP"),
    ("", "Node", "External-IP"): _node_address("ExternalIP"),
    ("", "Service", "External-IP"): _service_external,
    ("", "Service", "Port(s)"): _service_ports,
    ("", "Service", "Selector"): lambda obj, now: _selector_map(_get(obj, "spec", "selector")),
    ("", "Endpoints", "Endpoints"): _endpoints,
    ("", "ConfigMap", "Data"): _count("data", "binaryData"),
    ("", "Secret", "Data"): _count("data"),
    ("", "ServiceAccount", "Secrets"): _count("secrets"),
    ("", "Event", "Object"): _event_object,
    ("apps", "Deployment", "Ready"): _replicas_ready,
    ("apps", "StatefulSet", "Ready"): _replicas_ready,
    ("apps", "Deployment", "Selector"): lambda obj, now: _label_selector(_get(obj, "spec", "selector")),
    ("apps", "ReplicaSet", "Selector"): lambda obj, now: _label_selector(_get(obj, "spec", "selector")),
    ("batch", "Job", "Status"): _job_status,
    ("batch", "Job", "Completions"): _job_completions,
    ("batch", "Job", "Duration"): _job_duration,
    ("batch", "Job", "Selector"): lambda obj, now: _label_selector(_get(obj, "spec", "selector")),
    ("rbac.authorization.k8s.io", "RoleBinding", "Role"): _role_ref,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", "Role"): _role_ref,
    ("rbac.authorization.k8s.io", "RoleBinding", "Users"): _subjects("User"),
    ("rbac.authorization.k8s.io", "RoleBinding", "Groups"): _subjects("Group"),
    ("rbac.authorization.k8s.io", "RoleBinding", "ServiceAccounts"): _subjects("ServiceAccount"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", "Users"): _subjects("User"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", "Groups"): _subjects("Group"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", "ServiceAccounts"): _subjects("ServiceAccount"),
}

# Built-in columns printed as "<none>" when empty (kube's Go printers do; CRD columns stay blank).
_NONE_WHEN_EMPTY = frozenset(
    {("", "Pod", "IP"), ("", "Pod", "Node"), ("", "Pod", "Nominated Node"), ("", "Service", "Cluster-IP")}
)


# ------------------------------------------------------------------------------------------
# Tables


def _columns(rt: ResourceType) -> list[dict[str, Any]]:
    return list(rt.printer_columns) or [_AGE_COLUMN]


def _names_itself(rt: ResourceType) -> bool:
    """Whether the type's columns place Name themselves (kube's Event printer shows it last, with -o wide)."""
    return any(
        col["name"] == "Name" and col.get("jsonPath") == ".metadata.name" for col in rt.printer_columns
    )


def column_definitions(rt: ResourceType) -> list[dict[str, Any]]:
    """The Table's ``columnDefinitions``: Name (unless the type places it), then the printer columns."""
    defs = []
    if not _names_itself(rt):
        defs.append(
            {
                "name": "Name",
                "type": "string",
                "format": "name",
                "description": _NAME_DESCRIPTION,
                "priority": 0,
            }
        )
    for col in _columns(rt):
        fmt = col.get("format", "")
        if col["name"] == "Name" and col.get("jsonPath") == ".metadata.name":
            fmt = "name"
        defs.append(
            {
                "name": col["name"],
                "type": col.get("type", "string"),
                "format": "" if fmt == "computed" else fmt,
                "description": col.get("description", ""),
                "priority": int(col.get("priority", 0)),
            }
        )
    return defs


def _cell(rt: ResourceType, col: dict[str, Any], obj: dict[str, Any], now: datetime) -> Any:
    name = col["name"]
    if col.get("format") == "computed":
        renderer = _COMPUTED.get((rt.group, rt.kind, name))
        if renderer is not None:
            return renderer(obj, now)
    try:
        results = evaluate_jsonpath(obj, col.get("jsonPath", ""))
    except JsonPathError:
        return None
    kind = col.get("type", "string")
    builtin = not rt.custom
    if builtin and kind == "string" and len(results) > 1:
        # kube's Go printers join lists (containers, images)
        return ",".join(jsonpath_text(v) for v in results)
    if not results:
        if builtin and kind == "integer":
            return 0  # a Go int32 field (Deployment UP-TO-DATE, AVAILABLE) reads 0 when unset
        return "<none>" if (rt.group, rt.kind, name) in _NONE_WHEN_EMPTY else None
    value = results[0]
    if (rt.group, rt.kind, name) in _NONE_WHEN_EMPTY and value in ("", None):
        return "<none>"
    return _typed(kind, value, now)


def _typed(kind: str, value: Any, now: datetime) -> Any:
    """kube's ``cellForJSONValue``: the value as the column type, or None when it is not of that type."""
    if value is None:
        return None
    if kind == "string":
        return jsonpath_text(value)
    if kind == "date":
        return _age(value, now) if isinstance(value, str) else None
    if kind == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return int(value)
        return None
    if kind == "number":
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    return jsonpath_text(value)


def row_for(
    rt: ResourceType, obj: dict[str, Any], now: datetime, include: str = "Metadata"
) -> dict[str, Any]:
    """One Table row: the cells, and the object as ``include`` asks."""
    cells: list[Any] = [] if _names_itself(rt) else [_get(obj, "metadata", "name") or ""]
    cells.extend(_cell(rt, col, obj, now) for col in _columns(rt))
    row: dict[str, Any] = {"cells": cells}
    if include == "Object":
        row["object"] = obj
    elif include == "Metadata":
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {},
        }
    return row


def table_for(
    rt: ResourceType,
    objects: Iterable[dict[str, Any]],
    *,
    now: datetime,
    include: str = "Metadata",
    list_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objects``; ``list_meta`` (resourceVersion, continue) is its meta."""
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_meta or {}),
        "columnDefinitions": column_definitions(rt),
        "rows": [row_for(rt, obj, now, include) for obj in objects],
    }
