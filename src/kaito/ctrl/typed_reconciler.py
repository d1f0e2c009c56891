"""Typed primaries: `ControllerBuilder(manager).for_(Model)` hands the reconciler the parsed object.

    class WorkspaceReconciler:
        async def reconcile(self, request: Request, workspace: Workspace | None) -> Result: ...

`Model` is any pydantic model whose `apiVersion`/`kind` fields carry defaults (kaito.api's Workspace and
Machine, or a user's model). Before each reconcile, `TypedPrimary` reads the object from the primary
informer's cache (no request) and parses it: the reconciler gets the model, or None when the object is
gone (deleted, or not yet seen). GVK-based `for_(("v1", "ConfigMap"))` keeps the plain `Reconciler`.

A stored object that does not parse (an old version, a hand edit past validation) must not crash the
controller nor spin: the failure goes to `on_parse_error(raw, error)` — by default a log line and a
Warning Event `InvalidObject` on the object naming the fields — and the request ends with `Result()`,
not requeued. The next change of the object enqueues it again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from kaito.ctrl.events import EventRecorder
from kaito.ctrl.frozen import thaw
from kaito.ctrl.reconcile import Request, Result
from kaito.ctrl.store import Store

__all__ = ["ParseErrorHandler", "TypedReconciler"]

log = logging.getLogger("kaito.ctrl.typed_reconciler")

M = TypeVar("M", bound=BaseModel)
M_contra = TypeVar("M_contra", bound=BaseModel, contravariant=True)

ParseErrorHandler = Callable[[Mapping[str, Any], ValidationError], Awaitable[None]]
"""Called with the cached (frozen) object and pydantic's error when a primary object does not parse."""


class TypedReconciler(Protocol[M_contra]):
    """Drives one object; gets the parsed primary, or None when it is gone."""

    async def reconcile(self, request: Request, obj: M_contra | None) -> Result: ...


def _describe_parse_error(error: ValidationError) -> str:
    """`spec.count: Input should be a valid integer; ...`: pydantic's errors, one per field."""
    parts = []
    for detail in error.errors():
        where = ".".join(str(part) for part in detail["loc"]) or "(object)"
        parts.append(f"{where}: {detail['msg']}")
    return "; ".join(parts)


class TypedPrimary(Generic[M]):
    """A plain `Reconciler` that reads and parses the primary object, then calls a `TypedReconciler`."""

    def __init__(
        self,
        model: type[M],
        reconciler: TypedReconciler[M],
        store: Store,
        *,
        recorder: EventRecorder | None = None,
        on_parse_error: ParseErrorHandler | None = None,
    ) -> None:
        self.model = model
        self.reconciler = reconciler
        self.store = store
        self.recorder = recorder
        self.on_parse_error = on_parse_error or self._report

    async def reconcile(self, request: Request) -> Result:
        raw = self.store.get_object(request.name, request.namespace or None)
        if raw is None:
            return await self.reconciler.reconcile(request, None)
        try:
            obj = self.model.model_validate(thaw(raw))
        except ValidationError as error:
            await self.on_parse_error(raw, error)
            return Result()  # not requeued: only a change of the object can make it parse
        return await self.reconciler.reconcile(request, obj)

    async def _report(self, raw: Mapping[str, Any], error: ValidationError) -> None:
        message = (
            f"{self.model.__name__} {raw.get('metadata', {}).get('name')!r} does not parse and is not "
            f"reconciled until it changes: {_describe_parse_error(error)}"
        )
        log.error("%s", message)
        if self.recorder is not None:
            await self.recorder.warning(raw, "InvalidObject", message)
