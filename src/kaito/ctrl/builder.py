"""Builder-style wiring of a controller into a manager (controller-runtime's `builder`).

    ControllerBuilder(manager)
        .for_(("apps/v1", "Deployment"))                 # the primary kind: enqueue the object itself
                                                         # (a pydantic model class: typed primaries)
        .owns(("v1", "Pod"))                             # enqueue the controller owner of these
        .watches(("v1", "ConfigMap"), map_fn)            # enqueue what map_fn(obj) returns
        .with_predicates(GenerationChanged())            # applied to every watch
        .with_options(max_concurrent_reconciles=4)
        .complete(reconciler)                            # -> Controller, added to the manager

Mistakes fail in `complete()` with a sentence saying what to add, before anything runs:
"owns() needs for_()", a second for_(), a controller with nothing to watch, a duplicate name.

`for_(Model)` with a pydantic model class makes the controller typed: `complete()` then takes a
`TypedReconciler` (`reconcile(request, obj: Model | None)`), fed by `TypedPrimary` from the cache
(see `kaito.ctrl.typed_reconciler`); `on_parse_error` replaces the default report of an object that
does not parse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel

from kaito.ctrl.client import KindRef, gvk_of
from kaito.ctrl.controller import DEFAULT_MAX_CONCURRENT_RECONCILES, Controller
from kaito.ctrl.handlers import (
    EnqueueRequestForObject,
    EnqueueRequestForOwner,
    EnqueueRequestsFromMapFunc,
    RequestHandler,
)
from kaito.ctrl.manager import Manager
from kaito.ctrl.predicates import Predicate
from kaito.ctrl.ratelimiter import RateLimiter
from kaito.ctrl.reconcile import Reconciler, Request
from kaito.ctrl.typed_reconciler import ParseErrorHandler, TypedPrimary, TypedReconciler

__all__ = ["BuilderError", "ControllerBuilder"]


class BuilderError(ValueError):
    """The controller's wiring is incomplete or contradictory."""


@dataclass
class _Watch:
    kind: KindRef
    handler: RequestHandler | None  # None for owns(): the owner kind is known only in complete()
    predicates: tuple[Predicate, ...]
    namespace: str | None = None
    only_controller: bool = True


@dataclass
class _Options:
    max_concurrent_reconciles: int = DEFAULT_MAX_CONCURRENT_RECONCILES
    rate_limiter: RateLimiter | None = None
    need_leader_election: bool = True
    cache_sync_timeout: float | None = None


