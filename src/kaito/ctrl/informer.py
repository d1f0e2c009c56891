"""Shared informers: one reflector, one cache and many event handlers per watched kind.

`SharedInformer` is the sink of a `Reflector`. It keeps a `Store` of frozen objects and turns what the
reflector reports into handler calls:

* a list (`replace`): keys already cached → `on_update(old, new)`, new keys → `on_add(obj, initial)`, and
  cached keys missing from the list → `on_delete(last_known)` (a tombstone: the delete happened while we
  were not watching). Keys present in both never produce a delete, so a relist causes no phantom deletes.
* a watch event: ADDED/MODIFIED → add or update depending on whether the key was cached; DELETED → delete.

Each registered handler gets its own unbounded buffer and task (`_Listener`): a slow handler delays only
itself, never the reflector or other handlers. A handler registered after the informer synced first gets
the whole store replayed as adds. Handlers may be plain or async functions; an exception in a handler is
logged and the handler keeps receiving events.

Objects handed out are frozen (`kaito.ctrl.frozen`); `transform` (default: drop metadata.managedFields,
about half an object's size) is applied before storing. Like controller-runtime's per-object transforms,
`add_transform(kind, fn)` adds one for a single kind (run after the default), so a controller can drop the
fields it never reads (a Deployment's pod template, say) before they cost memory for every cached object;
it must be added before the informer starts, or objects already cached would keep those fields.

`SharedInformerFactory` hands out one informer per (kind, namespace, label selector), shared by every
controller, and starts and syncs them together.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kaito.ctrl.client import GVK, Client, KindRef, gvk_of, object_key
from kaito.ctrl.clock import Clock, SystemClock
from kaito.ctrl.frozen import freeze
from kaito.ctrl.reflector import Reflector
from kaito.ctrl.store import IndexFunc, Store

__all__ = [
    "EventHandler",
    "HandlerFuncs",
    "HandlerRegistration",
    "SharedInformer",
    "SharedInformerFactory",
    "Transform",
    "chain_transforms",
    "intern_strings",
    "strip_managed_fields",
]

log = logging.getLogger("kaito.ctrl.informer")

Obj = Mapping[str, Any]
Transform = Callable[[Obj], Obj]
_MaybeAwaitable = Awaitable[None] | None


class EventHandler(Protocol):
    """Receives an informer's notifications; methods may be plain or async."""

    def on_add(self, obj: Any, is_in_initial_list: bool) -> _MaybeAwaitable: ...

    def on_update(self, old: Any, new: Any) -> _MaybeAwaitable: ...

    def on_delete(self, obj: Any) -> _MaybeAwaitable: ...


@dataclass(frozen=True)
class HandlerFuncs:
    """An EventHandler from optional functions; missing ones ignore the event."""

    add: Callable[[Any, bool], _MaybeAwaitable] | None = None
    update: Callable[[Any, Any], _MaybeAwaitable] | None = None
    delete: Callable[[Any], _MaybeAwaitable] | None = None

    def on_add(self, obj: Any, is_in_initial_list: bool) -> _MaybeAwaitable:
        return self.add(obj, is_in_initial_list) if self.add else None

    def on_update(self, old: Any, new: Any) -> _MaybeAwaitable:
        return self.update(old, new) if self.update else None

    def on_delete(self, obj: Any) -> _MaybeAwaitable:
        return self.delete(obj) if self.delete else None


def chain_transforms(first: Transform | None, then: Transform) -> Transform:
    """`then` applied to what `first` (None: nothing) returns."""
    if first is None:
        return then

    def chained(obj: Obj) -> Obj:
        return then(first(obj))

    return chained


def intern_strings(obj: Obj) -> Obj:
    """A copy of `obj` whose string values are interned (`sys.intern`), so a value repeated across cached
    objects (a label, a condition's reason, a timestamp, an image) is stored once instead of once per
    object. Interned strings are freed with their last reference, so unique values cost nothing extra
    for long. Opt-in, per kind (`add_transform`): it costs a walk over each object as it is cached."""
    return _interned(obj)  # type: ignore[no-any-return]


