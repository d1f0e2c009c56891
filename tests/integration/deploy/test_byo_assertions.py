"""The kind suite's bring-your-own-node assertions, run here against kaito.sim with the operator under RBAC.

tests/e2e/kind runs `assert_byo_workspace_serves` on a kind node where Docker exists; this runs the same
function on a plain Ready node of kaito.sim, so the path is checked in every normal run too.
"""

from __future__ import annotations

from typing import Any

import pytest

from e2e.kind import byo_assertions

pytestmark = pytest.mark.integration


def _plain_node(name: str) -> dict[str, Any]:
    """A node as kind registers it: Ready, CPU and memory, no GPU and no GPU labels yet."""
    resources = {"cpu": "8", "memory": "32Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
        },
    }


async def test_byo_workspace_on_a_labelled_node_serves_through_its_service(rbac_operator: Any) -> None:
    node = _plain_node("kind-worker")
    await rbac_operator.admin.create(node)
    await rbac_operator.admin.patch(
        ("v1", "Node"), "kind-worker", {"status": node["status"]}, subresource="status"
    )
    await byo_assertions.assert_byo_workspace_serves(
        rbac_operator.admin, "kind-worker", image="kaito-py:0.1.0", within=30.0
    )
