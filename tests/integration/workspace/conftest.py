"""Fixtures for the Workspace controller's integration tests: kaito.sim plus the whole operator, under RBAC.

`operator` starts, on the `cluster` fixture (API server, workload simulator, ARM endpoint), what a platform
team's install runs: as admin, the CRDs and manifests/rbac; then a manager running the Workspace and Machine
controllers as the manifests' ServiceAccount (kaito-system/kaito-controller, its token sent over TLS, with
kaito.sim enforcing RBAC), with the AKS provisioner pointed at the embedded ARM endpoint and the Karpenter
provisioner with the sim's fake Karpenter (the `provisioner` fixture picks the default). The shared steps
live in tests/integration/rbac_support.py. It yields a `Harness` with an admin client for the test's own
actions (field manager `kubectl`), the operator's client, and helpers to apply samples and await conditions.

`Harness.kill_operator()` ends the operator the way a killed pod ends (every reconcile and request in
flight cancelled where it stands, no graceful shutdown) and `Harness.start_operator()` starts a fresh one
(new client, caches and queues) against the same cluster, for the resilience tests.

Every test ends with the leak check of issue 7 (Workspaces still present are deleted through the operator, and
then not one Machine, agent pool, NodeClaim or provisioned Node may be left) and the RBAC check of issue 8:
no request of the operator was refused. A refusal fails the test with kube-apiserver's 403 message, at once
when a Harness wait sees it, else when the operator has stopped. A test that overrides `sim_options` must keep
`rbac_support.RBAC_SIM_OPTIONS` in it (the fixture refuses a cluster without them).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from integration import rbac_support as rbac
from kaito import ctrl
from kaito.controllers.machine import MACHINE, MachineControllerOptions
from kaito.controllers.operator import Operator, OperatorConfig, build_operator
from kaito.controllers.workspace import WORKSPACE, WorkspaceControllerOptions
from kaito.provisioners.aks import AksConfig, StaticTokenCredential
from kaito.sim.cloud.karpenter import KarpenterSimulator
from kaito.sim.cluster import Cluster

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "manifests" / "samples"
FAST_MACHINES = MachineControllerOptions(launch_timeout=60.0, poll_interval=0.1, retry_interval=0.1)


class StillFalse(AssertionError):
    """`eventually` ran out of time (a refusal under RBAC is a plain AssertionError, raised at once)."""


async def eventually(
    condition: Callable[[], Awaitable[Any]], within: float = 20.0, *, cluster: Cluster | None = None
) -> Any:
    """Await `condition()` every 50 ms until it returns something truthy (returned); fail after `within`.

    With `cluster`, fail as soon as the cluster has refused the operator a request, with kube's 403 message:
    the operator only retries a refusal, so waiting longer would just hide the reason.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if cluster is not None:
            rbac.assert_no_denials(cluster)
        result = await condition()
        if result:
            return result
        if loop.time() > deadline:
            raise StillFalse(f"condition still false after {within}s")
        await asyncio.sleep(0.05)


