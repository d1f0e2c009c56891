"""Client: discovery, URL building, dicts and pydantic models, error mapping and transient retries."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from kaito.ctrl.client import (
    DEFAULT_REQUEST_TIMEOUT_S,
    GVK,
    Client,
    PatchType,
    RetryPolicy,
    gvk_of,
    object_key,
)
from kaito.ctrl.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    ServerError,
    TransportError,
    UnknownKind,
)
from kaito.ctrl.testing import FakeClock, MockResponse, MockTransport
from kaito.ctrl.transport import HttpRequest

CM = GVK("v1", "ConfigMap")


class InstantClock(FakeClock):
    """Sleeps return at once but move time and are recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._t += seconds


class ConfigMapModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    api_version: str = Field("v1", alias="apiVersion")
    kind: str = "ConfigMap"
    metadata: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, str] | None = None


def status(code: int, reason: str, headers: dict[str, str] | None = None) -> MockResponse:
    return MockResponse(
        code, json={"kind": "Status", "code": code, "reason": reason, "message": reason}, headers=headers
    )


async def test_crud_with_dicts(client: Client, fake_api: Any, make_configmap: Any) -> None:
    created = await client.create(make_configmap("a", x="1"))
    assert created["metadata"]["resourceVersion"]
    got = await client.get(CM, "a", "default")
    assert got["data"] == {"x": "1"}
    got["data"]["x"] = "2"
    updated = await client.update(got)
    assert updated["data"] == {"x": "2"}
    patched = await client.patch(CM, "a", {"data": {"y": "3"}}, namespace="default")
    assert patched["data"] == {"x": "2", "y": "3"}
    page = await client.list(CM, "default")
    assert [i["metadata"]["name"] for i in page.items] == ["a"]
    assert page.items[0]["kind"] == "ConfigMap", "list items carry apiVersion/kind"
    await client.delete(CM, "a", "default", propagation_policy="Foreground")
    with pytest.raises(NotFound):
        await client.get(CM, "a", "default")
    delete = fake_api.transport.requests[-2]
    assert delete.method == "DELETE" and delete.body["propagationPolicy"] == "Foreground"


async def test_crud_with_models(client: Client) -> None:
    model = ConfigMapModel(metadata={"name": "m", "namespace": "default"}, data={"k": "v"})
    created = await client.create(model)
    assert isinstance(created, ConfigMapModel) and created.metadata["resourceVersion"]
    got = await client.get(ConfigMapModel, "m", "default")
    assert got.data == {"k": "v"}
    page = await client.list(ConfigMapModel)
    assert isinstance(page.items[0], ConfigMapModel)
    got.data = {"k": "w"}
    assert (await client.update(got)).data == {"k": "w"}


async def test_stale_update_conflicts_and_duplicate_create_already_exists(
    client: Client, make_configmap: Any
) -> None:
    first = await client.create(make_configmap("a"))
    await client.update(first)
    with pytest.raises(Conflict):
        await client.update(first)
    with pytest.raises(AlreadyExists):
        await client.create(make_configmap("a"))


