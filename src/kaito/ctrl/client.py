"""A thin typed async client for any Kubernetes kind, built on one `Transport`.

Objects are either plain dicts (the wire form; any kind, built-in or CRD) or pydantic models — any
`BaseModel` whose `apiVersion`/`kind` fields carry defaults; models are dumped `by_alias`, `exclude_none`
and answers are validated back into the caller's model class. Reads stay raw JSON end to end.

Kinds are resolved to their plural and scope by API discovery (`GET /api/v1`, `GET /apis/<group>/<version>`),
cached per group-version and refreshed once on a miss, so a CRD registered after start-up is found.

Failures surface as the exceptions of `kaito.ctrl.errors`. Transient failures (5xx, 429, no answer) are
retried: bounded attempts, exponential backoff with jitter, and a 429's Retry-After honoured (capped by
`RetryPolicy.max_retry_after`). Other 4xx are never retried. Every ordinary request (not a watch) has a
deadline, `Client(request_timeout=...)` (default `DEFAULT_REQUEST_TIMEOUT_S`; None for none); running out of
time is a transport error, retried like one. The loop is a few lines of our own, not a
retry library: a request that succeeds first time (nearly all) then costs nothing extra.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar, overload

import orjson
from pydantic import BaseModel

from kaito.ctrl.clock import Clock, SystemClock
from kaito.ctrl.errors import (
    NotFound,
    TooManyRequests,
    UnknownKind,
    error_from_response,
    is_transient,
)
from kaito.ctrl.transport import HttpRequest, HttpResponse, KubeTransport, Transport

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = [
    "GVK",
    "Client",
    "KindRef",
    "ObjectList",
    "PatchType",
    "RetryPolicy",
    "WatchEvent",
    "gvk_of",
    "object_key",
    "to_dict",
]

DEFAULT_REQUEST_TIMEOUT_S = 60.0
"""How long one ordinary request (not a watch) may take, connecting to the last byte of its answer,
unless the Client is told otherwise: the API server's own limit for a request is 60 s, and a request with
no deadline on a connection that silently died would wait forever. A request that runs out of time is a
transport error, retried like one."""

WATCH_GRACE_S = 30.0
"""How much longer than a watch's `timeoutSeconds` the client waits for the stream before calling it dead:
a client-side limit shorter than the server's own would cut quiet watches the server still means to keep."""

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Obj = dict[str, Any]


class GVK(NamedTuple):
    """apiVersion ("v1", "apps/v1") and kind ("Pod")."""

    api_version: str
    kind: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]


KindRef = GVK | tuple[str, str] | type[BaseModel]


class PatchType(StrEnum):
    """The Content-Type of a PATCH request."""

    MERGE = "application/merge-patch+json"
    JSON = "application/json-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    APPLY = "application/apply-patch+yaml"


@dataclass(frozen=True)
class ApiResource:
    """What discovery says about a kind: its REST plural, scope and subresources."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    subresources: frozenset[str] = frozenset()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The REST path of the collection, or of one object (and its subresource)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


@dataclass(frozen=True)
class ObjectList(Generic[T]):
    """One page of a list: items, the list's resourceVersion and the continue token ("" on the last page)."""

    items: list[T]
    resource_version: str
    continue_token: str = ""


@dataclass(frozen=True)
class WatchEvent:
    """One watch event: ADDED, MODIFIED, DELETED or BOOKMARK, with the object as a dict."""

    type: str
    object: Obj


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries for transient failures: attempts, backoff (seconds) and the Retry-After cap."""

    attempts: int = 5
    initial: float = 0.1
    max_wait: float = 5.0
    jitter: float = 0.2
    max_retry_after: float = 60.0

    def delay(self, attempt: int, exc: BaseException | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based) that raised `exc`."""
        if isinstance(exc, TooManyRequests) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_after)
        attempt = max(1, attempt)
        return min(self.max_wait, self.initial * 2.0 ** min(attempt - 1, 32) + random.uniform(0, self.jitter))

    def wait(self, state: RetryCallState) -> float:
        """`delay` as a tenacity wait strategy, for callers that retry with tenacity themselves."""
        return self.delay(state.attempt_number, state.outcome.exception() if state.outcome else None)