def condition_of(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    """The condition of `type_` in obj.status (empty when absent)."""
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return dict(condition)
    return {}


class Harness:
    """The running operator and an admin client for the test's own actions, with helpers."""

    condition_of = staticmethod(condition_of)

    def __init__(
        self,
        cluster: Cluster,
        user: ctrl.Client,
        build: Callable[[ctrl.Client], Operator],
    ) -> None:
        self.cluster = cluster
        self.user = user
        self.operator_client: ctrl.Client | None = None  # the running operator's, while it runs
        self.byo_nodes: set[str] = set()
        self._build = build
        self._clients: contextlib.AsyncExitStack | None = None
        self._running: tuple[Operator, asyncio.Task[None]] | None = None

    async def start_operator(self) -> None:
        """Start a fresh operator process (its own client, caches, queues) and wait for its caches."""
        assert self._running is None, "the operator is already running"
        stack = contextlib.AsyncExitStack()
        self.operator_client = await stack.enter_async_context(rbac.operator_client(self.cluster, self.user))
        built = self._build(self.operator_client)
        built.manager.graceful_shutdown_timeout = 2.0
        task = asyncio.create_task(built.run())
        self._clients, self._running = stack, (built, task)
        await self.eventually(lambda: _synced(built.manager, task), within=10.0)
        await rbac.serve_webhooks(built, self.user)

    async def kill_operator(self) -> None:
        """End the operator as a killed pod ends: what is in flight is cancelled where it stands."""
        await self._end_operator(graceful=False)

    async def stop_operator(self) -> None:
        """Stop the operator gracefully (reconciles in flight finish), as the fixture does at the end."""
        await self._end_operator(graceful=True)

    async def _end_operator(self, *, graceful: bool) -> None:
        if self._running is None:
            return
        (built, task), self._running = self._running, None
        if graceful:
            built.stop()
        else:
            built.manager.graceful_shutdown_timeout = 0.0  # the runnables are cancelled, not awaited
            task.cancel()
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            if self._clients is not None:
                await self._clients.aclose()
                self._clients, self.operator_client = None, None

    async def without_admission(self) -> None:
        """Unregister the admission webhook (as a cluster whose operator runs without --webhook-port), so a
        test can reach the controller's handling of changes the webhook refuses (KAITO's immutable fields)."""
        await self.user.delete(
            ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
            "validation.workspace.kaito.sh",
        )

    async def eventually(self, condition: Callable[[], Awaitable[Any]], within: float = 20.0) -> Any:
        """The module's `eventually`, stopping at the first request the operator was refused."""
        return await eventually(condition, within, cluster=self.cluster)

    async def apply_sample(self, name: str, **changes: Any) -> dict[str, Any]:
        """Apply manifests/samples/<name> (top-level keys in `changes` replace the sample's)."""
        obj = yaml.safe_load((SAMPLES / name).read_text())
        obj.update(changes)
        return await self.apply(obj)

    async def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj.setdefault("metadata", {}).setdefault("namespace", "default")
        applied: dict[str, Any] = await self.user.apply(obj, force=True)
        return applied

    async def workspace(self, name: str, namespace: str = "default") -> dict[str, Any]:
        found: dict[str, Any] = await self.user.get(WORKSPACE, name, namespace)
        return found

    async def wait_condition(
        self, name: str, type_: str, status: str = "True", within: float = 20.0
    ) -> dict[str, Any]:
        """Wait until the Workspace's condition `type_` has `status`; returns the Workspace."""

        async def check() -> dict[str, Any] | None:
            workspace = await self.workspace(name)
            return workspace if condition_of(workspace, type_).get("status") == status else None

        try:
            result: dict[str, Any] = await self.eventually(check, within)
        except StillFalse:
            workspace = await self.workspace(name)
            raise AssertionError(
                f"{name}: {type_} never became {status}; status: {workspace.get('status')}"
            ) from None
        return result

    async def machines(self, workspace: str | None = None) -> list[dict[str, Any]]:
        selector = f"kaito.sh/workspace={workspace}" if workspace else None
        return (await self.user.list(MACHINE, label_selector=selector)).items

    async def list(
        self, api_version: str, kind: str, namespace: str | None = "default"
    ) -> list[dict[str, Any]]:
        return (await self.user.list((api_version, kind), namespace)).items

    async def events(self, name: str) -> list[dict[str, Any]]:
        events = await self.list("v1", "Event")
        return [
            e
            for e in events
            if e["involvedObject"].get("name") == name and e["involvedObject"]["kind"] == "Workspace"
        ]

    async def wait_event(
        self, name: str, reason: str, type_: str | None = None, says: str = "", within: float = 20.0
    ) -> dict[str, Any]:
        """The first Event of Workspace `name` with `reason` (and `type_`, and `says` in its message).

        An Event is recorded after the status it tells of, so a test that has just seen a condition waits
        for its Event rather than reading the Events once.
        """

        async def found() -> dict[str, Any] | None:
            for event in await self.events(name):
                if (
                    event["reason"] == reason
                    and type_ in (None, event["type"])
                    and says.lower() in event["message"].lower()
                ):
                    return event
            return None

        event: dict[str, Any] = await self.eventually(found, within)
        return event

    async def delete_workspace(self, name: str, within: float = 20.0) -> None:
        """Delete a Workspace and wait until it is gone (its finalizer released)."""
        with contextlib.suppress(ctrl.NotFound):
            await self.user.delete(WORKSPACE, name, "default")

        async def gone() -> bool:
            try:
                await self.workspace(name)
            except ctrl.NotFound:
                return True
            return False

        await self.eventually(gone, within)

    async def add_gpu_node(self, name: str, labels: dict[str, str], gpus: int = 1) -> None:
        """A bring-your-own GPU node: GPU feature-discovery labels, nvidia.com/gpu capacity, Ready."""
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/hostname": name,
                    "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
                    "nvidia.com/gpu.count": str(gpus),
                    "nvidia.com/gpu.memory": "81920",
                    "nvidia.com/cuda.compute.major": "8",
                    "nvidia.com/cuda.compute.minor": "0",
                    **labels,
                },
            },
        }
        await self.user.create(node)
        self.byo_nodes.add(name)
        resources = {"cpu": "24", "memory": "220Gi", "pods": "110", "nvidia.com/gpu": str(gpus)}
        status = {
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
        }
        await self.user.patch(("v1", "Node"), name, {"status": status}, subresource="status")


