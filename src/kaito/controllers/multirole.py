"""The MultiRoleInference controller: applies one InferenceSet per role (`kaito.controllers.multirole_plan`)
and writes `RolesReady` once. Deleting it deletes the sets through their owner references."""

from __future__ import annotations

from typing import Final

from kaito import ctrl
from kaito.api import MultiRoleInference, set_condition
from kaito.controllers.inferenceset import INFERENCESET
from kaito.controllers.multirole_plan import render_role_sets, roles_ready

__all__ = ["MULTIROLEINFERENCE", "MultiRoleReconciler", "add_multirole_controller"]

MULTIROLEINFERENCE: Final = ctrl.GVK("kaito.sh/v1alpha1", "MultiRoleInference")


class MultiRoleReconciler:
    """See the module docstring."""

    def __init__(self, client: ctrl.CachedClient, clock: ctrl.Clock) -> None:
        self.client = client
        self.clock = clock

    async def reconcile(self, request: ctrl.Request, mri: MultiRoleInference | None) -> ctrl.Result:
        if mri is None or mri.metadata.deletion_timestamp is not None:
            return ctrl.Result()
        sets = []
        for wanted in render_role_sets(mri):
            sets.append(await self.client.apply(wanted, force=True))
        condition = roles_ready(mri, sets, self.clock.now())
        old = mri.status.conditions if mri.status else None
        conditions = set_condition(old, condition)
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
        return ctrl.Result()


def add_multirole_controller(
    manager: ctrl.Manager, *, name: str = "multiroleinference"
) -> MultiRoleReconciler:
    """Register the MultiRoleInference controller with `manager`; returns the reconciler."""
    reconciler = MultiRoleReconciler(manager.cached_client, manager.clock)
    ctrl.ControllerBuilder(manager).named(name).for_(MultiRoleInference).owns(INFERENCESET).complete(
        reconciler
    )
    return reconciler
