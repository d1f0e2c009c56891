"""The Workspace reconciler: nodes, then the vLLM workload (or the tuning Job), then a truthful status.

One reconcile, level-triggered and idempotent (it never assumes the previous one finished; every decision
is a pure function of the caches, in the sibling modules). The Workspace arrives parsed (a typed primary,
`for_(Workspace)`); everything else is read through the manager's cached client, so reads of the watched
kinds send no request:

1. Being deleted: delete the Workspace's Machines, wait until the Machine controller reports them gone
   (their cloud resources with them), then drop the `kaito.sh/workspace-cleanup` finalizer. The workload
   objects carry the Workspace as owner, so the garbage collector removes them.
2. Add the finalizer; `kaito.api.validate` (invalid: WorkspaceSucceeded=False naming the field; nothing is
   created).
3. `workspace_plan.resolve_plan`: preset (a Hugging Face model id outside the catalog is first read from
   the hub by `model_hub`, with the token of the Workspace's model-access Secret), GPU shape (the SKU
   catalog, or bring-your-own nodes' GPU labels),
   sizing (`status.targetNodeCount`); a refusal becomes a condition with the sizing sentence.
4. Nodes: with an instanceType, `workspace_machines.plan_machines` creates the missing Machines
   (deterministic names, so a stale cache cannot duplicate them); otherwise the selected existing nodes.
   A Machine failed for good (quota, capacity) puts the cloud's message on ResourceReady, with a Warning.
5. Once enough nodes are Ready: render the workload (`workspace_workload`, or `tuning` for a Job), apply
   what changed (server-side apply, field manager of the client, ownerReferences to the Workspace), read
   its readiness from the cache; stale Machines and objects are removed only once the new workload is
   ready (new before old).
6. `workspace_status.desired_status` computes the whole status; it is written once, only when it changed,
   and `status_events` tells what in the change is news (failures, recoveries, a Job's milestones).

Writes, per Workspace that comes up without trouble: the finalizer, each Machine (created with its own
finalizer), the workload objects (one apply each, none re-sent unchanged; the namespace's default inference
ConfigMap once per namespace), three statuses (pending, nodes ready, ready) and one `Planned` Event. The
cache lags our own writes by a watch event: a reconcile woken in between reads our last written copy
(`own_writes`), and an apply the cache has not seen is confirmed by a read, so nothing is written twice.

Watches: Workspaces (generation or deletion changed), Machines (mapped by their workspace labels), owned
Deployments, StatefulSets, Jobs and Services, ConfigMaps (owned, or named by `inference.config`), and Nodes
(mapped to the Workspaces that use or select them). Wire it with `add_workspace_controller(manager)`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError

from kaito import ctrl
from kaito.api import (
    API_VERSION,
    CONDITION_INFERENCE_READY,
    CONDITION_RESOURCE_READY,
    CONDITION_WORKSPACE_SUCCEEDED,
    FINALIZER_WORKSPACE_CLEANUP,
    KIND_WORKSPACE,
    LABEL_WORKSPACE,
    LABEL_WORKSPACE_NAMESPACE,
    InvalidObjectError,
    LabelSelector,
    Machine,
    ProvisionerName,
    Workspace,
    WorkspaceStatus,
    field_errors_from_pydantic,
    find_condition,
    format_time,
    validate,
)
from kaito.controllers.machine import MACHINE, NODE
from kaito.controllers.model_hub import ModelHub, ModelHubError
from kaito.controllers.own_writes import OwnWrites
from kaito.controllers.tuning import (
    TrainingConfigRef,
    job_name,
    job_outcome,
    pod_failure_details,
    render_tuning_job,
    training_configmap,
    training_configmap_name,
)
from kaito.controllers.tuning_config import (
    CONFIG_FILE,
    DEFAULT_TRAINING_CONFIGS,
    TEMPLATE_CONFIGMAPS,
    TrainingConfigError,
    parse_training_config,
    training_output_dir,
)
from kaito.controllers.workspace_machines import (
    MachineInputs,
    MachinePlan,
    launched_count,
    machine_name,
    plan_machines,
)
from kaito.controllers.workspace_metrics import WorkspaceMetrics, WorkspaceStates, workspace_metrics
from kaito.controllers.workspace_plan import (
    CONFIG_KEY,
    PlanProblem,
    WorkspacePlan,
    known_presets,
    node_is_ready,
    resolve_plan,
    select_byo_nodes,
    tunable_presets,
)
from kaito.controllers.workspace_status import (
    REASON_INVALID,
    Failure,
    Observed,
    desired_status,
    status_events,
)
from kaito.controllers.workspace_workload import (
    APPLIED_HASH,
    DEFAULT_CONFIG_NAME,
    WorkloadProblem,
    default_config,
    inference_objects,
    metadata_only,
    owned,
    trim_workload,
    workload_readiness,
)
from kaito.ctrl.informer import HandlerFuncs
from kaito.provisioners.base import ProvisionerError
from kaito.runtimes import (
    HF_TOKEN_KEY,
    GpuConfig,
    Preset,
    UnknownPresetError,
    UnknownSkuError,
    get_gpu_config,
    get_preset,
    is_hugging_face_id,
    is_unlisted_n_series,
)

__all__ = [
    "CONFIGMAP",
    "DEPLOYMENT",
    "JOB",
    "SERVICE",
    "STATEFULSET",
    "WORKSPACE",
    "WORKSPACE_COMPONENT",
    "WorkspaceControllerOptions",
    "WorkspaceReconciler",
    "add_workspace_controller",
    "workspaces_for_configmap",
    "workspaces_for_machine",
    "workspaces_for_node",
]

log = logging.getLogger("kaito.controllers.workspace")

WORKSPACE: Final = ctrl.GVK(API_VERSION, KIND_WORKSPACE)
CONFIGMAP: Final = ctrl.GVK("v1", "ConfigMap")
SECRET: Final = ctrl.GVK("v1", "Secret")
SERVICE: Final = ctrl.GVK("v1", "Service")
POD: Final = ctrl.GVK("v1", "Pod")
DEPLOYMENT: Final = ctrl.GVK("apps/v1", "Deployment")
STATEFULSET: Final = ctrl.GVK("apps/v1", "StatefulSet")
JOB: Final = ctrl.GVK("batch/v1", "Job")
WORKSPACE_COMPONENT: Final = "kaito-workspace-controller"
SkuLookup = Callable[[str], Awaitable[GpuConfig | None]]
"""Resolves an instance type the SKU catalog lacks (the provisioners' `gpu_config`)."""
_OWNED_KINDS: Final = (CONFIGMAP, SERVICE, DEPLOYMENT, STATEFULSET, JOB)


@dataclass(frozen=True)
class WorkspaceControllerOptions:
    """Timings (seconds) and concurrency of the Workspace controller."""

    recheck_interval: float = 30.0  # look again at a Workspace still on its way, even without an event
    deletion_poll: float = 5.0  # look again at Machines being deleted
    machine_retry_interval: float | None = 15 * 60.0  # replace a failed Machine this long after it failed
    max_concurrent_reconciles: int = 4
    # the provisioner new Machines are pinned to, so a later change of the operator's default never strands
    # a node with a provisioner that did not make it (None: leave it to the Machine controller's default)
    provisioner: ProvisionerName | None = None
    # where Hugging Face model ids are read from (None: HF_ENDPOINT, else https://huggingface.co)
    model_hub_url: str | None = None
    # where the operator's default training configs live (lora-params-template, qlora-params-template);
    # when absent there, the built-in defaults of kaito.controllers.tuning_config are used
    template_namespace: str = "kaito-system"

    def __post_init__(self) -> None:
        for label in ("recheck_interval", "deletion_poll", "machine_retry_interval"):
            if getattr(self, label) is not None and getattr(self, label) <= 0:
                raise ValueError(
                    f"WorkspaceControllerOptions.{label} is {getattr(self, label)}; give seconds > 0"
                )
        if self.max_concurrent_reconciles < 1:
            raise ValueError(
                f"WorkspaceControllerOptions.max_concurrent_reconciles is {self.max_concurrent_reconciles}; "
                "give 1 or more"
            )


def workspaces_for_machine(machine: Mapping[str, Any]) -> list[ctrl.Request]:
    """The Workspace a Machine (or a Node it made) belongs to, from the workspace labels."""
    labels = (machine.get("metadata") or {}).get("labels") or {}
    name, namespace = labels.get(LABEL_WORKSPACE), labels.get(LABEL_WORKSPACE_NAMESPACE)
    return [ctrl.Request(namespace, name)] if name and namespace else []


def workspaces_for_configmap(workspaces: ctrl.Store) -> ctrl.MapFunc:
    """Map a ConfigMap to its controller owner and to the Workspaces naming it in `inference.config` or
    `tuning.config`."""
    owner = ctrl.EnqueueRequestForOwner(WORKSPACE)

    def map_fn(configmap: Any) -> list[ctrl.Request]:
        meta = configmap.get("metadata") or {}
        namespace, name = meta.get("namespace") or "", meta.get("name")
        found = list(owner.create(configmap))
        for ws in workspaces.list(namespace):
            if name in ((ws.get("inference") or {}).get("config"), (ws.get("tuning") or {}).get("config")):
                found.append(ctrl.request_for(ws))
        return found

    return map_fn


_BY_NODE = "kaito.sh/node"  # index of the Workspaces store: the Node names a Workspace names
_SELECTS_NODES = "*"  # its value for a Workspace without instanceType, which may select any Node


def _nodes_named(ws: Any) -> list[str]:
    resource = ws.get("resource") or {}
    status = ws.get("status") or {}
    names = [*(status.get("workerNodes") or []), *(resource.get("preferredNodes") or [])]
    if not resource.get("instanceType"):
        names.append(_SELECTS_NODES)
    return names


def workspaces_for_node(workspaces: ctrl.Store) -> ctrl.MapFunc:
    """Map a Node to the Workspaces it was made for, that run on it, or that may select it (BYO).

    The Workspaces come from an index of the store (Node name → Workspaces naming it, plus those that
    select Nodes by label), so a Node event costs what the Workspaces concerned cost, not one look at each.
    """
    workspaces.add_indexer(_BY_NODE, _nodes_named)

    def map_fn(node: Any) -> list[ctrl.Request]:
        meta = node.get("metadata") or {}
        name, labels = meta.get("name"), meta.get("labels") or {}
        found = workspaces_for_machine(node)
        candidates = [
            *workspaces.by_index(_BY_NODE, str(name)),
            *workspaces.by_index(_BY_NODE, _SELECTS_NODES),
        ]
        for ws in candidates:
            resource = ws.get("resource") or {}
            status = ws.get("status") or {}
            if name in (status.get("workerNodes") or []) or name in (resource.get("preferredNodes") or []):
                found.append(ctrl.request_for(ws))
                continue
            if resource.get("instanceType"):
                continue
            with contextlib.suppress(ValidationError):
                selector = LabelSelector.model_validate(ctrl.thaw(resource.get("labelSelector") or {}))
                if not selector.is_empty and selector.matches(labels):
                    found.append(ctrl.request_for(ws))
        return list(dict.fromkeys(found))

    return map_fn


def _node_changed(old: Any, new: Any) -> bool:
    def summary(node: Any) -> tuple[Any, ...]:
        meta = node.get("metadata") or {}
        return (meta.get("labels"), node_is_ready(node), meta.get("deletionTimestamp"))

    return summary(old) != summary(new)


def _deletion_changed(old: Any, new: Any) -> bool:
    def meta(obj: Any) -> Mapping[str, Any]:
        return obj.get("metadata") or {}

    return bool(
        meta(old).get("deletionTimestamp") != meta(new).get("deletionTimestamp")
        or meta(old).get("finalizers") != meta(new).get("finalizers")
    )


class WorkspaceReconciler:
    """See the module docstring."""

    def __init__(
        self,
        client: ctrl.CachedClient,
        recorder: ctrl.EventRecorder,
        *,
        clock: ctrl.Clock,
        metrics: WorkspaceMetrics,
        options: WorkspaceControllerOptions | None = None,
        sku_lookup: SkuLookup | None = None,
    ) -> None:
        self.client = client
        self.sku_lookup = sku_lookup
        self.recorder = recorder
        self.clock = clock
        self.metrics = metrics
        self.options = options or WorkspaceControllerOptions()
        self.states = WorkspaceStates(metrics)  # namespace/name -> status.state, and the gauge
        self.known_presets = known_presets()
        self.tunable_presets = tunable_presets()
        self.model_hub = ModelHub(self.options.model_hub_url)
        # our last finalizer/status write of each Workspace, while the cache lags it (see own_writes)
        self.own_writes: OwnWrites[Workspace] = OwnWrites()
        # Workspace key -> {"Kind/namespace/name": the applied-hash we last applied}: when the cache has not
        # caught up with one of our applies, the server is asked (a read) instead of applying again; an entry
        # goes once the cache shows that hash
        self.applied: dict[str, dict[str, str]] = {}
        self.default_configs_made: set[str] = set()  # namespaces whose default inference config we created

    # ---- entry ----------------------------------------------------------------------------------------

    async def reconcile(self, request: ctrl.Request, workspace: Workspace | None) -> ctrl.Result:
        if workspace is None:
            self.states.drop(str(request))
            self.own_writes.forget(str(request))
            self.applied.pop(str(request), None)
            return ctrl.Result()
        workspace = self.own_writes.view(str(request), workspace, workspace.metadata.resource_version)
        self.states.set(str(request), workspace.status.state if workspace.status else None)
        if workspace.metadata.deletion_timestamp is not None:
            return await self._finalize(workspace)
        if FINALIZER_WORKSPACE_CLEANUP not in (workspace.metadata.finalizers or []):
            try:
                workspace = await self._set_finalizers(
                    workspace, [*(workspace.metadata.finalizers or []), FINALIZER_WORKSPACE_CLEANUP]
                )
            except (ctrl.Conflict, ctrl.Invalid) as exc:
                # the patch tests the resourceVersion we read; a cache behind the server (our own
                # status write, the user's edit) fails it harmlessly: read again, no error, no backoff
                log.debug("workspace %s: finalizer not added yet (%s); reading again", request, exc)
                return ctrl.Result(requeue=True)
        return await self._reconcile(workspace)

    async def _reconcile(self, workspace: Workspace) -> ctrl.Result:
        generation = workspace.metadata.generation
        tuning = workspace.tuning is not None
        errors = validate(workspace, known_presets=self.known_presets, tunable_presets=self.tunable_presets)
        if errors:
            observed = Observed(generation, tuning=tuning, invalid=[str(error) for error in errors])
            await self._write_status(workspace, observed)
            return ctrl.Result()
        byo_nodes = (
            select_byo_nodes(workspace, (await self.client.list(NODE)).items)
            if workspace.resource.is_bring_your_own
            else []
        )
        try:
            config_text = await self._config_text(workspace)
            plan = resolve_plan(
                workspace,
                byo_nodes=byo_nodes,
                config_text=config_text,
                hub_preset=await self._hub_preset(workspace),
                instance_gpu=await self._unlisted_instance_type(workspace),
            )
        except PlanProblem as problem:
            failure = Failure(problem.reason, problem.message, problem.permanent)
            await self._write_status(workspace, Observed(generation, tuning=tuning, plan_failure=failure))
            return (
                ctrl.Result()
                if problem.permanent
                else ctrl.Result(requeue_after=self.options.recheck_interval)
            )

        old = workspace.status
        planned = (
            old is None or old.target_node_count != plan.target_nodes or _generation_of(old) != generation
        )
        observed = Observed(generation, tuning=tuning, target_nodes=plan.target_nodes)
        machine_plan: MachinePlan | None = None
        created: list[str] = []
        if workspace.resource.instance_type:
            machines = await self._machines_of(workspace)
            machine_plan = await self._plan_machines(workspace, plan, machines)
            observed, retry_in, created = await self._ensure_machines(workspace, plan, machine_plan, observed)
        else:
            machines, retry_in = [], None
            ready = [node.name for node in byo_nodes][: plan.target_nodes]
            observed = _replace(
                observed,
                ready_nodes=ready,
                nodes_message=f"{len(ready)} of {plan.target_nodes} selected node(s) ready",
            )
        await self._announce(workspace, plan, planned, created)
        resources_ready = observed.node_failure is None and len(observed.ready_nodes) >= plan.target_nodes
        try:
            if tuning:
                observed = await self._ensure_job(workspace, plan, observed, resources_ready)
            else:
                observed = await self._ensure_inference(workspace, plan, observed, resources_ready)
        except WorkloadProblem as problem:
            observed = _replace(observed, workload_failure=Failure(problem.reason, problem.message))
        settled = resources_ready and (observed.workload_ready or observed.job_state is not None)
        if machine_plan is not None:
            await self._retire_machines(workspace, machine_plan.retire(settled))
        status = await self._write_status(workspace, observed)
        self._observe_phases(workspace, status, machines, plan)
        if retry_in is not None:  # a failed Machine will be replaced: come back then
            return ctrl.Result(requeue_after=max(retry_in, 1.0))
        if status.state in ("Ready", "Succeeded", "Failed"):
            return ctrl.Result()
        return ctrl.Result(requeue_after=self.options.recheck_interval)

    # ---- nodes ----------------------------------------------------------------------------------------

    async def _machines_of(self, workspace: Workspace) -> list[Machine]:
        found = []
        selector = {
            LABEL_WORKSPACE: workspace.metadata.name or "",
            LABEL_WORKSPACE_NAMESPACE: workspace.metadata.namespace or "",
        }
        for raw in (await self.client.list(MACHINE, label_selector=selector)).items:
            try:
                found.append(Machine.model_validate(ctrl.thaw(raw)))
            except ValidationError as error:
                log.warning("ignoring Machine %s that does not parse: %s", raw["metadata"].get("name"), error)
        return found

    async def _plan_machines(
        self, workspace: Workspace, plan: WorkspacePlan, machines: list[Machine]
    ) -> MachinePlan:
        """The Machine plan of this reconcile: computed once, used to converge and later to retire."""
        nodes_ready: dict[str, bool] = {}
        for machine in machines:  # only the Nodes of this Workspace's Machines: no scan of every Node
            node_name = machine.status.node_name if machine.status is not None else None
            if node_name and node_name not in nodes_ready:
                try:
                    nodes_ready[node_name] = node_is_ready(await self.client.get(NODE, node_name))
                except ctrl.NotFound:
                    nodes_ready[node_name] = False
        return plan_machines(
            MachineInputs(
                workspace,
                instance_type=workspace.resource.instance_type or "",
                target=plan.target_nodes,
                disk_gib=plan.preset.disk_gib if plan.preset is not None else None,
                existing=machines,
                nodes_ready=nodes_ready,
                now=self.clock.now(),
                retry_failed_after=self.options.machine_retry_interval,
                provisioner=self.options.provisioner,
            )
        )

    async def _announce(
        self, workspace: Workspace, plan: WorkspacePlan, planned: bool, created: list[str]
    ) -> None:
        """One Normal Event for a new plan, naming the Machines it created (`Planned`); Machines created
        later (a failed one replaced) are told on their own (`MachineCreated`)."""
        involved = _involved(workspace)
        instance_type = workspace.resource.instance_type or ""
        if planned:
            made = f"; created Machine {', '.join(created)}" if created else ""
            await self.recorder.normal(involved, "Planned", f"{plan.describe()}{made}")
            return
        for name in created:
            await self.recorder.normal(
                involved,
                "MachineCreated",
                f"created Machine {name} ({instance_type}) for one of {plan.target_nodes} node(s)",
            )

    async def _ensure_machines(
        self, workspace: Workspace, plan: WorkspacePlan, decision: MachinePlan, observed: Observed
    ) -> tuple[Observed, float | None, list[str]]:
        """Create missing Machines, replace failed ones when due; returns the retry delay, if any, and the
        names of the Machines created."""
        instance_type = workspace.resource.instance_type or ""
        for name in decision.delete:  # only failed Machines whose retry is due (nothing is settled yet)
            with contextlib.suppress(ctrl.NotFound):
                await self.client.delete(MACHINE, name)
                await self.recorder.normal(
                    _involved(workspace), "MachineReplaced", f"deleted failed Machine {name} to try again"
                )
        created = []
        for machine in decision.create:
            try:
                await self.client.create(machine)
            except ctrl.AlreadyExists:
                continue  # a stale cache: the Machine exists, the next event shows it
            created.append(machine.metadata.name or "")
        failure = None
        retries = [f.retry_in for f in decision.failures if f.retry_in is not None]
        if decision.failures:
            first = decision.failures[0]
            interval = self.options.machine_retry_interval
            again = f" A new Machine is tried {interval / 60:g} min after a failure." if interval else ""
            message = f"Machine {first.name} ({instance_type}) failed: {first.message}{again}"
            failure = Failure(first.reason, f"resource.instanceType: {message}")
        observed = _replace(
            observed,
            ready_nodes=decision.ready_nodes,
            nodes_message=decision.progress(plan.target_nodes),
            node_failure=failure,
        )
        return observed, min(retries) if retries else None, created

    async def _retire_machines(self, workspace: Workspace, stale: list[str]) -> None:
        for name in stale:
            with contextlib.suppress(ctrl.NotFound):
                await self.client.delete(MACHINE, name)
                await self.recorder.normal(
                    _involved(workspace), "MachineDeleted", f"deleted Machine {name}: no longer needed"
                )

    # ---- workload -------------------------------------------------------------------------------------

    async def _hub_preset(self, workspace: Workspace) -> Preset | None:
        """The preset of a Hugging Face model id outside the catalog, read from the hub; None otherwise."""
        inference = workspace.inference
        if inference is None or inference.preset is None or workspace.tuning is not None:
            return None
        name = inference.preset.name
        if name in self.known_presets or not is_hugging_face_id(name):
            return None
        try:
            return get_preset(name)  # a catalog preset named by its Hugging Face repo
        except UnknownPresetError:
            pass
        options = inference.preset.preset_options
        secret = options.model_access_secret if options is not None else None
        token = await self._hub_token(secret, workspace.metadata.namespace) if secret else None
        try:
            return await self.model_hub.preset(name, token)
        except ModelHubError as error:
            raise PlanProblem(
                "ModelMetadataUnavailable", f"inference.preset.name: {error}", permanent=error.permanent
            ) from None

    async def _unlisted_instance_type(self, workspace: Workspace) -> GpuConfig | None:
        """An instance type the catalog lacks, resolved by the provisioners (ARM's resource SKUs)."""
        instance_type = workspace.resource.instance_type
        if not instance_type or self.sku_lookup is None:
            return None
        try:
            get_gpu_config(instance_type)
            return None
        except UnknownSkuError as unknown:
            if not is_unlisted_n_series(instance_type):
                return None  # resolve_plan refuses it with the catalog's "did you mean"
            try:
                found = await self.sku_lookup(instance_type)
            except UnknownSkuError as error:
                raise PlanProblem("UnknownInstanceType", f"resource.instanceType: {error}") from None
            except ProvisionerError as error:
                raise PlanProblem(
                    "InstanceTypeLookupFailed",
                    f"resource.instanceType: cannot read {instance_type!r} from the cloud's resource SKUs "
                    f"({error}); kaito retries.",
                    permanent=False,
                ) from None
            if found is None:
                raise PlanProblem("UnknownInstanceType", f"resource.instanceType: {unknown}") from None
            return found

    async def _hub_token(self, secret: str, namespace: str | None) -> str:
        """HF_TOKEN of the Workspace's model-access Secret (read, never logged)."""
        where = "inference.preset.presetOptions.modelAccessSecret"
        try:
            body = await self.client.get(SECRET, secret, namespace)
        except ctrl.NotFound:
            raise PlanProblem(
                "ModelAccessSecretNotFound",
                f"{where}: Secret {secret!r} does not exist in namespace {namespace!r}; create it with "
                f"the key {HF_TOKEN_KEY} holding a Hugging Face token.",
                permanent=False,
            ) from None
        encoded = (body.get("data") or {}).get(HF_TOKEN_KEY)
        try:
            token = (
                base64.b64decode(encoded, validate=True).decode("utf-8", "replace").strip() if encoded else ""
            )
        except (binascii.Error, ValueError):
            token = ""  # not base64: reported below as a Secret without a usable token
        if not token:
            raise PlanProblem(
                "ModelAccessSecretInvalid",
                f"{where}: Secret {secret!r} has no {HF_TOKEN_KEY} key; put a Hugging Face token under it.",
                permanent=False,
            )
        return token

    async def _cached(self, kind: ctrl.GVK, name: str, namespace: str | None) -> Any | None:
        """The object from the cache (these kinds are watched), or None."""
        try:
            return await self.client.get(kind, name, namespace)
        except ctrl.NotFound:
            return None

    async def _config_text(self, workspace: Workspace) -> str | None:
        inference = workspace.inference
        if inference is None or inference.config is None:
            return None
        configmap = await self._cached(CONFIGMAP, inference.config, workspace.metadata.namespace)
        if configmap is None:
            raise PlanProblem(
                "ConfigMapNotFound",
                f"inference.config: ConfigMap {inference.config!r} does not exist in namespace "
                f"{workspace.metadata.namespace!r}; create it with the key {CONFIG_KEY}, or remove "
                "inference.config to use the defaults.",
                permanent=False,
            )
        return (configmap.get("data") or {}).get(CONFIG_KEY)

    async def _apply_changed(self, workspace: Workspace, objects: list[dict[str, Any]]) -> list[str]:
        """Apply what differs from the cache. A change to an existing workload (a rollout) is told as
        `WorkloadApplied`; the first creation is not: the conditions tell it."""
        applied, changed = [], False
        mine = self.applied.setdefault(f"{workspace.metadata.namespace}/{workspace.metadata.name}", {})
        for obj in objects:
            meta, kind = obj["metadata"], _OWNED_BY_KIND[obj["kind"]]
            wanted, key = (
                meta["annotations"][APPLIED_HASH],
                f"{obj['kind']}/{meta['namespace']}/{meta['name']}",
            )
            cached = await self._cached(kind, meta["name"], meta["namespace"])
            if _applied_hash(cached) == wanted:
                mine.pop(key, None)  # the cache has caught up: nothing to remember
                continue
            if mine.get(key) == wanted:
                # we applied exactly this and the cache has not seen it yet: read, do not write again
                try:
                    cached = await self.client.direct.get(kind, meta["name"], meta["namespace"])
                except ctrl.NotFound:
                    cached = None
            if _applied_hash(cached) == wanted:
                continue
            await self.client.apply(obj, force=True)
            mine[key] = wanted
            applied.append(f"{obj['kind']} {meta['name']}")
            changed = changed or cached is not None
        if not mine:
            self.applied.pop(f"{workspace.metadata.namespace}/{workspace.metadata.name}", None)
        if changed:
            await self.recorder.normal(
                _involved(workspace), "WorkloadApplied", f"applied {', '.join(applied)}"
            )
        return applied

    async def _ensure_default_config(self, namespace: str) -> None:
        """Create the namespace's default inference ConfigMap when it is absent; one that exists is left
        as it is (KAITO's copy-once, so it is the namespace's to edit)."""
        if await self._cached(CONFIGMAP, DEFAULT_CONFIG_NAME, namespace) is not None:
            return
        if namespace in self.default_configs_made:  # ours, not in the cache yet: read, do not write again
            with contextlib.suppress(ctrl.NotFound):
                await self.client.direct.get(CONFIGMAP, DEFAULT_CONFIG_NAME, namespace)
                return
        self.default_configs_made.add(namespace)  # before the await: a concurrent reconcile reads instead
        try:
            await self.client.create(default_config(namespace))
        except ctrl.AlreadyExists:
            pass  # made by an earlier operator, or the user
        except BaseException:
            self.default_configs_made.discard(namespace)
            raise

    async def _prune(self, workspace: Workspace, keep: list[dict[str, Any]]) -> None:
        """Delete objects this Workspace owns that the current rendering no longer has."""
        wanted = {(obj["kind"], obj["metadata"]["name"]) for obj in keep}
        uid = workspace.metadata.uid
        if not uid:
            return  # nothing can carry an ownerReference to a Workspace without a uid
        for kind in _OWNED_KINDS:
            # the cache's owner-uid index: only this Workspace's objects, not every one of the namespace
            for obj in await self.client.list_owned(kind, uid, workspace.metadata.namespace):
                name = obj["metadata"]["name"]
                if (kind.kind, name) in wanted or obj["metadata"].get("deletionTimestamp"):
                    continue
                with contextlib.suppress(ctrl.NotFound):
                    await self.client.delete(
                        kind, name, workspace.metadata.namespace, propagation_policy="Background"
                    )
                    await self.recorder.normal(
                        _involved(workspace), "WorkloadPruned", f"deleted {kind.kind} {name}"
                    )

    async def _ensure_inference(
        self, workspace: Workspace, plan: WorkspacePlan, observed: Observed, resources_ready: bool
    ) -> Observed:
        name, namespace = workspace.metadata.name or "", workspace.metadata.namespace
        existing = await self._cached(DEPLOYMENT, name, namespace) or await self._cached(
            STATEFULSET, name, namespace
        )
        if not resources_ready:
            if existing is None:
                return observed
            readiness = workload_readiness(existing, existing)
            return _replace(
                observed,
                workload_exists=True,
                workload_ready=readiness.ready,
                workload_message=readiness.message,
            )
        objects = inference_objects(workspace, plan, list(observed.ready_nodes[: plan.target_nodes]))
        if workspace.inference is not None and workspace.inference.config is None:
            await self._ensure_default_config(namespace or "default")
        await self._apply_changed(workspace, objects)
        workload = objects[-1]
        cached = await self._cached(_OWNED_BY_KIND[workload["kind"]], name, namespace)
        readiness = workload_readiness(cached, workload)
        if readiness.ready:
            await self._prune(workspace, objects)
        return _replace(
            observed, workload_exists=True, workload_ready=readiness.ready, workload_message=readiness.message
        )

    async def _ensure_job(
        self, workspace: Workspace, plan: WorkspacePlan, observed: Observed, resources_ready: bool
    ) -> Observed:
        name, namespace = job_name(workspace), workspace.metadata.namespace
        cached = await self._cached(JOB, name, namespace)
        if not resources_ready and cached is None:
            return observed
        desired_hash = None
        config = None
        if resources_ready and plan.preset is not None and plan.gpu is not None:
            try:
                config = await self._training_config(workspace)
            except WorkloadProblem:
                if cached is None:
                    raise
                # a config deleted or broken after the Job was made: report the Job, do not replace it
        if config is not None and plan.preset is not None and plan.gpu is not None:
            desired = owned(
                workspace,
                render_tuning_job(workspace, plan.preset, plan.gpu, observed.ready_nodes[0], config),
            )
            desired_hash = desired["metadata"]["annotations"][APPLIED_HASH]
            if cached is None:
                with contextlib.suppress(ctrl.AlreadyExists):
                    await self.client.create(desired)
                    await self.recorder.normal(
                        _involved(workspace),
                        "JobCreated",
                        f"created Job {name} on node {observed.ready_nodes[0]}",
                    )
                return _replace(
                    observed, job_state="pending", job_reason="JobPending", job_message=f"Job {name} created"
                )
        assert cached is not None
        cached_hash = (cached.get("metadata") or {}).get("annotations", {}).get(APPLIED_HASH)
        if (
            desired_hash is not None
            and cached_hash != desired_hash
            and cached["metadata"].get("deletionTimestamp") is None
        ):
            # A Job's pod template is immutable: a changed tuning spec replaces the Job.
            with contextlib.suppress(ctrl.NotFound):
                await self.client.delete(JOB, name, namespace, propagation_policy="Background")
                await self.recorder.normal(
                    _involved(workspace), "JobReplaced", f"deleted Job {name}: the tuning spec changed"
                )
            return _replace(
                observed,
                job_state="pending",
                job_reason="JobPending",
                job_message=f"Job {name} is being replaced",
            )
        outcome = job_outcome(cached)
        message = outcome.message
        if outcome.state == "failed":
            message = await self._with_pod_failure(workspace, name, message)
        return _replace(observed, job_state=outcome.state, job_reason=outcome.reason, job_message=message)

    async def _training_config(self, workspace: Workspace) -> TrainingConfigRef:
        """The ConfigMap the trainer reads: tuning.config, else the Workspace's copy of its method's default
        (copied once, from the operator's template when there is one, else the built-in default)."""
        tuning = workspace.tuning
        assert tuning is not None
        namespace = workspace.metadata.namespace
        if tuning.config:
            name, source = tuning.config, f"tuning.config: ConfigMap {tuning.config!r}"
            configmap = await self._cached(CONFIGMAP, name, namespace)
            if configmap is None:
                raise WorkloadProblem(
                    "ConfigMapNotFound",
                    f"{source} does not exist in namespace {namespace!r}; create it with the key "
                    f"{CONFIG_FILE}, or remove tuning.config to use the {tuning.method} default.",
                )
            text = (configmap.get("data") or {}).get(CONFIG_FILE)
        else:
            name = training_configmap_name(workspace)
            source = f"ConfigMap {name!r} (the {tuning.method} default)"
            configmap = await self._cached(CONFIGMAP, name, namespace)
            if configmap is None:
                template = await self._cached(
                    CONFIGMAP, TEMPLATE_CONFIGMAPS[tuning.method], self.options.template_namespace
                )
                text = ((template or {}).get("data") or {}).get(CONFIG_FILE) or DEFAULT_TRAINING_CONFIGS[
                    tuning.method
                ]
                with contextlib.suppress(ctrl.AlreadyExists):
                    await self.client.create(owned(workspace, training_configmap(workspace, text)))
            else:
                text = (configmap.get("data") or {}).get(CONFIG_FILE)
        try:
            output_dir = training_output_dir(parse_training_config(text, source=source), source=source)
        except TrainingConfigError as error:
            raise WorkloadProblem("InvalidTuningConfig", str(error)) from None
        return TrainingConfigRef(name, output_dir)

    async def _with_pod_failure(self, workspace: Workspace, job: str, message: str) -> str:
        """Add why the Job's containers ended (one list of its pods, only while the failure is news)."""
        old = find_condition(
            workspace.status.conditions if workspace.status else None, CONDITION_WORKSPACE_SUCCEEDED
        )
        if old is not None and old.status == "False" and old.message.startswith(message):
            return old.message
        try:
            pods = await self.client.list(POD, workspace.metadata.namespace, label_selector=f"job-name={job}")
        except ctrl.ApiError:
            return message
        details = pod_failure_details(pods.items)
        return f"{message} ({'; '.join(details)})" if details else message

    # ---- status ---------------------------------------------------------------------------------------

    async def _write_status(self, workspace: Workspace, observed: Observed) -> WorkspaceStatus:
        old = workspace.status
        new = desired_status(old, observed, self.clock.now())
        self.states.set(f"{workspace.metadata.namespace}/{workspace.metadata.name}", new.state)
        old_wire = old.to_wire() if old is not None else {}
        if new.to_wire() == old_wire:
            return new
        body = {key: None for key in ("workerNodes", "state", "conditions", "targetNodeCount")}
        body.update(new.to_wire())
        written = await self.client.patch(
            WORKSPACE,
            workspace.metadata.name or "",
            {"status": body},
            namespace=workspace.metadata.namespace,
            subresource="status",
        )
        self._remember(workspace, written)
        involved = _involved(workspace)
        for event in status_events(old, new):
            await self.recorder.event(involved, event.type, event.reason, event.message)
        return new

    async def report_unparsable(self, raw: Mapping[str, Any], error: ValidationError) -> None:
        """A stored Workspace that does not parse: WorkspaceSucceeded=False naming the fields, an Event."""
        name = (raw.get("metadata") or {}).get("name")
        invalid = InvalidObjectError("Workspace", name, field_errors_from_pydantic(Workspace, error))
        await self._write_unparsable(raw, invalid)

    async def _write_unparsable(self, raw: Mapping[str, Any], error: InvalidObjectError) -> None:
        meta = raw.get("metadata") or {}
        status = raw.get("status") or {}
        old = [c for c in status.get("conditions") or [] if c.get("type") == CONDITION_WORKSPACE_SUCCEEDED]
        message = error.render()
        if old and old[0].get("message") == message:
            return
        condition = {
            "type": CONDITION_WORKSPACE_SUCCEEDED,
            "status": "False",
            "reason": REASON_INVALID,
            "message": message,
            "lastTransitionTime": format_time(self.clock.now()),
        }
        if meta.get("generation") is not None:
            condition["observedGeneration"] = meta["generation"]
        others = [c for c in status.get("conditions") or [] if c.get("type") != CONDITION_WORKSPACE_SUCCEEDED]
        await self.client.patch(
            WORKSPACE,
            meta.get("name", ""),
            {"status": {"state": "Failed", "conditions": [*map(ctrl.thaw, others), condition]}},
            namespace=meta.get("namespace"),
            subresource="status",
        )
        await self.recorder.warning(raw, REASON_INVALID, message)

    def _observe_phases(
        self, workspace: Workspace, status: WorkspaceStatus, machines: list[Machine], plan: WorkspacePlan
    ) -> None:
        uid, created = workspace.metadata.uid or "", workspace.metadata.creation_timestamp
        if created is None:
            return
        current = {
            machine_name(workspace, workspace.resource.instance_type or "", i)
            for i in range(plan.target_nodes)
        }
        mine = [m for m in machines if m.metadata.name in current]
        if workspace.resource.instance_type and mine and launched_count(mine) >= plan.target_nodes:
            times = [
                c.last_transition_time
                for m in mine
                if m.status is not None
                for c in (m.status.conditions or [])
                if c.type == "Launched" and c.is_true
            ]
            if times:
                self.metrics.observe_phase(uid, "node_provision", _seconds(created, max(times)))
        resource = find_condition(status.conditions, CONDITION_RESOURCE_READY)
        if resource is not None and resource.is_true:
            self.metrics.observe_phase(uid, "node_ready", _seconds(created, resource.last_transition_time))
            done = find_condition(
                status.conditions,
                CONDITION_INFERENCE_READY if workspace.inference else CONDITION_WORKSPACE_SUCCEEDED,
            )
            if done is not None and done.is_true:
                self.metrics.observe_phase(
                    uid, "workload_ready", _seconds(resource.last_transition_time, done.last_transition_time)
                )

    def forget_caught_up(self, _old: Any, new: Mapping[str, Any]) -> None:
        """A Workspace event: the cache now holds this version, so our copy of an older write can go."""
        meta = new.get("metadata") or {}
        self.own_writes.seen(f"{meta.get('namespace')}/{meta.get('name')}", meta.get("resourceVersion"))

    # ---- finalizer ------------------------------------------------------------------------------------

    def _remember(self, before: Workspace, written: Mapping[str, Any]) -> Workspace:
        """Keep what a write returned, for reconciles that run before the cache has seen it."""
        try:
            parsed = Workspace.model_validate(ctrl.thaw(written))
        except ValidationError:
            return before
        key = f"{before.metadata.namespace}/{before.metadata.name}"
        self.own_writes.remember(
            key, before.metadata.resource_version, parsed, parsed.metadata.resource_version
        )
        return parsed

    async def _set_finalizers(self, workspace: Workspace, finalizers: list[str]) -> Workspace:
        """Set the finalizers, guarded by the resourceVersion read; returns the Workspace written."""
        meta = workspace.metadata
        written = await self.client.patch(
            WORKSPACE,
            meta.name or "",
            [
                {"op": "test", "path": "/metadata/resourceVersion", "value": meta.resource_version},
                {"op": "add", "path": "/metadata/finalizers", "value": finalizers},
            ],
            namespace=meta.namespace,
            patch_type=ctrl.PatchType.JSON,
        )
        return self._remember(workspace, written)

    async def _finalize(self, workspace: Workspace) -> ctrl.Result:
        finalizers = list(workspace.metadata.finalizers or [])
        if FINALIZER_WORKSPACE_CLEANUP not in finalizers:
            return ctrl.Result()
        machines = await self._machines_of(workspace)
        for machine in machines:
            if machine.metadata.deletion_timestamp is None:
                with contextlib.suppress(ctrl.NotFound):
                    await self.client.delete(MACHINE, machine.metadata.name or "")
                    await self.recorder.normal(
                        _involved(workspace),
                        "MachineDeleted",
                        f"deleted Machine {machine.metadata.name}: the Workspace is being deleted",
                    )
        if machines:
            names = ", ".join(sorted(m.metadata.name or "" for m in machines))
            await self._write_status(
                workspace,
                Observed(
                    workspace.metadata.generation,
                    deleting_message=f"waiting for {len(machines)} Machine(s) to be deleted: {names}",
                ),
            )
            return ctrl.Result(requeue_after=self.options.deletion_poll)
        await self._set_finalizers(workspace, [f for f in finalizers if f != FINALIZER_WORKSPACE_CLEANUP])
        self.metrics.forget(workspace.metadata.uid or "")
        return ctrl.Result()


_OWNED_BY_KIND: Final = {kind.kind: kind for kind in _OWNED_KINDS}


def _applied_hash(obj: Mapping[str, Any] | None) -> str | None:
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    value = annotations.get(APPLIED_HASH)
    return str(value) if value is not None else None


def _replace(observed: Observed, **changes: Any) -> Observed:
    return replace(observed, **changes)


def _involved(workspace: Workspace) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND_WORKSPACE,
        "metadata": {
            "name": workspace.metadata.name,
            "namespace": workspace.metadata.namespace,
            "uid": workspace.metadata.uid,
        },
    }


