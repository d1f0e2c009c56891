"""Fixtures for kaito.ctrl unit tests: a fake clock, a private metrics registry and `FakeApi`.

`FakeApi` is a small in-memory API server written as a plain function for `MockTransport`: discovery,
get/list (paginated)/create/update (resourceVersion conflicts)/merge patch/delete, and watches whose
streams the test can end (`drop_watches`) or expire (`compact`). `fail_next` queues failure answers.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from kaito.ctrl.client import Client, RetryPolicy
from kaito.ctrl.testing import FakeClock, MockResponse, MockStream, MockTransport
from kaito.ctrl.transport import HttpRequest

RESOURCES = {
    "v1": [("configmaps", "ConfigMap", True), ("events", "Event", True), ("namespaces", "Namespace", False)],
    "apps/v1": [("deployments", "Deployment", True)],
    "coordination.k8s.io/v1": [("leases", "Lease", True)],
}


def status(code: int, reason: str, message: str) -> MockResponse:
    return MockResponse(
        code,
        json={
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": reason,
            "message": message,
            "code": code,
        },
    )


class FakeApi:
    """An in-memory API server as a MockTransport handler."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (plural, ns, name)
        self.rv = 100
        self.history: list[tuple[int, str, str, dict[str, Any]]] = []  # (rv, plural, type, obj)
        self.compacted = 0
        self.watches: list[tuple[str, str | None, MockStream]] = []
        self.failures: list[MockResponse] = []
        self.extra_resources: dict[str, list[tuple[str, str, bool]]] = {}
        self.transport = MockTransport(self.handle)

    # -- test knobs --
    def fail_next(self, *responses: MockResponse) -> None:
        self.failures.extend(responses)

    def drop_watches(self) -> None:
        for _, _, stream in self.watches:
            stream.end()
        self.watches.clear()

    def compact(self) -> None:
        self.compacted = self.rv

    def count(self, method: str, *, watch: bool | None = None, path_part: str = "") -> int:
        return sum(
            1
            for r in self.transport.requests
            if r.method == method
            and path_part in r.path
            and (watch is None or (r.param("watch") == "1") == watch)
        )

    # -- server-side helpers usable directly by tests --
    def put(self, plural: str, obj: dict[str, Any], event: str | None = None) -> dict[str, Any]:
        self.rv += 1
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(self.rv)
        meta.setdefault("uid", f"uid-{meta['name']}")
        meta.setdefault("generation", 1)
        key = (plural, meta.get("namespace", ""), meta["name"])
        kind = event or ("MODIFIED" if key in self.objects else "ADDED")
        self.objects[key] = obj
        self._emit(plural, kind, obj)
        return obj

    def remove(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        obj = self.objects.pop((plural, namespace, name))
        self.rv += 1
        obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.rv)}}
        self._emit(plural, "DELETED", obj)
        return obj

    def _emit(self, plural: str, kind: str, obj: dict[str, Any]) -> None:
        self.history.append((self.rv, plural, kind, copy.deepcopy(obj)))
        for w_plural, w_ns, stream in self.watches:
            if w_plural == plural and (w_ns is None or w_ns == obj["metadata"].get("namespace")):
                stream.send(kind, obj)

    # -- the handler --
    def handle(self, request: HttpRequest) -> MockResponse:
        if self.failures:
            return self.failures.pop(0)
        parts = request.path.strip("/").split("/")
        if parts[0] == "api":
            gv, rest = parts[1], parts[2:]
        else:
            gv, rest = "/".join(parts[1:3]), parts[3:]
        if not rest:
            resources = RESOURCES.get(gv, []) + self.extra_resources.get(gv, [])
            if not resources:
                return status(404, "NotFound", "the server could not find the requested resource")
            return MockResponse(
                json={
                    "kind": "APIResourceList",
                    "groupVersion": gv,
                    "resources": [{"name": p, "kind": k, "namespaced": n} for p, k, n in resources]
                    + [{"name": f"{p}/status", "kind": k, "namespaced": n} for p, k, n in resources],
                }
            )
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) > 2:
            namespace, rest = rest[1], rest[2:]
        plural, name = rest[0], (rest[1] if len(rest) > 1 else None)
        if request.method == "GET" and name is None:
            return self._list(plural, namespace, request)
        key = (plural, namespace or "", name or "")
        if request.method == "GET":
            if key not in self.objects:
                return status(404, "NotFound", f'{plural} "{name}" not found')
            return MockResponse(json=self.objects[key])
        if request.method == "POST":
            body = copy.deepcopy(request.body)
            body["metadata"].setdefault("namespace", namespace)
            if namespace is None:
                body["metadata"].pop("namespace")
            key = (plural, namespace or "", body["metadata"]["name"])
            if key in self.objects:
                return status(409, "AlreadyExists", f'{plural} "{key[2]}" already exists')
            return MockResponse(201, json=self.put(plural, body))
        if key not in self.objects:
            return status(404, "NotFound", f'{plural} "{name}" not found')
        current = self.objects[key]
        if request.method == "PUT":
            body = copy.deepcopy(request.body)
            sent_rv = body["metadata"].get("resourceVersion")
            if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                return status(409, "Conflict", f'Operation cannot be fulfilled on {plural} "{name}"')
            return MockResponse(json=self.put(plural, body))
        if request.method == "PATCH":
            merged = _merge(copy.deepcopy(current), request.body)
            return MockResponse(json=self.put(plural, merged))
        if request.method == "DELETE":
            return MockResponse(json=self.remove(plural, namespace or "", name or ""))
        return status(405, "MethodNotAllowed", request.method)

    def _list(self, plural: str, namespace: str | None, request: HttpRequest) -> MockResponse:
        if request.param("watch") == "1":
            since = int(request.param("resourceVersion") or 0)
            if since and since < self.compacted:
                return status(410, "Expired", f"too old resource version: {since} ({self.compacted})")
            stream = MockStream()
            for rv, p, kind, obj in self.history:
                if (
                    rv > since
                    and p == plural
                    and (namespace is None or obj["metadata"].get("namespace") == namespace)
                ):
                    stream.send(kind, obj)
            self.watches.append((plural, namespace, stream))
            return MockResponse(stream=stream)
        items = sorted(
            (
                o
                for (p, ns, _), o in self.objects.items()
                if p == plural and (namespace is None or ns == namespace)
            ),
            key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]),
        )
        start = int(request.param("continue") or 0)
        limit = int(request.param("limit") or 0) or len(items) or 1
        page = items[start : start + limit]
        more = start + limit < len(items)
        meta = {"resourceVersion": str(self.rv), **({"continue": str(start + limit)} if more else {})}
        return MockResponse(json={"kind": "List", "apiVersion": "v1", "metadata": meta, "items": page})


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = _merge(target.get(key), value)
    return target


def configmap(name: str, namespace: str = "default", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def client(fake_api: FakeApi, clock: FakeClock) -> Iterator[Client]:
    yield Client(fake_api.transport, clock=clock, retry=RetryPolicy(attempts=3, initial=0.01, max_wait=0.05))


@pytest.fixture
def make_configmap() -> Any:
    return configmap