@pytest.mark.parametrize(
    ("call", "method", "path", "query", "content_type"),
    [
        (lambda c: c.get(CM, "a"), "GET", "/api/v1/namespaces/default/configmaps/a", {}, None),
        (lambda c: c.get(("v1", "Namespace"), "ns1", "ignored"), "GET", "/api/v1/namespaces/ns1", {}, None),
        (
            lambda c: c.list(("apps/v1", "Deployment"), label_selector="app=x", limit=5),
            "GET",
            "/apis/apps/v1/deployments",
            {"labelSelector": "app=x", "limit": "5"},
            None,
        ),
        (
            lambda c: c.patch(
                CM, "a", [{"op": "add", "path": "/data/x", "value": "1"}], patch_type=PatchType.JSON
            ),
            "PATCH",
            "/api/v1/namespaces/default/configmaps/a",
            {"fieldManager": "test"},
            "application/json-patch+json",
        ),
        (
            lambda c: c.patch(CM, "a", {"data": {}}, namespace="ns", patch_type=PatchType.STRATEGIC),
            "PATCH",
            "/api/v1/namespaces/ns/configmaps/a",
            {"fieldManager": "test"},
            "application/strategic-merge-patch+json",
        ),
        (
            lambda c: c.apply(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns"}}
            ),
            "PATCH",
            "/api/v1/namespaces/ns/configmaps/a",
            {"fieldManager": "test", "force": "true"},
            "application/apply-patch+yaml",
        ),
        (
            lambda c: c.update_status(
                {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}
            ),
            "PUT",
            "/apis/apps/v1/namespaces/default/deployments/d/status",
            {"fieldManager": "test"},
            None,
        ),
        (
            lambda c: c.create(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}, dry_run=True
            ),
            "POST",
            "/api/v1/namespaces/default/configmaps",
            {"fieldManager": "test", "dryRun": "All"},
            None,
        ),
    ],
)
async def test_requests_are_built_like_kubectl(
    call: Any, method: str, path: str, query: dict[str, str], content_type: str | None, fake_api: Any
) -> None:
    seen: list[HttpRequest] = []

    def handler(request: HttpRequest) -> MockResponse:
        if request.path in ("/api/v1", "/apis/apps/v1"):
            return fake_api.handle(request)
        seen.append(request)
        return MockResponse(json={"metadata": {}, "items": []})

    client = Client(MockTransport(handler), field_manager="test")
    await call(client)
    (request,) = seen
    assert (request.method, request.path, dict(request.query)) == (method, path, query)
    if content_type:
        assert request.headers["Content-Type"] == content_type


async def test_discovery_is_cached_and_refreshed_on_a_miss(client: Client, fake_api: Any) -> None:
    crd = GVK("example.com/v1", "Widget")
    with pytest.raises(UnknownKind, match=r"no kind 'Widget' in apiVersion 'example\.com/v1'"):
        await client.resource_for(crd)
    fake_api.extra_resources["example.com/v1"] = [("widgets", "Widget", True)]
    resource = await client.resource_for(crd)
    assert (resource.plural, resource.namespaced) == ("widgets", True)
    before = fake_api.count("GET", path_part="/api/v1")
    for _ in range(3):
        await client.resource_for(CM)
    assert fake_api.count("GET", path_part="/api/v1") - before <= 1
    assert (await client.resource_for(("apps/v1", "Deployment"))).subresources == frozenset({"status"})


@pytest.mark.parametrize(
    ("failures", "outcome", "sends"),
    [
        ([status(500, "InternalError")], None, 2),
        ([status(503, "ServiceUnavailable"), status(502, "BadGateway")], None, 3),
        ([status(500, "InternalError")] * 3, ServerError, 3),
        ([status(429, "TooManyRequests", {"Retry-After": "7"})], None, 2),
        ([status(404, "NotFound")], NotFound, 1),
        ([status(403, "Forbidden")], Forbidden, 1),
        ([status(422, "Invalid")], Invalid, 1),
        ([status(410, "Expired")], Gone, 1),
        ([status(409, "Conflict")], Conflict, 1),
    ],
)
async def test_only_transient_failures_are_retried(
    fake_api: Any, make_configmap: Any, failures: list[MockResponse], outcome: type | None, sends: int
) -> None:
    clock = InstantClock()
    client = Client(fake_api.transport, clock=clock, retry=RetryPolicy(attempts=3, initial=0.1, max_wait=1))
    await client.resource_for(CM)
    fake_api.put("configmaps", make_configmap("a"))
    before = len(fake_api.transport.requests)
    fake_api.fail_next(*failures)
    if outcome is None:
        assert (await client.get(CM, "a"))["metadata"]["name"] == "a"
    else:
        with pytest.raises(outcome):
            await client.get(CM, "a")
    assert len(fake_api.transport.requests) - before == sends
    if failures[0].status == 429:
        assert clock.slept == [7.0], "Retry-After is honoured"
    elif sends > 1:
        assert all(0 < s <= 1.0 for s in clock.slept)