def _generation_of(status: WorkspaceStatus | None) -> int | None:
    condition = find_condition(status.conditions if status else None, CONDITION_WORKSPACE_SUCCEEDED)
    return condition.observed_generation if condition is not None else None


def _seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


def add_workspace_controller(
    manager: ctrl.Manager,
    options: WorkspaceControllerOptions | None = None,
    *,
    name: str = "workspace",
    sku_lookup: SkuLookup | None = None,
) -> WorkspaceReconciler:
    """Register the Workspace controller with `manager` (its watches and caches); returns the reconciler."""
    options = options or WorkspaceControllerOptions()
    reconciler = WorkspaceReconciler(
        manager.cached_client,
        manager.event_recorder(WORKSPACE_COMPONENT),
        clock=manager.clock,
        metrics=workspace_metrics(manager.registry),
        options=options,
        sku_lookup=sku_lookup,
    )
    workspace_informer = manager.informers.informer_for(WORKSPACE)
    workspaces = workspace_informer.store  # for the map functions (synchronous)
    # a status write wakes no reconcile (the predicate), so drop what own_writes keeps once the cache has it
    workspace_informer.add_event_handler(HandlerFuncs(update=reconciler.forget_caught_up))
    for kind in (MACHINE, NODE, *_OWNED_KINDS):
        manager.cached_client.cache(kind)
    for kind in (DEPLOYMENT, STATEFULSET):  # no pod template in the cache: never read, most of the bytes
        manager.informers.add_transform(kind, trim_workload)
    manager.informers.add_transform(SERVICE, metadata_only)  # only its applied hash and owners are read
    (
        ctrl.ControllerBuilder(manager)
        .named(name)
        .for_(
            Workspace,
            ctrl.Or(ctrl.GenerationChanged(), ctrl.Funcs(update=_deletion_changed)),
            on_parse_error=reconciler.report_unparsable,
        )
        .owns(DEPLOYMENT)
        .owns(STATEFULSET)
        .owns(JOB)
        .owns(SERVICE)
        .watches(MACHINE, workspaces_for_machine)
        .watches(CONFIGMAP, workspaces_for_configmap(workspaces))
        .watches(NODE, workspaces_for_node(workspaces), ctrl.Funcs(update=_node_changed))
        .with_options(max_concurrent_reconciles=options.max_concurrent_reconciles)
        .complete(reconciler)
    )
    return reconciler