def gvk_of(kind: KindRef | BaseModel | Mapping[str, Any]) -> GVK:
    """The GVK of a model class/instance, an object dict or an (apiVersion, kind) pair."""
    if isinstance(kind, tuple):
        return GVK(*kind)
    if isinstance(kind, Mapping):
        api_version, kind_name = kind.get("apiVersion"), kind.get("kind")
        if not api_version or not kind_name:
            raise ValueError(
                f"the object needs apiVersion and kind to be sent to the API server, "
                f"got apiVersion={api_version!r} kind={kind_name!r}"
            )
        return GVK(str(api_version), str(kind_name))
    cls = kind if isinstance(kind, type) else type(kind)
    found: dict[str, str] = {}
    for name, info in cls.model_fields.items():
        for wanted in ("apiVersion", "kind"):
            if wanted in (name, info.alias, info.serialization_alias) or (
                wanted == "apiVersion" and name == "api_version"
            ):
                value = getattr(kind, name, None) if not isinstance(kind, type) else info.default
                if isinstance(value, str) and value:
                    found[wanted] = value
    if set(found) != {"apiVersion", "kind"}:
        raise ValueError(
            f"model {cls.__name__} must declare apiVersion and kind fields with string defaults "
            f"(found {sorted(found) or 'neither'})"
        )
    return GVK(found["apiVersion"], found["kind"])


def object_key(obj: Mapping[str, Any]) -> str:
    """The cache key of an object: "namespace/name", or "name" for cluster-scoped objects."""
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace"), meta.get("name", "")
    return f"{namespace}/{name}" if namespace else str(name)


def to_dict(obj: BaseModel | Mapping[str, Any]) -> Obj:
    """The wire form (a fresh plain dict) of a model or mapping."""
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json", by_alias=True, exclude_none=True)
    try:
        copied: Obj = orjson.loads(orjson.dumps(obj))
    except TypeError:
        copied = json.loads(json.dumps(obj))
    return copied


class WatchStream:
    """An open watch: iterate for `WatchEvent`s; ERROR events raise; `close()` ends it from outside."""

    def __init__(self, response: HttpResponse) -> None:
        self._response = response

    def close(self) -> None:
        self._response.close()

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[WatchEvent]:
        async for line in self._response.iter_lines():
            event = orjson.loads(line)
            event_type = event.get("type", "")
            obj = event.get("object") or {}
            if event_type == "ERROR":
                raise error_from_response(int(obj.get("code") or 500), obj)
            yield WatchEvent(event_type, obj)


