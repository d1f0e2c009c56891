"""The reconcile contract: a `Reconciler` turns a `Request` (which object) into a `Result` (when again).

Reconcilers are level-triggered: the request names an object, never an event, and the reconciler reads the
current state itself. Return `Result()` when done, `Result(requeue_after=s)` to look again later (the
failure history is forgotten), `Result(requeue=True)` to retry with rate-limited backoff; raise to retry
with backoff, or raise `TerminalError` for failures that retrying cannot fix.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Reconciler", "ReconcilerFunc", "Request", "Result"]


@dataclass(frozen=True, order=True)
class Request:
    """Which object to reconcile: namespace ("" for cluster-scoped kinds) and name."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class Result:
    """What the controller does after a successful reconcile."""

    requeue: bool = False
    requeue_after: float | None = None

    def __post_init__(self) -> None:
        if self.requeue_after is not None and self.requeue_after < 0:
            raise ValueError(f"requeue_after must be >= 0 seconds, got {self.requeue_after}")


class Reconciler(Protocol):
    """Drives one object towards its desired state."""

    async def reconcile(self, request: Request) -> Result: ...


ReconcileFn = Callable[[Request], Awaitable[Result]]


class ReconcilerFunc:
    """A Reconciler from a plain async function."""

    def __init__(self, fn: ReconcileFn) -> None:
        self._fn = fn

    async def reconcile(self, request: Request) -> Result:
        return await self._fn(request)
