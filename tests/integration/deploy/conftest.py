"""Fixtures for the deployment tests: kaito.sim enforcing RBAC, and the operator under the manifests' RBAC.

Every cluster here is ``Cluster(authorization=True, tls=True)``: a request with a ServiceAccount token is
held to the Roles bound to that account, while the admin kubeconfig (``cluster.kubeconfig``) keeps full
access. TLS because kubectl sends no bearer token to a plain-http server.

`rbac_operator` does what a platform team's install does, minus the Deployment: as admin it installs the CRDs
and applies manifests/rbac, and mints a token for the ServiceAccount kaito-system/kaito-controller (steps
shared with the Workspace suite, in tests/integration/rbac_support.py); then it runs the operator (Workspace
and Machine controllers, AKS provisioner on the embedded ARM endpoint, leader election on, as the Deployment
runs it) with a client that sends that token. At the end, after the leak check, it fails the test if any
request of the operator was refused, listing each one: a missing permission cannot pass unnoticed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from integration import rbac_support as rbac
from kaito import ctrl
from kaito.controllers.machine import MachineControllerOptions
from kaito.controllers.operator import OperatorConfig, build_operator
from kaito.provisioners.aks import AksConfig, StaticTokenCredential
from kaito.sim.cluster import Cluster

WORKSPACE = ("kaito.sh/v1beta1", "Workspace")
MACHINE = ("kaito.sh/v1beta1", "Machine")
FAST_MACHINES = MachineControllerOptions(launch_timeout=60.0, poll_interval=0.1, retry_interval=0.1)


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return dict(rbac.RBAC_SIM_OPTIONS)


async def eventually(condition: Callable[[], Awaitable[Any]], within: float = 20.0) -> Any:
    """Await `condition()` every 50 ms until it returns something truthy (returned); fail after `within`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await condition()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition still false after {within}s")
        await asyncio.sleep(0.05)


@dataclass
class RbacOperator:
    """The operator running as the manifests' ServiceAccount, and an admin client for the test."""

    cluster: Cluster
    admin: ctrl.Client
    operator_client: ctrl.Client

    eventually = staticmethod(eventually)

    async def wait_condition(self, name: str, type_: str, within: float = 20.0) -> dict[str, Any]:
        """Wait until the Workspace `default/name` has condition `type_` True; returns the Workspace."""

        async def check() -> dict[str, Any] | None:
            workspace: dict[str, Any] = await self.admin.get(WORKSPACE, name, "default")
            conditions = (workspace.get("status") or {}).get("conditions") or []
            done = any(c.get("type") == type_ and c.get("status") == "True" for c in conditions)
            return workspace if done else None

        try:
            found: dict[str, Any] = await eventually(check, within)
        except AssertionError:
            status = (await self.admin.get(WORKSPACE, name, "default")).get("status")
            refused = rbac.denials_report(self.cluster)
            raise AssertionError(
                f"{name}: {type_} never became True; status: {status}; refused: {refused}"
            ) from None
        return found


@pytest_asyncio.fixture
async def rbac_operator(cluster: Cluster) -> AsyncIterator[RbacOperator]:
    """The operator under RBAC on `cluster` (see the module docstring); leak- and denial-checked."""
    arm = cluster.arm
    assert arm is not None
    async with (
        await ctrl.Client.from_kubeconfig(str(cluster.kubeconfig), field_manager="kubectl") as admin,
        rbac.operator_client(cluster, admin) as client,
    ):
        aks = AksConfig(
            subscription_id=arm.ids.subscription_id,
            resource_group=arm.ids.resource_group,
            cluster_name=arm.ids.cluster_name,
            base_url=arm.url,
            connection_verify=arm.ca_path,
            client_options={"polling_interval": 0.05, "retry_backoff_factor": 0.01},
        )
        config = OperatorConfig(
            aks=aks,
            aks_credential=StaticTokenCredential(),
            health_port=None,
            leader_elect=True,
            leader_election_namespace=rbac.SERVICE_ACCOUNT[0],
            machine=FAST_MACHINES,
            webhook=rbac.WEBHOOK_OPTIONS,
        )
        built = build_operator(client, config)
        built.manager.graceful_shutdown_timeout = 2.0
        task = asyncio.create_task(built.run())
        await eventually(lambda: _synced(built.manager, task), within=15.0)
        await rbac.serve_webhooks(built, admin)
        try:
            yield RbacOperator(cluster, admin, client)
            for workspace in (await admin.list(WORKSPACE)).items:
                meta = workspace["metadata"]
                with contextlib.suppress(ctrl.NotFound):
                    await admin.delete(WORKSPACE, meta["name"], meta["namespace"])
            await eventually(lambda: _empty(admin, WORKSPACE), within=30.0)
            assert (await admin.list(MACHINE)).items == [], "Machines left behind"
            assert arm.pools() == {}, "agent pools left behind"
        finally:
            built.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        rbac.assert_no_denials(cluster)


async def _empty(client: ctrl.Client, kind: tuple[str, str]) -> bool:
    return not (await client.list(kind)).items


async def _synced(manager: ctrl.Manager, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()
    return manager.caches_synced