@pytest.fixture
def sim_options() -> dict[str, Any]:
    """The whole cluster, enforcing RBAC over TLS (see the module docstring)."""
    return dict(rbac.RBAC_SIM_OPTIONS)


@pytest.fixture
def provisioner() -> str:
    """The operator's default provisioner for the `operator` fixture: aks (default) or karpenter."""
    return "aks"


@pytest.fixture
def workspace_options() -> WorkspaceControllerOptions:
    """The Workspace controller's options for the `operator` fixture; override to change them."""
    return WorkspaceControllerOptions()


@pytest_asyncio.fixture
async def operator(
    cluster: Cluster, workspace_options: WorkspaceControllerOptions, provisioner: str
) -> AsyncIterator[Harness]:
    """The operator as the manifests' ServiceAccount on `cluster` (see the module docstring)."""
    arm = cluster.arm
    rbac.require_enforcement(cluster)
    aks = AksConfig(
        subscription_id=arm.ids.subscription_id,
        resource_group=arm.ids.resource_group,
        cluster_name=arm.ids.cluster_name,
        base_url=arm.url,
        connection_verify=arm.ca_path,
        client_options={"polling_interval": 0.05, "retry_backoff_factor": 0.01},
    )

    def build(client: ctrl.Client) -> Operator:
        return build_operator(
            client,
            OperatorConfig(
                aks=aks,
                aks_credential=StaticTokenCredential(),
                provisioner=provisioner,  # type: ignore[arg-type]
                karpenter_node_class=("karpenter.azure.com", "AKSNodeClass", "default"),
                health_port=None,
                machine=FAST_MACHINES,
                workspace=workspace_options,
                webhook=rbac.WEBHOOK_OPTIONS,
            ),
        )

    async with await ctrl.Client.from_kubeconfig(str(cluster.kubeconfig), field_manager="kubectl") as user:
        karpenter = KarpenterSimulator(
            cluster.store, launch_s=0.2, register_s=0.1, ready_s=0.1, termination_s=0.1
        )
        karpenter.start()  # installs the NodeClaim CRD and plays Karpenter for the claims
        harness = Harness(cluster, user, build)
        try:
            await harness.start_operator()
            yield harness
            for workspace in (await user.list(WORKSPACE)).items:
                await harness.delete_workspace(workspace["metadata"]["name"])
            assert await harness.machines() == [], "Machines left behind"
            assert arm.pools() == {}, "agent pools left behind"
            assert cluster.store.list("karpenter.sh/v1", "NodeClaim")[0] == [], "NodeClaims left behind"
            nodes = {n["metadata"]["name"] for n in cluster.store.list("v1", "Node")[0]}
            assert nodes <= harness.byo_nodes, f"provisioned Nodes left behind: {nodes - harness.byo_nodes}"
        finally:
            karpenter.stop()
            await harness.stop_operator()
        rbac.assert_no_denials(cluster)


async def _synced(manager: ctrl.Manager, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()
    return manager.caches_synced
