"""The MultiRoleInference controller: applies one InferenceSet per role (`kaito.controllers.multirole_plan`),
writes the per-role conditions and `RolesReady` once, and records an Event when a role reports a problem or
becomes ready, so what stops a role's Workspace shows on the MultiRoleInference itself. Deleting it deletes
the sets through their owner references."""

from __future__ import annotations

from typing import Any, Final

from kaito import ctrl
from kaito.api import MultiRoleInference
from kaito.controllers.inferenceset import INFERENCESET
from kaito.controllers.multirole_plan import multirole_conditions, multirole_events, render_role_sets

__all__ = ["MULTIROLEINFERENCE", "MultiRoleReconciler", "add_multirole_controller"]

MULTIROLEINFERENCE: Final = ctrl.GVK("kaito.sh/v1alpha1", "MultiRoleInference")
COMPONENT: Final = "multiroleinference-controller"


class MultiRoleReconciler:
    """See the module docstring."""

    def __init__(self, client: ctrl.CachedClient, recorder: ctrl.EventRecorder, clock: ctrl.Clock) -> None:
        self.client = client
        self.recorder = recorder
        self.clock = clock

    async def reconcile(self, request: ctrl.Request, mri: MultiRoleInference | None) -> ctrl.Result:
        if mri is None or mri.metadata.deletion_timestamp is not None:
            return ctrl.Result()
        sets = []
        for wanted in render_role_sets(mri):
            sets.append(await self.client.apply(wanted, force=True))
        old = mri.status.conditions if mri.status else None
        conditions = multirole_conditions(mri, sets, self.clock.now())
        if conditions != (old or []):
            await self.client.patch(
                MULTIROLEINFERENCE,
                mri.metadata.name or "",
                {
                    "status": {
                        "conditions": [c.to_wire() for c in conditions],
                        "observedGeneration": mri.metadata.generation,
                    }
                },
                namespace=mri.metadata.namespace,
                subresource="status",
            )
            for event in multirole_events(old, conditions):
                await self.recorder.event(_involved(mri), event.type, event.reason, event.message)
        return ctrl.Result()


def _involved(mri: MultiRoleInference) -> dict[str, Any]:
    return {
        "apiVersion": MULTIROLEINFERENCE.api_version,
        "kind": MULTIROLEINFERENCE.kind,
        "metadata": {
            "name": mri.metadata.name,
            "namespace": mri.metadata.namespace,
            "uid": mri.metadata.uid,
        },
    }


def add_multirole_controller(
    manager: ctrl.Manager, *, name: str = "multiroleinference"
) -> MultiRoleReconciler:
    """Register the MultiRoleInference controller with `manager`; returns the reconciler."""
    reconciler = MultiRoleReconciler(manager.cached_client, manager.event_recorder(COMPONENT), manager.clock)
    ctrl.ControllerBuilder(manager).named(name).for_(MultiRoleInference).owns(INFERENCESET).complete(
        reconciler
    )
    return reconciler
