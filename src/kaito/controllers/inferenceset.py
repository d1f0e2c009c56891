"""The InferenceSet controller: keeps `spec.replicas` Workspaces of the set's template, and its status.

A thin shell over `kaito.controllers.inferenceset_plan`: read the set and the Workspaces it owns (labelled
`inferenceset.kaito.sh/created-by=<set>`, from the cache), create, update and delete what the plan says,
write the status once. Deleting the set deletes its Workspaces through their owner references (the garbage
collector), and each Workspace's finalizer removes its Machines and nodes. When the API server serves KEDA's
ScaledObject kind, the set's `scaledobject.kaito.sh/*` annotations are applied as a ScaledObject owned by
the set; without KEDA the annotations are reported in an event and otherwise left alone.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Final

from kaito import ctrl
from kaito.api import LABEL_INFERENCESET, InferenceSet
from kaito.controllers.inferenceset_plan import plan_inferenceset, render_scaled_object
from kaito.controllers.workspace import WORKSPACE

__all__ = ["INFERENCESET", "SCALED_OBJECT", "InferenceSetReconciler", "add_inferenceset_controller"]

INFERENCESET: Final = ctrl.GVK("kaito.sh/v1beta1", "InferenceSet")
SCALED_OBJECT: Final = ctrl.GVK("keda.sh/v1alpha1", "ScaledObject")
COMPONENT: Final = "inferenceset-controller"

log = logging.getLogger(__name__)


class InferenceSetReconciler:
    """See the module docstring."""

    def __init__(self, client: ctrl.CachedClient, recorder: ctrl.EventRecorder, clock: ctrl.Clock) -> None:
        self.client = client
        self.recorder = recorder
        self.clock = clock

    async def reconcile(self, request: ctrl.Request, iset: InferenceSet | None) -> ctrl.Result:
        if iset is None or iset.metadata.deletion_timestamp is not None:
            return ctrl.Result()  # owner references take the Workspaces away
        name, namespace = iset.metadata.name or "", iset.metadata.namespace
        owned = await self.client.list(WORKSPACE, namespace, label_selector=f"{LABEL_INFERENCESET}={name}")
        workspaces = [w for w in owned.items if _owned_by(w, iset)]
        plan = plan_inferenceset(iset, workspaces, self.clock.now())
        involved = _involved(iset)
        for workspace in plan.create:
            with contextlib.suppress(ctrl.AlreadyExists):
                await self.client.create(workspace)
                await self.recorder.normal(
                    involved, "WorkspaceCreated", f"created Workspace {workspace['metadata']['name']}"
                )
        for workspace in plan.update:
            meta = workspace["metadata"]
            await self.client.patch(
                WORKSPACE,
                meta["name"],
                {"resource": workspace["resource"], "inference": workspace["inference"]},
                namespace=namespace,
            )
        for stale in plan.delete:
            with contextlib.suppress(ctrl.NotFound):
                await self.client.delete(WORKSPACE, stale, namespace)
                await self.recorder.normal(
                    involved, "WorkspaceDeleted", f"deleted Workspace {stale}: scaled down"
                )
        await self._scaled_object(iset)
        old = iset.status.to_wire() if iset.status else {}
        new = plan.status.to_wire()
        if new != old:
            body: dict[str, Any] = {
                key: None for key in ("replicas", "readyReplicas", "selector", "conditions")
            }
            body.update(new)
            await self.client.patch(
                INFERENCESET, name, {"status": body}, namespace=namespace, subresource="status"
            )
        return ctrl.Result()

    async def _scaled_object(self, iset: InferenceSet) -> None:
        scaled = render_scaled_object(iset)
        if scaled is None:
            return
        try:
            await self.client.direct.resource_for(SCALED_OBJECT)
        except ctrl.UnknownKind:
            return  # KEDA is not installed: nothing can act on the annotations
        await self.client.apply(scaled, force=True)


def _owned_by(workspace: Any, iset: InferenceSet) -> bool:
    refs = (workspace.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("uid") == iset.metadata.uid and ref.get("controller") for ref in refs)


def _involved(iset: InferenceSet) -> dict[str, Any]:
    return {
        "apiVersion": INFERENCESET.api_version,
        "kind": INFERENCESET.kind,
        "metadata": {
            "name": iset.metadata.name,
            "namespace": iset.metadata.namespace,
            "uid": iset.metadata.uid,
        },
    }


def add_inferenceset_controller(
    manager: ctrl.Manager, *, name: str = "inferenceset"
) -> InferenceSetReconciler:
    """Register the InferenceSet controller with `manager`; returns the reconciler."""
    reconciler = InferenceSetReconciler(
        manager.cached_client, manager.event_recorder(COMPONENT), manager.clock
    )
    (ctrl.ControllerBuilder(manager).named(name).for_(InferenceSet).owns(WORKSPACE).complete(reconciler))
    return reconciler