def _interned(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        return _intern(value)
    if kind is dict or isinstance(value, Mapping):
        return {key: _interned(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_interned(item) for item in value]
    return value


_intern = sys.intern


def strip_managed_fields(obj: Obj) -> Obj:
    """Drop metadata.managedFields (server-side-apply bookkeeping, rarely read, about half the bytes)."""
    meta = obj.get("metadata")
    if isinstance(meta, Mapping) and "managedFields" in meta:
        return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


_SYNCED = ("synced",)


class _Listener:
    """One handler's buffer and delivery task."""

    def __init__(self, handler: EventHandler, name: str) -> None:
        self.handler = handler
        self.name = name
        self.buffer: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.synced = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run(), name=f"listener {self.name}")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    async def _run(self) -> None:
        while True:
            note = await self.buffer.get()
            if note is _SYNCED:
                self.synced.set()
                continue
            try:
                if note[0] == "add":
                    result = self.handler.on_add(note[1], note[2])
                elif note[0] == "update":
                    result = self.handler.on_update(note[1], note[2])
                else:
                    result = self.handler.on_delete(note[1])
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                obj = note[2] if note[0] == "update" else note[1]
                log.exception(
                    "event handler of %s failed on %s", self.name, note[0], extra={"key": object_key(obj)}
                )


class HandlerRegistration:
    """What `add_event_handler` returns: whether the handler saw the initial list; `remove()`."""

    def __init__(self, informer: SharedInformer, listener: _Listener) -> None:
        self._informer = informer
        self._listener = listener

    @property
    def has_synced(self) -> bool:
        return self._listener.synced.is_set()

    async def wait_synced(self) -> None:
        await self._listener.synced.wait()

    async def remove(self) -> None:
        await self._informer._remove_listener(self._listener)


class SharedInformer:
    """A cache of one kind kept current by a reflector, fanning events out to handlers."""

    def __init__(
        self,
        client: Client,
        kind: KindRef,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        clock: Clock | None = None,
        resync_period: float | None = None,
        transform: Transform | None = strip_managed_fields,
        indexers: Mapping[str, IndexFunc] | None = None,
        inactivity_timeout: float | None = None,
        page_size: int = 500,
    ) -> None:
        self.gvk: GVK = gvk_of(kind)
        self.namespace = namespace
        self.clock: Clock = clock or SystemClock()
        self.store = Store(indexers)
        self.transform = transform
        self.resync_period = resync_period
        self.reflector = Reflector(
            client,
            self.gvk,
            self,
            namespace=namespace,
            label_selector=label_selector,
            clock=self.clock,
            inactivity_timeout=inactivity_timeout,
            page_size=page_size,
        )
        self._listeners: list[_Listener] = []
        self._synced = False
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.reflector.name

    @property
    def has_synced(self) -> bool:
        return self._synced

    # ---- handlers -----------------------------------------------------------------------------------

    def add_event_handler(self, handler: EventHandler) -> HandlerRegistration:
        """Register a handler; if the cache is already filled it is replayed to the handler as adds."""
        listener = _Listener(handler, self.name)
        self._listeners.append(listener)
        if self._synced:
            for obj in self.store.list():
                listener.buffer.put_nowait(("add", obj, True))
            listener.buffer.put_nowait(_SYNCED)
        if self._task is not None:
            listener.start()
        return HandlerRegistration(self, listener)

    async def _remove_listener(self, listener: _Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)
        await listener.stop()

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        self.store.add_indexer(name, fn)

    def add_transform(self, transform: Transform) -> None:
        """Run `transform` on each object before it is cached, after the transforms already set."""
        if self._task is not None or len(self.store):
            raise RuntimeError(
                f"informer {self.name} has started; add its transforms before it starts, or objects "
                "already cached would not be transformed"
            )
        self.transform = chain_transforms(self.transform, transform)

    def _notify(self, note: tuple[Any, ...]) -> None:
        for listener in self._listeners:
            listener.buffer.put_nowait(note)

    # ---- the reflector's sink -----------------------------------------------------------------------

    def _prepare(self, obj: Obj) -> Obj:
        return self.transform(obj) if self.transform else obj

    def replace(self, items: list[Mapping[str, Any]], resource_version: str) -> None:
        initial = not self._synced
        seen: set[str] = set()
        for item in items:
            obj = self._prepare(item)
            seen.add(object_key(obj))
            old, new = self.store.upsert(obj)
            self._notify(("update", old, new) if old is not None else ("add", new, initial))
        for key in [k for k in self.store.list_keys() if k not in seen]:
            gone = self.store.delete(key)
            if gone is not None:
                self._notify(("delete", gone))
        if initial:
            self._synced = True
            self._notify(_SYNCED)

    def apply(self, event_type: str, obj: Mapping[str, Any]) -> None:
        prepared = self._prepare(obj)
        if event_type == "DELETED":
            old = self.store.delete(object_key(prepared))
            self._notify(("delete", old if old is not None else freeze(prepared)))
            return
        old, new = self.store.upsert(prepared)
        self._notify(("update", old, new) if old is not None else ("add", new, False))

    # ---- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the reflector (and resync) in a task; idempotent."""
        if self._task is not None:
            return
        for listener in self._listeners:
            listener.start()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"informer {self.name}")

    async def _run(self) -> None:
        if self.resync_period:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.reflector.run())
                group.create_task(self._resync_loop(self.resync_period))
        else:
            await self.reflector.run()

    async def _resync_loop(self, period: float) -> None:
        while True:
            await self.clock.sleep(period)
            for obj in self.store.list():
                self._notify(("update", obj, obj))

    async def wait_for_sync(self) -> None:
        """Return once the first list is cached and delivered to the current handlers."""
        await self.reflector.synced.wait()
        for listener in list(self._listeners):
            await listener.synced.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for listener in self._listeners:
            await listener.stop()