class Client:
    """get/list/create/update/patch/apply/update_status/delete/watch for models and dicts of any kind."""

    def __init__(
        self,
        transport: Transport,
        *,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        field_manager: str = "kaito-ctrl",
        default_namespace: str = "default",
        request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT_S,
    ) -> None:
        if request_timeout is not None and not request_timeout > 0:
            raise ValueError(
                f"request_timeout must be a positive number of seconds or None (no deadline), "
                f"got {request_timeout!r}"
            )
        self.transport = transport
        self.request_timeout = request_timeout
        self.clock: Clock = clock or SystemClock()
        self.retry = retry or RetryPolicy()
        self.field_manager = field_manager
        self.default_namespace = default_namespace
        self._discovered: dict[str, dict[str, ApiResource]] = {}

    @classmethod
    async def from_kubeconfig(
        cls, path: str | None = None, *, context: str | None = None, **kwargs: Any
    ) -> Client:
        """A client from a kubeconfig file (or $KUBECONFIG, ~/.kube/config, then the in-cluster account)."""
        return cls(await KubeTransport.from_kubeconfig(path, context=context), **kwargs)

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- raw requests -------------------------------------------------------------------------------

    async def _send_once(self, request: HttpRequest) -> HttpResponse:
        response = await self.transport.send(request)
        if response.status >= 400:
            body = await response.read()
            raise error_from_response(response.status, body, response.headers)
        return response

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send with retries on transient failures; a non-2xx answer raises the matching ApiError."""
        attempt = 1
        while True:
            try:
                return await self._send_once(request)
            except Exception as exc:
                if attempt >= self.retry.attempts or not is_transient(exc):
                    raise
                await self.clock.sleep(self.retry.delay(attempt, exc))
                attempt += 1

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """One request whose answer is a JSON document."""
        response = await self.send(
            HttpRequest(
                method, path, tuple(query), {"Content-Type": content_type}, body, self.request_timeout
            )
        )
        data = await response.read()
        return orjson.loads(data) if data else None

    # ---- discovery ----------------------------------------------------------------------------------

    async def resource_for(self, kind: KindRef) -> ApiResource:
        """Discovery's answer for a kind; refreshed once on a miss so late CRDs are found."""
        gvk = gvk_of(kind)
        cached = self._discovered.get(gvk.api_version, {}).get(gvk.kind)
        if cached is not None:
            return cached
        await self._discover(gvk)
        found = self._discovered.get(gvk.api_version, {}).get(gvk.kind)
        if found is None:
            known = sorted(self._discovered.get(gvk.api_version, {}))
            raise UnknownKind(
                f"the API server has no kind {gvk.kind!r} in apiVersion {gvk.api_version!r}"
                + (f"; it serves {', '.join(known)}" if known else "; that group/version is not served")
            )
        return found

    async def _discover(self, gvk: GVK) -> None:
        path = f"/apis/{gvk.api_version}" if gvk.group else f"/api/{gvk.version}"
        try:
            doc = await self.request_json("GET", path)
        except NotFound:
            self._discovered[gvk.api_version] = {}
            return
        resources: dict[str, ApiResource] = {}
        subresources: dict[str, set[str]] = {}
        for entry in doc.get("resources", []):
            name = entry.get("name", "")
            if "/" in name:
                parent, _, sub = name.partition("/")
                subresources.setdefault(parent, set()).add(sub)
                continue
            resources[entry["kind"]] = ApiResource(
                gvk.group, gvk.version, entry["kind"], name, bool(entry.get("namespaced"))
            )
        self._discovered[gvk.api_version] = {
            kind: ApiResource(
                r.group, r.version, r.kind, r.plural, r.namespaced, frozenset(subresources.get(r.plural, ()))
            )
            for kind, r in resources.items()
        }

    def _namespace(self, resource: ApiResource, namespace: str | None) -> str | None:
        if not resource.namespaced:
            return None
        return namespace or self.default_namespace

    @staticmethod
    def _parse(kind: KindRef | BaseModel | Mapping[str, Any], data: Obj) -> Any:
        if isinstance(kind, BaseModel):
            return type(kind).model_validate(data)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind.model_validate(data)
        return data

    # ---- verbs --------------------------------------------------------------------------------------

    @overload
    async def get(self, kind: type[M], name: str, namespace: str | None = None) -> M: ...
    @overload
    async def get(self, kind: GVK | tuple[str, str], name: str, namespace: str | None = None) -> Obj: ...
    async def get(self, kind: KindRef, name: str, namespace: str | None = None) -> Any:
        """Read one object; NotFound if it does not exist."""
        resource = await self.resource_for(kind)
        data = await self.request_json("GET", resource.path(self._namespace(resource, namespace), name))
        return self._parse(kind, data)

    @overload
    async def list(
        self,
        kind: type[M],
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> ObjectList[M]: ...
    @overload
    async def list(
        self,
        kind: GVK | tuple[str, str],
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> ObjectList[Obj]: ...
    async def list(
        self,
        kind: KindRef,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> ObjectList[Any]:
        """One page of objects (all namespaces when `namespace` is None); items carry apiVersion/kind."""
        resource = await self.resource_for(kind)
        query = _query(
            labelSelector=label_selector,
            fieldSelector=field_selector,
            limit=str(limit) if limit else None,
            resourceVersion=resource_version,
        )
        if continue_token:
            query.append(("continue", continue_token))
        doc = await self.request_json(
            "GET", resource.path(namespace if resource.namespaced else None), query=query
        )
        meta = doc.get("metadata") or {}
        items = []
        for item in doc.get("items") or []:
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
            items.append(self._parse(kind, item))
        return ObjectList(items, str(meta.get("resourceVersion", "")), str(meta.get("continue") or ""))

    @overload
    async def create(self, obj: M, *, namespace: str | None = None, dry_run: bool = False) -> M: ...
    @overload
    async def create(
        self, obj: Mapping[str, Any], *, namespace: str | None = None, dry_run: bool = False
    ) -> Obj: ...
    async def create(self, obj: Any, *, namespace: str | None = None, dry_run: bool = False) -> Any:
        """Create an object; AlreadyExists if the name is taken."""
        body = to_dict(obj)
        resource = await self.resource_for(gvk_of(body))
        ns = self._namespace(resource, namespace or body.get("metadata", {}).get("namespace"))
        query = _query(fieldManager=self.field_manager, dryRun="All" if dry_run else None)
        data = await self.request_json("POST", resource.path(ns), query=query, body=body)
        return self._parse(obj, data)

    async def _put(self, obj: Any, subresource: str | None) -> Any:
        body = to_dict(obj)
        resource = await self.resource_for(gvk_of(body))
        meta = body.get("metadata") or {}
        if not meta.get("name"):
            raise ValueError("update needs metadata.name on the object; got an object without a name")
        ns = self._namespace(resource, meta.get("namespace"))
        data = await self.request_json(
            "PUT",
            resource.path(ns, meta["name"], subresource),
            query=_query(fieldManager=self.field_manager),
            body=body,
        )
        return self._parse(obj, data)

    @overload
    async def update(self, obj: M) -> M: ...
    @overload
    async def update(self, obj: Mapping[str, Any]) -> Obj: ...
    async def update(self, obj: Any) -> Any:
        """Replace an object; Conflict if its metadata.resourceVersion is stale."""
        return await self._put(obj, None)

    @overload
    async def update_status(self, obj: M) -> M: ...
    @overload
    async def update_status(self, obj: Mapping[str, Any]) -> Obj: ...
    async def update_status(self, obj: Any) -> Any:
        """Replace the status subresource; Conflict if metadata.resourceVersion is stale."""
        return await self._put(obj, "status")

    @overload
    async def patch(
        self,
        kind: type[M],
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
        subresource: str | None = None,
        force: bool = False,
    ) -> M: ...
    @overload
    async def patch(
        self,
        kind: GVK | tuple[str, str],
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
        subresource: str | None = None,
        force: bool = False,
    ) -> Obj: ...
    async def patch(
        self,
        kind: KindRef,
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
        subresource: str | None = None,
        force: bool = False,
    ) -> Any:
        """Patch one object with a merge, JSON, strategic-merge or apply patch."""
        resource = await self.resource_for(kind)
        query = _query(fieldManager=self.field_manager, force="true" if force else None)
        body = to_dict(patch) if isinstance(patch, BaseModel) else patch
        data = await self.request_json(
            "PATCH",
            resource.path(self._namespace(resource, namespace), name, subresource),
            query=query,
            body=body,
            content_type=str(patch_type),
        )
        return self._parse(kind, data)

    @overload
    async def apply(self, obj: M, *, force: bool = True, subresource: str | None = None) -> M: ...
    @overload
    async def apply(
        self, obj: Mapping[str, Any], *, force: bool = True, subresource: str | None = None
    ) -> Obj: ...
    async def apply(self, obj: Any, *, force: bool = True, subresource: str | None = None) -> Any:
        """Server-side apply of a whole object as this client's field manager."""
        body = to_dict(obj)
        gvk = gvk_of(body)
        meta = body.get("metadata") or {}
        data = await self.patch(
            gvk,
            meta.get("name", ""),
            body,
            namespace=meta.get("namespace"),
            patch_type=PatchType.APPLY,
            subresource=subresource,
            force=force,
        )
        return self._parse(obj, data)

    async def delete(
        self,
        kind: KindRef,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: str | None = None,
        preconditions: Mapping[str, str] | None = None,
        grace_period_seconds: int | None = None,
    ) -> Obj:
        """Delete one object; returns the server's answer (the object, or a Status)."""
        resource = await self.resource_for(kind)
        options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if preconditions:
            options["preconditions"] = dict(preconditions)
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        data = await self.request_json(
            "DELETE", resource.path(self._namespace(resource, namespace), name), body=options
        )
        return data if isinstance(data, dict) else {}

    async def watch(
        self,
        kind: KindRef,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> WatchStream:
        """Open a watch (newline-delimited JSON events); opening is retried, the stream itself is not.

        With `timeout_seconds` the server ends the stream after that long (with a final BOOKMARK when
        bookmarks are allowed); the client waits `WATCH_GRACE_S` longer before giving up on it, never less.
        """
        resource = await self.resource_for(kind)
        query = _query(
            watch="1",
            resourceVersion=resource_version,
            allowWatchBookmarks="true" if allow_bookmarks else None,
            timeoutSeconds=str(timeout_seconds) if timeout_seconds else None,
            labelSelector=label_selector,
            fieldSelector=field_selector,
        )
        timeout = float(timeout_seconds) + WATCH_GRACE_S if timeout_seconds else None
        path = resource.path(namespace if resource.namespaced else None)
        response = await self.send(HttpRequest("GET", path, tuple(query), {}, None, timeout))
        return WatchStream(response)


def _query(**params: str | None) -> list[tuple[str, str]]:
    return [(key, value) for key, value in params.items() if value is not None]
