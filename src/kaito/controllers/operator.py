"""The operator process: one Manager running the Workspace and Machine controllers, from an `OperatorConfig`.

`build_operator(client, config)` wires everything `kaito run` and `kaito up` start:

- the Manager (shared caches, leader election on the Lease `kaito-operator` when asked, /healthz, /readyz
  and /metrics on `health_port`, and /metrics alone on `metrics_port` when that differs);
- the Workspace controller (`workspace.add_workspace_controller`);
- the Machine controller with the provisioners: AKS (`AksConfig`; an explicit credential for the embedded
  endpoint of kaito.sim, else workload identity / DefaultAzureCredential) and, when a node class is given,
  Karpenter. `provisioner` names the default for Machines that name none;
- the orphan sweep (`orphans.add_orphan_sweeper`, on the leader only): pools and NodeClaims whose Machine
  is gone are deleted every `orphans.interval` seconds once `orphans.min_age` old;
- with `webhook` set, the admission and conversion webhook server on every replica
  (`webhook_server.WebhookServer`: its own certificate in a Secret, caBundles patched in).

`Operator.run()` runs until stopped and closes the provisioners' clients afterwards. The client should use
the field manager `kaito` (`FIELD_MANAGER`) so server-side applies are attributed to the operator.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from kaito import ctrl
from kaito.api import all_crds
from kaito.controllers.inferenceset import add_inferenceset_controller
from kaito.controllers.machine import NODE, MachineControllerOptions, add_machine_controller
from kaito.controllers.machine_status import trim_node
from kaito.controllers.multirole import add_multirole_controller
from kaito.controllers.orphans import OrphanSweeper, OrphanSweepOptions, add_orphan_sweeper
from kaito.controllers.webhook_server import WebhookOptions, WebhookServer
from kaito.controllers.workspace import (
    WorkspaceControllerOptions,
    WorkspaceReconciler,
    add_workspace_controller,
)
from kaito.ctrl.health import ProbeServer
from kaito.ctrl.informer import intern_strings
from kaito.provisioners.aks import AksConfig, AksProvisioner
from kaito.provisioners.base import Provisioner, ProvisionerRegistry
from kaito.provisioners.karpenter import KarpenterProvisioner
from kaito.provisioners.karpenter_claim import KarpenterConfig

__all__ = [
    "FIELD_MANAGER",
    "LEASE_NAME",
    "MetricsServer",
    "Operator",
    "OperatorConfig",
    "aks_config_from_environment",
    "build_operator",
    "install_crds",
]

FIELD_MANAGER: Final = "kaito"
LEASE_NAME: Final = "kaito-operator"


@dataclass(frozen=True)
class OperatorConfig:
    """How to run the operator (see the module docstring)."""

    provisioner: Literal["aks", "karpenter"] = "aks"
    aks: AksConfig | None = None
    aks_credential: Any = None  # an azure-core AsyncTokenCredential; None: from the environment
    karpenter_node_class: tuple[str, str, str] | None = None  # (group, kind, name) of the nodeClassRef
    leader_elect: bool = False
    leader_election_namespace: str = "kaito-system"
    health_host: str = "127.0.0.1"
    health_port: int | None = 8081
    metrics_port: int | None = None  # None: /metrics only on the health port
    workspace: WorkspaceControllerOptions = field(default_factory=WorkspaceControllerOptions)
    machine: MachineControllerOptions = field(default_factory=MachineControllerOptions)
    orphans: OrphanSweepOptions = field(default_factory=OrphanSweepOptions)
    webhook: WebhookOptions | None = None  # None: no webhook server (the cluster must not point at one)

    def __post_init__(self) -> None:
        if self.provisioner == "karpenter" and self.karpenter_node_class is None:
            raise ValueError(
                "provisioner is 'karpenter' but no node class is given; pass the nodeClassRef "
                "(group, kind, name), e.g. ('karpenter.azure.com', 'AKSNodeClass', 'default')"
            )
        if self.provisioner == "aks" and self.aks is None:
            raise ValueError(
                "provisioner is 'aks' but no AKS cluster is given; set AZURE_SUBSCRIPTION_ID, "
                "AZURE_RESOURCE_GROUP and AKS_CLUSTER_NAME (or give kaito run --subscription-id, "
                "--resource-group and --cluster-name)"
            )


def aks_config_from_environment(environ: dict[str, str] | None = None) -> AksConfig | None:
    """The AKS cluster from AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP and AKS_CLUSTER_NAME, if all set."""
    env = environ if environ is not None else dict(os.environ)
    keys = ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AKS_CLUSTER_NAME")
    if not all(env.get(key) for key in keys):
        return None
    return AksConfig(
        subscription_id=env["AZURE_SUBSCRIPTION_ID"],
        resource_group=env["AZURE_RESOURCE_GROUP"],
        cluster_name=env["AKS_CLUSTER_NAME"],
        base_url=env.get("AZURE_RESOURCE_MANAGER_URL") or None,
    )


class MetricsServer:
    """/metrics on a port of its own (every replica serves it, leader or not)."""

    need_leader_election = False

    def __init__(self, host: str, port: int, registry: Any) -> None:
        self.server = ProbeServer(host=host, port=port, registry=registry)

    async def run(self, stop: asyncio.Event) -> None:
        await self.server.start()
        try:
            await stop.wait()
        finally:
            await self.server.stop()


def _provisioners(
    client: ctrl.Client, config: OperatorConfig, cache: ctrl.CachedClient | None = None
) -> ProvisionerRegistry:
    provisioners: list[Provisioner] = []
    if config.aks is not None:
        if config.aks_credential is not None:
            provisioners.append(AksProvisioner(config.aks, config.aks_credential))
        else:
            provisioners.append(AksProvisioner.from_environment(config.aks))
    if config.karpenter_node_class is not None:
        group, kind, name = config.karpenter_node_class
        node_class = KarpenterConfig(node_class_group=group, node_class_kind=kind, node_class_name=name)
        provisioners.append(KarpenterProvisioner(client, node_class, cache=cache))
    return ProvisionerRegistry(provisioners, default=config.provisioner)


@dataclass
class Operator:
    """A built operator: its manager, the Workspace reconciler, the provisioners to close, the sweeper."""

    manager: ctrl.Manager
    workspace: WorkspaceReconciler
    provisioners: ProvisionerRegistry
    orphans: OrphanSweeper
    webhook: WebhookServer | None = None

    async def run(self) -> None:
        """Run until `manager.stop()`; closes the provisioners' clients afterwards."""
        try:
            await self.manager.run()
        finally:
            await self.provisioners.close()

    def stop(self) -> None:
        self.manager.stop()


