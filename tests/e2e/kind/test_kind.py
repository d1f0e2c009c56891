"""kaito-py installed on a kind cluster from the image and manifests/default (see conftest.py): the
controller runs hardened with one leader, and a bring-your-own-node Workspace serves through its Service.

The Workspace check is `byo_assertions.assert_byo_workspace_serves`, which
tests/integration/deploy/test_byo_assertions.py also runs against kaito.sim in the normal suite.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from e2e.kind import byo_assertions
from kaito import ctrl

pytestmark = [pytest.mark.e2e_kind, pytest.mark.timeout(1800)]


def test_the_controller_runs_two_hardened_ready_replicas_and_one_leader(kind_cluster: Any) -> None:
    pods = json.loads(
        kind_cluster.kubectl(
            "-n", "kaito-system", "get", "pods", "-l", "app.kubernetes.io/name=kaito", "-o", "json"
        )
    )["items"]
    assert len(pods) == 2
    for pod in pods:
        assert pod["status"]["phase"] == "Running", pod["metadata"]["name"]
        assert pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    # both replicas are Ready once their caches are warm; exactly one holds the Lease (identity hostname-pid)
    ready = [p["metadata"]["name"] for p in pods if all(c["ready"] for c in p["status"]["containerStatuses"])]
    assert len(ready) == 2, ready
    lease = json.loads(
        kind_cluster.kubectl("-n", "kaito-system", "get", "lease", "kaito-operator", "-o", "json")
    )
    holders = [name for name in ready if lease["spec"]["holderIdentity"].startswith(f"{name}-")]
    assert len(holders) == 1, (lease["spec"]["holderIdentity"], ready)


async def test_a_byo_workspace_on_a_labelled_kind_node_serves(kind_cluster: Any) -> None:
    async with await ctrl.Client.from_kubeconfig(
        str(kind_cluster.kubeconfig), field_manager="kubectl"
    ) as client:
        await byo_assertions.assert_byo_workspace_serves(
            client, kind_cluster.node, image=kind_cluster.image, within=300.0
        )