class ControllerBuilder:
    """Collects watches and options, then builds a Controller registered with the manager."""

    def __init__(self, manager: Manager) -> None:
        self._manager = manager
        self._name: str | None = None
        self._for: _Watch | None = None
        self._for_calls = 0
        self._owns: list[_Watch] = []
        self._watches: list[_Watch] = []
        self._predicates: list[Predicate] = []
        self._options = _Options()
        self._on_parse_error: ParseErrorHandler | None = None

    def named(self, name: str) -> ControllerBuilder:
        """The controller's name (metrics label, log field); default: the for_() kind, lowercased."""
        self._name = name
        return self

    def for_(
        self,
        kind: KindRef,
        *predicates: Predicate,
        namespace: str | None = None,
        on_parse_error: ParseErrorHandler | None = None,
    ) -> ControllerBuilder:
        """The primary kind: each of its objects is reconciled (typed when `kind` is a model class)."""
        self._for_calls += 1
        self._on_parse_error = on_parse_error
        self._for = _Watch(kind, EnqueueRequestForObject(), predicates, namespace)
        return self

    def owns(
        self,
        kind: KindRef,
        *predicates: Predicate,
        only_controller: bool = True,
        namespace: str | None = None,
    ) -> ControllerBuilder:
        """Objects of `kind` owned by the primary kind enqueue their owner."""
        self._owns.append(_Watch(kind, None, predicates, namespace, only_controller))
        return self

    def watches(
        self,
        kind: KindRef,
        map_fn: Callable[[Any], Iterable[Request]] | RequestHandler,
        *predicates: Predicate,
        namespace: str | None = None,
    ) -> ControllerBuilder:
        """Objects of `kind` enqueue what `map_fn(obj)` returns (or what a RequestHandler maps)."""
        handler = (
            cast(RequestHandler, map_fn) if hasattr(map_fn, "create") else EnqueueRequestsFromMapFunc(map_fn)
        )
        self._watches.append(_Watch(kind, handler, predicates, namespace))
        return self

    def with_predicates(self, *predicates: Predicate) -> ControllerBuilder:
        """Predicates applied to every watch of this controller."""
        self._predicates.extend(predicates)
        return self

    def with_options(
        self,
        *,
        max_concurrent_reconciles: int | None = None,
        rate_limiter: RateLimiter | None = None,
        need_leader_election: bool | None = None,
        cache_sync_timeout: float | None = None,
    ) -> ControllerBuilder:
        if max_concurrent_reconciles is not None:
            self._options.max_concurrent_reconciles = max_concurrent_reconciles
        if rate_limiter is not None:
            self._options.rate_limiter = rate_limiter
        if need_leader_election is not None:
            self._options.need_leader_election = need_leader_election
        if cache_sync_timeout is not None:
            self._options.cache_sync_timeout = cache_sync_timeout
        return self

    def _validate(self) -> str:
        if self._for_calls > 1:
            raise BuilderError("for_() was called twice; a controller has exactly one primary kind")
        if self._owns and self._for is None:
            raise BuilderError("owns() needs for_(): declare the primary (owner) kind with for_(kind) first")
        if self._for is None and not self._watches:
            raise BuilderError("the controller watches nothing: call for_(kind) or watches(kind, map_fn)")
        name = self._name or (gvk_of(self._for.kind).kind.lower() if self._for else "")
        if not name:
            raise BuilderError("a controller without for_() needs a name: call named('my-controller')")
        if name in self._manager.controller_names:
            raise BuilderError(f"a controller named {name!r} is already registered; names must be unique")
        if self._options.max_concurrent_reconciles < 1:
            raise BuilderError(
                f"max_concurrent_reconciles must be at least 1, got {self._options.max_concurrent_reconciles}"
            )
        return name

    def complete(self, reconciler: Reconciler | TypedReconciler[Any]) -> Controller:
        """Build the controller, register its watches on shared informers, and add it to the manager."""
        name = self._validate()
        manager = self._manager
        primary = self._for
        if primary is not None and isinstance(primary.kind, type) and issubclass(primary.kind, BaseModel):
            store = manager.informers.informer_for(primary.kind, namespace=primary.namespace).store
            reconciler = TypedPrimary(
                primary.kind,
                cast("TypedReconciler[Any]", reconciler),
                store,
                recorder=manager.event_recorder(name),
                on_parse_error=self._on_parse_error,
            )
        controller = Controller(
            name,
            cast(Reconciler, reconciler),
            max_concurrent_reconciles=self._options.max_concurrent_reconciles,
            rate_limiter=self._options.rate_limiter,
            clock=manager.clock,
            registry=manager.registry,
            cache_sync_timeout=self._options.cache_sync_timeout or manager.cache_sync_timeout,
            need_leader_election=self._options.need_leader_election,
        )
        watches = [self._for] if self._for else []
        for owned in self._owns:
            assert self._for is not None
            owned.handler = EnqueueRequestForOwner(self._for.kind, only_controller=owned.only_controller)
            watches.append(owned)
        watches.extend(self._watches)
        for watch in watches:
            informer = manager.informers.informer_for(watch.kind, namespace=watch.namespace)
            assert watch.handler is not None
            controller.watch(informer, watch.handler, (*self._predicates, *watch.predicates))
        manager.controller_names.add(name)
        manager.add(controller)
        return controller