def build_operator(
    client: ctrl.Client, config: OperatorConfig, *, clock: ctrl.Clock | None = None
) -> Operator:
    """The Manager with both controllers, ready to `run()`."""
    leader = None
    if config.leader_elect:
        leader = ctrl.LeaderElectionConfig(
            name=LEASE_NAME,
            namespace=config.leader_election_namespace,
            identity=f"{socket.gethostname()}-{os.getpid()}",
        )
    manager = ctrl.Manager(
        client,
        clock=clock,
        leader_election=leader,
        probe_host=config.health_host,
        probe_port=config.health_port,
    )
    if config.metrics_port is not None and config.metrics_port != config.health_port:
        manager.add(MetricsServer(config.health_host, config.metrics_port, manager.registry))
    provisioners = _provisioners(client, config, manager.cached_client)  # NodeClaims read from the cache
    add_machine_controller(manager, provisioners, config.machine)
    manager.informers.add_transform(NODE, trim_node)  # both controllers read Nodes; neither their images
    workspace_options = config.workspace
    if workspace_options.provisioner is None:
        workspace_options = replace(workspace_options, provisioner=config.provisioner)
    workspace = add_workspace_controller(manager, workspace_options, sku_lookup=provisioners.gpu_config)
    add_inferenceset_controller(manager)
    add_multirole_controller(manager)
    for informer in manager.informers.informers:  # values repeated across cached objects stored once each
        informer.add_transform(intern_strings)
    orphans = add_orphan_sweeper(manager, provisioners, config.orphans)
    webhook = None
    if config.webhook is not None:
        webhook = WebhookServer(client, config.webhook)
        if clock is not None:
            webhook.clock = clock
        manager.add(webhook)
    return Operator(manager, workspace, provisioners, orphans, webhook)


async def install_crds(client: ctrl.Client) -> list[str]:
    """Apply kaito's CustomResourceDefinitions (kaito.api's generator: Workspace, Machine, InferenceSet,
    MultiRoleInference);
    their names."""
    names = []
    for crd in all_crds():
        await client.apply(crd, force=True)
        names.append(str(crd["metadata"]["name"]))
    return names