class SharedInformerFactory:
    """One informer per (kind, namespace, label selector), shared by every controller of a manager."""

    def __init__(
        self,
        client: Client,
        *,
        clock: Clock | None = None,
        resync_period: float | None = None,
        namespace: str | None = None,
        transform: Transform | None = strip_managed_fields,
        inactivity_timeout: float | None = None,
    ) -> None:
        self.client = client
        self.clock: Clock = clock or SystemClock()
        self.resync_period = resync_period
        self.namespace = namespace
        self.transform = transform
        self.inactivity_timeout = inactivity_timeout
        self._informers: dict[tuple[GVK, str | None, str | None], SharedInformer] = {}
        self._kind_transforms: dict[GVK, Transform] = {}
        self._started = False

    @property
    def informers(self) -> list[SharedInformer]:
        return list(self._informers.values())

    def informer_for(
        self, kind: KindRef, *, namespace: str | None = None, label_selector: str | None = None
    ) -> SharedInformer:
        """The shared informer of `kind` (created on first request; started if the factory runs)."""
        ns = namespace if namespace is not None else self.namespace
        key = (gvk_of(kind), ns, label_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = SharedInformer(
                self.client,
                key[0],
                namespace=ns,
                label_selector=label_selector,
                clock=self.clock,
                resync_period=self.resync_period,
                transform=self.transform,
                inactivity_timeout=self.inactivity_timeout,
            )
            kind_transform = self._kind_transforms.get(key[0])
            if kind_transform is not None:
                informer.add_transform(kind_transform)
            self._informers[key] = informer
            if self._started:
                informer.start()
        return informer

    def add_transform(self, kind: KindRef, transform: Transform) -> None:
        """Run `transform` on each object of `kind` before it is cached, after the factory's own transform,
        in every informer of the kind, present and future. Add it before the informers start."""
        gvk = gvk_of(kind)
        for (informer_gvk, _, _), informer in self._informers.items():
            if informer_gvk == gvk:
                informer.add_transform(transform)
        self._kind_transforms[gvk] = chain_transforms(self._kind_transforms.get(gvk), transform)

    def start(self) -> None:
        """Start every informer (and any requested later)."""
        self._started = True
        for informer in self._informers.values():
            informer.start()

    async def wait_for_cache_sync(self) -> None:
        """Return once every informer has synced (wrap in `asyncio.timeout` to bound the wait)."""
        await asyncio.gather(*(i.wait_for_sync() for i in self._informers.values()))

    @property
    def has_synced(self) -> bool:
        return all(i.has_synced for i in self._informers.values())

    async def stop(self) -> None:
        self._started = False
        for informer in self._informers.values():
            await informer.stop()
