"""The package exports what a controller author needs, each name once, and nothing drifts in silently."""

from __future__ import annotations

import importlib
import pkgutil

import kaito.ctrl

# The public surface. Adding or removing a name is an API change: update this list on purpose.
EXPECTED = [
    "AlreadyExists",
    "And",
    "AnnotationChanged",
    "ApiError",
    "BY_LABEL",
    "BY_NAMESPACE",
    "BY_OWNER_UID",
    "BadRequest",
    "BuilderError",
    "CacheSyncTimeout",
    "CachedClient",
    "Client",
    "Clock",
    "ConfigError",
    "Conflict",
    "Controller",
    "ControllerBuilder",
    "CtrlError",
    "EnqueueRequestForObject",
    "EnqueueRequestForOwner",
    "EnqueueRequestsFromMapFunc",
    "EventRecorder",
    "Forbidden",
    "FrozenDict",
    "FrozenList",
    "Funcs",
    "GVK",
    "GenerationChanged",
    "Gone",
    "HttpRequest",
    "HttpResponse",
    "Invalid",
    "KindRef",
    "KubeTransport",
    "LabelChanged",
    "LeaderElectionConfig",
    "LeaderElectionLost",
    "Manager",
    "MapFunc",
    "MethodNotAllowed",
    "Not",
    "NotFound",
    "ObjectList",
    "Or",
    "ParseErrorHandler",
    "PatchType",
    "Predicate",
    "Reconciler",
    "ReconcilerFunc",
    "Request",
    "RequestHandler",
    "ResourceVersionChanged",
    "Result",
    "RetryPolicy",
    "Runnable",
    "ServerError",
    "Store",
    "SystemClock",
    "TerminalError",
    "TooManyRequests",
    "Transport",
    "TransportError",
    "TypedReconciler",
    "Unauthorized",
    "UnknownKind",
    "WatchEvent",
    "configure_logging",
    "freeze",
    "gvk_of",
    "object_key",
    "request_for",
    "run_until_stopped",
    "thaw",
    "to_dict",
]


def test_the_public_names_are_exactly_the_expected_ones() -> None:
    assert kaito.ctrl.__all__ == sorted(EXPECTED)
    assert len(kaito.ctrl.__all__) <= 75  # it was 117, test doubles and machinery included


def test_each_public_name_comes_from_exactly_one_public_module() -> None:
    seen: dict[str, str] = {}
    for module in kaito.ctrl.PUBLIC_MODULES:
        for name in module.__all__:
            assert name not in seen, f"{name} is exported by both {seen[name]} and {module.__name__}"
            seen[name] = module.__name__
            assert getattr(kaito.ctrl, name) is getattr(module, name)
    assert set(seen) == set(kaito.ctrl.__all__)


def test_test_doubles_and_machinery_stay_out_of_the_package_namespace() -> None:
    for name in ("FakeClock", "MockTransport", "MockResponse", "MockStream", "WorkQueue", "Reflector"):
        assert name not in kaito.ctrl.__all__
    for info in pkgutil.iter_modules(kaito.ctrl.__path__):
        module = importlib.import_module(f"kaito.ctrl.{info.name}")
        for name in module.__all__:
            assert hasattr(module, name), f"kaito.ctrl.{info.name}.__all__ lists {name}, which it lacks"
