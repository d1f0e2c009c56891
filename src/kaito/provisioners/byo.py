"""Bring your own nodes: no Machines, only the Nodes a Workspace selects and the GPUs they report.

A Workspace without `resource.instanceType` runs on existing Nodes: those whose labels satisfy
`resource.labelSelector`. `resource.preferredNodes` (deprecated in KAITO, still honoured) orders them:
preferred Nodes come first, in the order listed, then the other matches by name; a preferred Node without
the required labels is ignored, as KAITO does. Each Node's GPU shape is read from its NVIDIA GPU
feature-discovery labels with `kaito.runtimes.gpu_config_from_node_labels` (the same code the runtimes use
for SKUs), so sizing sees a BYO node exactly as it sees a catalog instance type.

`select_nodes` is pure (a list of Node dicts in, `ByoNode`s out); `list_byo_nodes` is its I/O shell, asking
the API server to filter by the selector first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kaito import ctrl
from kaito.api.meta import LabelSelector
from kaito.api.workspace import Workspace
from kaito.runtimes.errors import NodeLabelError
from kaito.runtimes.skus import GpuConfig, gpu_config_from_node_labels

__all__ = ["ByoNode", "label_selector_string", "list_byo_nodes", "select_nodes"]

_NODE = ctrl.GVK("v1", "Node")


@dataclass(frozen=True)
class ByoNode:
    """An existing Node a Workspace may use: its GPU shape (None with `problem` when unreadable)."""

    name: str
    labels: Mapping[str, str]
    ready: bool
    schedulable: bool
    gpu: GpuConfig | None
    problem: str | None = None
    preferred: bool = False

    @property
    def usable(self) -> bool:
        """Ready, schedulable and with readable GPUs."""
        return self.ready and self.schedulable and self.gpu is not None


def label_selector_string(selector: LabelSelector) -> str:
    """The selector in the API server's `labelSelector` query syntax (`k=v,k in (a,b),!k`)."""
    parts = [f"{key}={value}" for key, value in sorted((selector.match_labels or {}).items())]
    for requirement in selector.match_expressions or []:
        values = ",".join(requirement.values or [])
        if requirement.operator == "In":
            parts.append(f"{requirement.key} in ({values})")
        elif requirement.operator == "NotIn":
            parts.append(f"{requirement.key} notin ({values})")
        elif requirement.operator == "Exists":
            parts.append(requirement.key)
        else:
            parts.append(f"!{requirement.key}")
    return ",".join(parts)


def _byo_node(node: Mapping[str, Any], preferred: bool) -> ByoNode:
    meta = node.get("metadata") or {}
    name = str(meta.get("name", ""))
    labels: dict[str, str] = dict(meta.get("labels") or {})
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    schedulable = not (node.get("spec") or {}).get("unschedulable", False)
    try:
        gpu: GpuConfig | None = gpu_config_from_node_labels(labels, name)
        problem = None
    except NodeLabelError as exc:
        gpu, problem = None, str(exc)
    return ByoNode(name, labels, ready, schedulable, gpu, problem, preferred)


def select_nodes(nodes: Iterable[Mapping[str, Any]], workspace: Workspace) -> list[ByoNode]:
    """The Nodes `workspace` selects, preferred ones first (see the module docstring)."""
    selector = workspace.resource.label_selector
    matching = {
        str((node.get("metadata") or {}).get("name", "")): node
        for node in nodes
        if selector.matches((node.get("metadata") or {}).get("labels") or {})
    }
    preferred = [name for name in dict.fromkeys(workspace.resource.preferred_nodes or []) if name in matching]
    rest = sorted(name for name in matching if name not in preferred)
    return [_byo_node(matching[name], True) for name in preferred] + [
        _byo_node(matching[name], False) for name in rest
    ]


async def list_byo_nodes(client: ctrl.Client, workspace: Workspace) -> list[ByoNode]:
    """List the cluster's Nodes matching `workspace`'s labelSelector and read their GPUs."""
    selector = label_selector_string(workspace.resource.label_selector)
    nodes: list[Mapping[str, Any]] = []
    token: str | None = None
    while True:
        page = await client.list(_NODE, label_selector=selector or None, limit=500, continue_token=token)
        nodes.extend(page.items)
        if not page.continue_token:
            break
        token = page.continue_token
    return select_nodes(nodes, workspace)
