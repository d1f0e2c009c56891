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

Names load on first use (PEP 562): `import kaito.ctrl` imports none of its modules (nor pydantic or asyncio);
`kaito.ctrl.Client` imports `client` and what it needs.

Modules, one concept each. Their `__all__`, re-exported here, is what a controller author needs:
client, cached_client, errors, reconcile, typed_reconciler, builder, manager, predicates, handlers,
events, frozen, store, clock, controller, leader, logs, transport.

The machinery under them is imported from its module when wanted, never from here: informer, reflector,
store indexers, http11 (the connections under `KubeTransport`), workqueue, ratelimiter, backoff, metrics,
health, selectors. Test doubles (`FakeClock`, `MockTransport`, `MockResponse`, `MockStream`) live in
`kaito.ctrl.testing`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see; at run time each name loads from its module on first use
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

# Each public name and the module that defines it (its module's `__all__` is the source of truth; a test
# checks the two agree). `import kaito.ctrl` loads none of them; `kaito.ctrl.Name` loads one module.
_EXPORTS = {
    "AlreadyExists": "errors",
    "And": "predicates",
    "AnnotationChanged": "predicates",
    "ApiError": "errors",
    "BY_LABEL": "store",
    "BY_NAMESPACE": "store",
    "BY_OWNER_UID": "store",
    "BadRequest": "errors",
    "BuilderError": "builder",
    "CacheSyncTimeout": "controller",
    "CachedClient": "cached_client",
    "Client": "client",
    "Clock": "clock",
    "ConfigError": "errors",
    "Conflict": "errors",
    "Controller": "controller",
    "ControllerBuilder": "builder",
    "CtrlError": "errors",
    "EnqueueRequestForObject": "handlers",
    "EnqueueRequestForOwner": "handlers",
    "EnqueueRequestsFromMapFunc": "handlers",
    "EventRecorder": "events",
    "Forbidden": "errors",
    "FrozenDict": "frozen",
    "FrozenList": "frozen",
    "Funcs": "predicates",
    "GVK": "client",
    "GenerationChanged": "predicates",
    "Gone": "errors",
    "HttpRequest": "transport",
    "HttpResponse": "transport",
    "Invalid": "errors",
    "KindRef": "client",
    "KubeTransport": "transport",
    "LabelChanged": "predicates",
    "LeaderElectionConfig": "leader",
    "LeaderElectionLost": "errors",
    "Manager": "manager",
    "MapFunc": "handlers",
    "MethodNotAllowed": "errors",
    "Not": "predicates",
    "NotFound": "errors",
    "ObjectList": "client",
    "Or": "predicates",
    "ParseErrorHandler": "typed_reconciler",
    "PatchType": "client",
    "Predicate": "predicates",
    "Reconciler": "reconcile",
    "ReconcilerFunc": "reconcile",
    "Request": "reconcile",
    "RequestHandler": "handlers",
    "ResourceVersionChanged": "predicates",
    "Result": "reconcile",
    "RetryPolicy": "client",
    "Runnable": "manager",
    "ServerError": "errors",
    "Store": "store",
    "SystemClock": "clock",
    "TerminalError": "errors",
    "TooManyRequests": "errors",
    "Transport": "transport",
    "TransportError": "errors",
    "TypedReconciler": "typed_reconciler",
    "Unauthorized": "errors",
    "UnknownKind": "errors",
    "WatchEvent": "client",
    "configure_logging": "logs",
    "freeze": "frozen",
    "gvk_of": "client",
    "object_key": "client",
    "request_for": "handlers",
    "run_until_stopped": "manager",
    "thaw": "frozen",
    "to_dict": "client",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562) and keep it in the package namespace."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
