"""kaito.ctrl: a reusable asyncio reconcile library in the spirit of controller-runtime and client-go.

It knows nothing of Kaito. Write a controller in a page:

    from kaito.ctrl import Client, ControllerBuilder, Manager, Request, Result

    class Mirror:
        async def reconcile(self, request: Request) -> Result: ...

    async def main() -> None:
        async with await Client.from_kubeconfig() as client:
            manager = Manager(client)
            ControllerBuilder(manager).for_(("v1", "ConfigMap")).complete(Mirror())
            await manager.run()

Modules, one concept each: clock, errors, transport, client, ratelimiter, workqueue, frozen, store, backoff,
reflector, informer, reconcile, predicates, handlers, controller, builder, leader, events, metrics, health,
logs, manager. Every public name of every module is re-exported here.
"""

from kaito.ctrl.backoff import (
    Backoff,
)
from kaito.ctrl.builder import (
    BuilderError,
    ControllerBuilder,
)
from kaito.ctrl.client import (
    GVK,
    ApiResource,
    Client,
    KindRef,
    ObjectList,
    PatchType,
    RetryPolicy,
    WatchEvent,
    WatchStream,
    gvk_of,
    object_key,
    to_dict,
)
from kaito.ctrl.clock import (
    Clock,
    FakeClock,
    SystemClock,
    Timer,
)
from kaito.ctrl.controller import (
    CacheSyncTimeout,
    Controller,
    EventSource,
)
from kaito.ctrl.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    ConfigError,
    Conflict,
    CtrlError,
    Forbidden,
    Gone,
    Invalid,
    LeaderElectionLost,
    MethodNotAllowed,
    NotFound,
    ServerError,
    TerminalError,
    TooManyRequests,
    TransportError,
    Unauthorized,
    UnknownKind,
    error_from_response,
    is_transient,
)
from kaito.ctrl.events import (
    EVENT,
    EventRecorder,
)
from kaito.ctrl.frozen import (
    FrozenDict,
    FrozenList,
    freeze,
    thaw,
)
from kaito.ctrl.handlers import (
    EnqueueRequestForObject,
    EnqueueRequestForOwner,
    EnqueueRequestsFromMapFunc,
    MapFunc,
    RequestHandler,
    request_for,
)
from kaito.ctrl.health import (
    Check,
    ProbeServer,
)
from kaito.ctrl.informer import (
    EventHandler,
    HandlerFuncs,
    HandlerRegistration,
    SharedInformer,
    SharedInformerFactory,
    Transform,
    strip_managed_fields,
)
from kaito.ctrl.leader import (
    LEASE,
    LeaderElectionConfig,
    LeaderElector,
)
from kaito.ctrl.logs import (
    CONTEXT_FIELDS,
    JsonFormatter,
    ObjectLogger,
    configure_logging,
    object_logger,
)
from kaito.ctrl.manager import (
    Manager,
    Runnable,
    run_until_stopped,
)
from kaito.ctrl.metrics import (
    REGISTRY,
    ControllerMetrics,
    WorkqueueMetrics,
    controller_metrics,
    workqueue_metrics,
)
from kaito.ctrl.predicates import (
    And,
    AnnotationChanged,
    Funcs,
    GenerationChanged,
    LabelChanged,
    Not,
    Or,
    Predicate,
    ResourceVersionChanged,
)
from kaito.ctrl.ratelimiter import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    default_controller_rate_limiter,
)
from kaito.ctrl.reconcile import (
    Reconciler,
    ReconcilerFunc,
    Request,
    Result,
)
from kaito.ctrl.reflector import (
    Reflector,
    ReflectorSink,
)
from kaito.ctrl.store import (
    BY_LABEL,
    BY_NAMESPACE,
    BY_OWNER_UID,
    IndexFunc,
    Store,
    index_by_label,
    index_by_namespace,
    index_by_owner_uid,
)
from kaito.ctrl.transport import (
    HttpRequest,
    HttpResponse,
    KubeTransport,
    MockResponse,
    MockStream,
    MockTransport,
    Transport,
    load_configuration,
)
from kaito.ctrl.workqueue import (
    ShutDown,
    WorkQueue,
)

__all__ = [
    "BY_LABEL",
    "BY_NAMESPACE",
    "BY_OWNER_UID",
    "CONTEXT_FIELDS",
    "EVENT",
    "GVK",
    "LEASE",
    "REGISTRY",
    "AlreadyExists",
    "And",
    "AnnotationChanged",
    "ApiError",
    "ApiResource",
    "Backoff",
    "BadRequest",
    "BucketRateLimiter",
    "BuilderError",
    "CacheSyncTimeout",
    "Check",
    "Client",
    "Clock",
    "ConfigError",
    "Conflict",
    "Controller",
    "ControllerBuilder",
    "ControllerMetrics",
    "CtrlError",
    "EnqueueRequestForObject",
    "EnqueueRequestForOwner",
    "EnqueueRequestsFromMapFunc",
    "EventHandler",
    "EventRecorder",
    "EventSource",
    "FakeClock",
    "Forbidden",
    "FrozenDict",
    "FrozenList",
    "Funcs",
    "GenerationChanged",
    "Gone",
    "HandlerFuncs",
    "HandlerRegistration",
    "HttpRequest",
    "HttpResponse",
    "IndexFunc",
    "Invalid",
    "ItemExponentialFailureRateLimiter",
    "JsonFormatter",
    "KindRef",
    "KubeTransport",
    "LabelChanged",
    "LeaderElectionConfig",
    "LeaderElectionLost",
    "LeaderElector",
    "Manager",
    "MapFunc",
    "MaxOfRateLimiter",
    "MethodNotAllowed",
    "MockResponse",
    "MockStream",
    "MockTransport",
    "Not",
    "NotFound",
    "ObjectList",
    "ObjectLogger",
    "Or",
    "PatchType",
    "Predicate",
    "ProbeServer",
    "RateLimiter",
    "Reconciler",
    "ReconcilerFunc",
    "Reflector",
    "ReflectorSink",
    "Request",
    "RequestHandler",
    "ResourceVersionChanged",
    "Result",
    "RetryPolicy",
    "Runnable",
    "ServerError",
    "SharedInformer",
    "SharedInformerFactory",
    "ShutDown",
    "Store",
    "SystemClock",
    "TerminalError",
    "Timer",
    "TooManyRequests",
    "Transform",
    "Transport",
    "TransportError",
    "Unauthorized",
    "UnknownKind",
    "WatchEvent",
    "WatchStream",
    "WorkQueue",
    "WorkqueueMetrics",
    "configure_logging",
    "controller_metrics",
    "default_controller_rate_limiter",
    "error_from_response",
    "freeze",
    "gvk_of",
    "index_by_label",
    "index_by_namespace",
    "index_by_owner_uid",
    "is_transient",
    "load_configuration",
    "object_key",
    "object_logger",
    "request_for",
    "run_until_stopped",
    "strip_managed_fields",
    "thaw",
    "to_dict",
    "workqueue_metrics",
]
