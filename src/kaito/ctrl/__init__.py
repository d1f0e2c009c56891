"""kaito.ctrl: a reusable asyncio reconcile library in the spirit of controller-runtime and client-go.

It knows nothing of Kaito. Write a controller in a page:

    from kaito.ctrl import Client, ControllerBuilder, Manager, Request, Result

    class Mirror:
        async def reconcile(self, request: Request, source: ConfigMap | None) -> Result: ...

    async def main() -> None:
        async with await Client.from_kubeconfig() as client:
            manager = Manager(client)
            ControllerBuilder(manager).for_(ConfigMap).complete(Mirror(manager.cached_client))
            await manager.run()

Reconcilers read and write through `manager.cached_client`: reads of watched kinds come from the shared
informer caches (no request), writes go to the API server (`kaito.ctrl.cached_client`).

Modules, one concept each. Their `__all__`, re-exported here, is what a controller author needs:
client, cached_client, errors, reconcile, typed_reconciler, builder, manager, predicates, handlers,
events, frozen, store, clock, controller, leader, logs, transport.

The machinery under them is imported from its module when wanted, never from here: informer, reflector,
store indexers, workqueue, ratelimiter, backoff, metrics, health, selectors. Test doubles (`FakeClock`,
`MockTransport`, `MockResponse`, `MockStream`) live in `kaito.ctrl.testing`.
"""

from kaito.ctrl import (
    builder,
    cached_client,
    client,
    clock,
    controller,
    errors,
    events,
    frozen,
    handlers,
    leader,
    logs,
    manager,
    predicates,
    reconcile,
    store,
    transport,
    typed_reconciler,
)
from kaito.ctrl.builder import *  # noqa: F403
from kaito.ctrl.cached_client import *  # noqa: F403
from kaito.ctrl.client import *  # noqa: F403
from kaito.ctrl.clock import *  # noqa: F403
from kaito.ctrl.controller import *  # noqa: F403
from kaito.ctrl.errors import *  # noqa: F403
from kaito.ctrl.events import *  # noqa: F403
from kaito.ctrl.frozen import *  # noqa: F403
from kaito.ctrl.handlers import *  # noqa: F403
from kaito.ctrl.leader import *  # noqa: F403
from kaito.ctrl.logs import *  # noqa: F403
from kaito.ctrl.manager import *  # noqa: F403
from kaito.ctrl.predicates import *  # noqa: F403
from kaito.ctrl.reconcile import *  # noqa: F403
from kaito.ctrl.store import *  # noqa: F403
from kaito.ctrl.transport import *  # noqa: F403
from kaito.ctrl.typed_reconciler import *  # noqa: F403

PUBLIC_MODULES = (
    builder,
    cached_client,
    client,
    clock,
    controller,
    errors,
    events,
    frozen,
    handlers,
    leader,
    logs,
    manager,
    predicates,
    reconcile,
    store,
    transport,
    typed_reconciler,
)

__all__ = sorted({name for module in PUBLIC_MODULES for name in module.__all__})
