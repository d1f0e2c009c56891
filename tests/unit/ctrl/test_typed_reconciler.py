"""TypedPrimary hands the reconciler the parsed object or None; a bad one is reported, not retried."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kaito.ctrl.reconcile import Request, Result
from kaito.ctrl.store import Store
from kaito.ctrl.typed_reconciler import TypedPrimary


class Counter(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    api_version: str = Field("v1", alias="apiVersion")
    kind: str = "ConfigMap"
    metadata: dict[str, Any]
    data: dict[str, int] = {}


class Recording:
    def __init__(self) -> None:
        self.calls: list[tuple[Request, Counter | None]] = []

    async def reconcile(self, request: Request, obj: Counter | None) -> Result:
        self.calls.append((request, obj))
        return Result(requeue_after=5)


def stored(name: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "ns"},
        "data": data,
    }


async def test_the_reconciler_gets_the_parsed_object_or_none() -> None:
    store = Store()
    store.upsert(stored("a", n="3"))
    inner = Recording()
    typed = TypedPrimary(Counter, inner, store)
    assert await typed.reconcile(Request("ns", "a")) == Result(requeue_after=5)
    assert await typed.reconcile(Request("ns", "gone")) == Result(requeue_after=5)
    (_, first), (_, second) = inner.calls
    assert first is not None and first.data == {"n": 3}
    assert second is None


async def test_an_object_that_does_not_parse_is_reported_and_not_requeued() -> None:
    store = Store()
    store.upsert(stored("bad", n="three"))
    reported: list[tuple[str, str]] = []

    async def on_error(raw: Mapping[str, Any], error: ValidationError) -> None:
        reported.append((raw["metadata"]["name"], str(error.errors()[0]["loc"])))

    inner = Recording()
    typed = TypedPrimary(Counter, inner, store, on_parse_error=on_error)
    assert await typed.reconcile(Request("ns", "bad")) == Result()  # no requeue: no hot loop
    assert inner.calls == []
    assert reported == [("bad", "('data', 'n')")]