async def test_retry_after_is_capped_and_connection_errors_retried(fake_api: Any) -> None:
    calls = 0

    def flaky(request: HttpRequest) -> MockResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise TransportError("connection reset")
        if calls == 2:
            return status(429, "TooManyRequests", {"Retry-After": "3600"})
        return fake_api.handle(request)

    clock = InstantClock()
    client = Client(MockTransport(flaky), clock=clock, retry=RetryPolicy(max_retry_after=60))
    await client.resource_for(CM)
    assert clock.slept[1] == 60


async def test_watch_streams_events_and_raises_on_error_events(
    client: Client, fake_api: Any, make_configmap: Any
) -> None:
    fake_api.put("configmaps", make_configmap("a"))
    stream = await client.watch(CM, "default", resource_version="0", timeout_seconds=300)
    request = fake_api.transport.requests[-1]
    assert dict(request.query) == {
        "watch": "1",
        "resourceVersion": "0",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "300",
    }
    (_, _, server_stream) = fake_api.watches[-1]
    server_stream.send(
        "BOOKMARK", {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": "500"}}
    )
    server_stream.send("ERROR", {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"})
    seen = []
    with pytest.raises(Gone, match="too old"):
        async for event in stream:
            seen.append((event.type, event.object["metadata"].get("name")))
    assert seen == [("ADDED", "a"), ("BOOKMARK", None)]


@pytest.mark.parametrize(
    ("options", "expected"),
    [({}, DEFAULT_REQUEST_TIMEOUT_S), ({"request_timeout": 2.5}, 2.5), ({"request_timeout": None}, None)],
)
async def test_ordinary_requests_carry_a_deadline_and_watches_their_own(
    options: dict[str, Any], expected: float | None, fake_api: Any, make_configmap: Any
) -> None:
    client = Client(fake_api.transport, **options)
    await client.create(make_configmap("a"))
    await client.get(CM, "a", "default")
    await client.patch(CM, "a", {"data": {"k": "v"}}, namespace="default")
    await client.watch(CM, "default", resource_version="0", timeout_seconds=300)
    await client.watch(CM, "default", resource_version="0")
    *ordinary, bounded_watch, open_watch = fake_api.transport.requests
    assert DEFAULT_REQUEST_TIMEOUT_S == 60.0
    assert [r.timeout for r in ordinary] == [expected] * len(ordinary)
    assert (bounded_watch.timeout, open_watch.timeout) == (330.0, None)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_a_request_timeout_that_is_not_positive_is_refused(bad: float, fake_api: Any) -> None:
    with pytest.raises(ValueError, match="request_timeout must be a positive number of seconds"):
        Client(fake_api.transport, request_timeout=bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (ConfigMapModel, GVK("v1", "ConfigMap")),
        (ConfigMapModel(), GVK("v1", "ConfigMap")),
        ({"apiVersion": "apps/v1", "kind": "Deployment"}, GVK("apps/v1", "Deployment")),
        (("batch/v1", "Job"), GVK("batch/v1", "Job")),
    ],
)
def test_gvk_of(value: Any, expected: GVK) -> None:
    assert gvk_of(value) == expected
    assert expected.group == expected.api_version.rpartition("/")[0]


def test_gvk_of_rejects_what_cannot_be_sent() -> None:
    class NoKind(BaseModel):
        name: str = ""

    with pytest.raises(ValueError, match="NoKind must declare apiVersion and kind"):
        gvk_of(NoKind)
    with pytest.raises(ValueError, match="needs apiVersion and kind"):
        gvk_of({"metadata": {}})


def test_object_key() -> None:
    assert object_key({"metadata": {"name": "a", "namespace": "n"}}) == "n/a"
    assert object_key({"metadata": {"name": "node"}}) == "node"


async def test_update_without_name_is_refused(client: Client) -> None:
    with pytest.raises(ValueError, match=r"metadata\.name"):
        await client.update({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
