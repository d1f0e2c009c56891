"""The HTTP face of the embedded cluster: kube-apiserver's REST API over aiohttp, on 127.0.0.1 (TLS
optional).

Design: one catch-all route. :func:`parse_resource_path` turns a URL into a :class:`ResourcePath` the way
kube's ``RequestInfoFactory`` does (``/api/v1/namespaces/{ns}/{plural}/{name}/{subresource}``,
``/apis/{g}/{v}/...``, ``namespaces/{name}/status`` being the Namespace's own subresource),
:func:`request_verb` names the verb (get, list, watch, create, update, patch, delete, deletecollection), and
:class:`ApiServer` hands the call to the synchronous :class:`~kaito.sim.server.store.Store`. Everything the
store
raises is an :class:`~kaito.sim.server.errors.ApiError` and goes back as a ``metav1.Status`` with its code.

What is served, and how it matches kube:
- get/list/watch/create/update/patch (JSON, merge, strategic merge, apply)/delete/deletecollection, plus the
  ``status`` and ``scale`` subresources and ``pods/{name}/log`` (text from :attr:`ApiServer.log_provider`).
- Lists page with ``limit``/``continue``: the continue token carries the list's resourceVersion and the last
  key served; a continued page reads the live store (kube reads a snapshot at that resourceVersion; nothing
  here needs the difference).
- Watches stream newline-delimited JSON events over chunked HTTP. A resourceVersion older than the store's
  compaction point is answered as kube does: HTTP 200, then one ``ERROR`` event carrying a 410 ``Expired``
  Status (client-go and kubernetes-asyncio both read it from the stream). ``timeoutSeconds`` ends the stream
  cleanly, with a last BOOKMARK when bookmarks were asked (as kube does); :meth:`ApiServer.close_watches`
  (fault injection, shutdown) ends every stream at once.
- ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` gets a server-side Table
  (:mod:`kaito.sim.server.printing`), ``as=PartialObjectMetadata(List)`` the metadata only.
- Discovery (:mod:`kaito.sim.server.discovery`), ``/version``, ``/healthz``, ``/readyz``, ``/livez``.
- ``services/{name}/proxy/...`` and ``pods/{name}/proxy/...`` forward HTTP to the workload
  (:mod:`kaito.sim.server.proxy`), so ``kubectl get --raw`` reaches a pod through the API server.
- Every request first passes :class:`~kaito.sim.server.faults.Faults`, which may delay or fail it.

Answers are JSON, which every client accepts. Request bodies may be JSON, YAML, or protobuf for the few kinds
kubectl's typed clients send that way (:mod:`kaito.sim.server.protobuf`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import contextlib
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import yaml
from aiohttp import web

from kaito.sim.server import codec, discovery, printing, protobuf, scale
from kaito.sim.server.attach import serve_attach
from kaito.sim.server.bodies import MAX_DEPTH, check_meta_types, check_shape
from kaito.sim.server.errors import (
    ApiError,
    BadRequest,
    Gone,
    InternalError,
    MethodNotAllowed,
    NotFound,
    UnsupportedMediaType,
)
from kaito.sim.server.faults import Decision, Faults, RequestFacts
from kaito.sim.server.fieldvalidation import FieldValidation
from kaito.sim.server.proxy import ServiceProxy, parse_proxy_path
from kaito.sim.server.resources import ResourceRegistry, ResourceType
from kaito.sim.server.store import Store
from kaito.sim.server.webhook_writes import WebhookWrites

__all__ = [
    "PATCH_TYPES",
    "ApiServer",
    "ListPage",
    "LogProvider",
    "ResourcePath",
    "decode_continue",
    "encode_continue",
    "paginate",
    "parse_resource_path",
    "request_verb",
]

PATCH_TYPES = frozenset(
    {
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    }
)
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_TRUE = frozenset({"true", "1", "True"})
_NOT_FOUND_MESSAGE = "the server could not find the requested resource"
_NO_FAULT = Decision()
_FIELD_VALIDATION = ("Ignore", "Warn", "Strict")
_PROPAGATION = ("Orphan", "Background", "Foreground")


class LogProvider(Protocol):
    """Where ``GET pods/{name}/log`` text comes from: the workload simulator's kubelet keeps it."""

    def __call__(
        self, namespace: str, pod: str, container: str | None = None, *, previous: bool = False
    ) -> str: ...


# ------------------------------------------------------------------------------------------
# Pure parts: paths, verbs, pagination


@dataclass(frozen=True)
class ResourcePath:
    """A resource URL taken apart. ``plural`` is empty for the group-version root (discovery)."""

    group: str
    version: str
    namespace: str | None = None
    plural: str = ""
    name: str | None = None
    subresource: str | None = None


def parse_resource_path(path: str) -> ResourcePath | None:
    """Take apart ``/api/v1/...`` or ``/apis/{group}/{version}/...``; None for anything else (or too deep)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    if len(rest) > 2 and rest[0] == "namespaces" and rest[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return ResourcePath(group, version)
    if len(rest) > 3:
        return None
    return ResourcePath(
        group,
        version,
        namespace,
        rest[0],
        rest[1] if len(rest) > 1 else None,
        rest[2] if len(rest) > 2 else None,
    )


def request_verb(method: str, target: ResourcePath, watch: bool) -> str:
    """The kube verb of a request (RBAC's names), given its HTTP method and whether ``watch`` was asked."""
    if method in ("GET", "HEAD"):
        if target.name is None:
            return "watch" if watch else "list"
        return "get"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if target.name is not None else "deletecollection"
    return method.lower()


def encode_continue(resource_version: str, last_key: str) -> str:
    """An opaque continue token: the list's resourceVersion and the last key (``namespace/name``) served."""
    raw = json.dumps({"v": "kaito.sim/v1", "rv": resource_version, "start": last_key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_continue(token: str) -> tuple[str, str]:
    """(resourceVersion, last key) from a continue token; BadRequest when it is not one of ours."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadRequest(
            f'continue key is not valid: "{token}" is not a token this server issued; '
            "start the list again without continue"
        ) from None


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


@dataclass(frozen=True)
class ListPage:
    items: list[dict[str, Any]]
    resource_version: str
    continue_token: str | None
    remaining: int | None


def paginate(
    items: list[dict[str, Any]], resource_version: str, *, limit: int, continue_token: str | None
) -> ListPage:
    """One page of a list, ordered by ``namespace/name`` as etcd keys are."""
    ordered = sorted(items, key=_key)
    if continue_token:
        resource_version, start = decode_continue(continue_token)
        ordered = [obj for obj in ordered if _key(obj) > start]
    if limit <= 0 or len(ordered) <= limit:
        return ListPage(ordered, resource_version, None, None)
    page = ordered[:limit]
    return ListPage(
        page, resource_version, encode_continue(resource_version, _key(page[-1])), len(ordered) - limit
    )


# ------------------------------------------------------------------------------------------
# Query parameters


def _flag(query: Any, name: str) -> bool:
    return str(query.get(name, "")) in _TRUE


def _int_param(query: Any, name: str, *, minimum: int = 0) -> int | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f'{name} is "{raw}"; it must be a whole number') from None
    if value < minimum:
        raise BadRequest(f"{name} is {value}; it must be at least {minimum}")
    return value


def _dry_run(values: list[str]) -> bool:
    for value in values:
        if value != "All":
            raise BadRequest(f'dryRun is "{value}"; the only supported value is "All"')
    return bool(values)


def _field_validation(query: Any) -> FieldValidation:
    value = query.get("fieldValidation")
    if value not in (None, "") and value not in _FIELD_VALIDATION:
        raise BadRequest(f'fieldValidation is "{value}"; use one of Ignore, Warn or Strict')
    return FieldValidation.from_query(value)


class _Timeout(ApiError):
    code = 504
    reason = "Timeout"


def _now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------
# The server


class ApiServer:
    """kube-apiserver's REST API for one store; ``start()`` binds, ``stop()`` closes."""

    def __init__(
        self,
        store: Store,
        *,
        faults: Faults | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] = _now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.faults = faults if faults is not None else Faults(store)
        self.faults.stream_closers.append(self.close_watches)
        self.log_provider: LogProvider | None = None
        self._ssl = ssl_context
        self._clock = clock
        self._sleep = sleep
        self._watches: set[Any] = set()
        self._runner: web.AppRunner | None = None
        self.url = ""
        # requests served so far by (verb, resource[/subresource]): what a benchmark or test reads to count
        # the API calls a controller made; counting costs one dict update per request
        self.request_counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.app = web.Application(middlewares=[self._errors_and_faults], client_max_size=64 * 1024 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.proxy = ServiceProxy(store)  # services/pods proxy subresources (kaito.sim.server.proxy)
        self.proxy.attach(self.app)
        # admission and CRD conversion webhooks (webhook_writes); every call site is marked WEBHOOKS
        self.webhooks = WebhookWrites(store)

    # -- lifecycle --

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 picks a free port); returns the base URL."""
        self._runner = web.AppRunner(
            self.app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=self._ssl)
        await site.start()
        bound = self._runner.addresses[0]
        scheme = "https" if self._ssl else "http"
        self.url = f"{scheme}://{host}:{bound[1]}"
        return self.url

    async def stop(self) -> None:
        """End every watch stream and close the listener."""
        self.close_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.webhooks.close()

    @property
    def open_watches(self) -> int:
        """How many watch streams are open now (a test waits for clients to re-watch after a drop)."""
        return len(self._watches)

    def close_watches(self) -> int:
        """End every open watch stream (the client sees the response end and re-watches)."""
        watches = list(self._watches)
        for w in watches:
            w.close()
        self._watches.clear()
        return len(watches)

    @property
    def registry(self) -> ResourceRegistry:
        return self.store.registry

    # -- middleware --

    @web.middleware
    async def _errors_and_faults(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            facts = _facts(request)
            resource = f"{facts.resource}/{facts.subresource}" if facts.subresource else facts.resource
            self.request_counts[(facts.verb, resource)] += 1
            decision = self.faults.decide(facts) if self.faults.rules else _NO_FAULT
            if decision.delay_s:
                await self._sleep(decision.delay_s)
            if decision.failure is not None:
                code, status, headers = decision.failure
                return _json(status, code, headers=headers)
            return await handler(request)
        except ApiError as err:
            return _json(err.to_status(), err.code)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as err:  # an unexpected failure is an InternalError to the client, as in kube
            return _json(
                InternalError(f"Internal error occurred: {type(err).__name__}: {err}").to_status(), 500
            )

    # -- routing --

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"  # clients ask for /version/ and /apis/ too
        if path in ("/healthz", "/readyz", "/livez") or path.startswith(("/healthz/", "/readyz/", "/livez/")):
            return web.Response(text="ok", content_type="text/plain")
        proxied = parse_proxy_path(request.path)
        if proxied is not None:
            return await self.proxy.handle(request, proxied)
        if path == "/version":
            return _json(discovery.version_info())
        if path.startswith("/openapi/"):
            return self._openapi(request)
        accept = request.headers.get("Accept", "")
        if path == "/api":
            if discovery.wants_aggregated(accept):
                return _aggregated(discovery.aggregated_discovery(self.registry, core=True))
            return _json(discovery.api_versions(request.host))
        if path == "/apis":
            if discovery.wants_aggregated(accept):
                return _aggregated(discovery.aggregated_discovery(self.registry, core=False))
            return _json(discovery.api_group_list(self.registry))
        parts = [p for p in path.split("/") if p]
        if len(parts) == 2 and parts[0] == "apis":
            group = discovery.api_group(self.registry, parts[1])
            if group is None:
                raise NotFound(_NOT_FOUND_MESSAGE, details={})
            return _json(group)
        target = parse_resource_path(path)
        if target is None:
            raise NotFound(_NOT_FOUND_MESSAGE, details={})
        if not target.plural:
            doc = discovery.api_resource_list(self.registry, target.group, target.version)
            if doc is None:
                raise NotFound(_NOT_FOUND_MESSAGE, details={})
            return _json(doc)
        return await self._resource(request, target)

    def _openapi(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if parts[1:] == ["v2"]:
            accept = request.headers.get("Accept", "")
            if accept and not any(m in accept for m in ("application/json", "*/*")):
                return _json(
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Failure",
                        "message": "only application/json is served for /openapi/v2",
                        "reason": "NotAcceptable",
                        "code": 406,
                    },
                    406,
                )
            return _json(discovery.openapi_v2(self.registry))
        if parts[1:] == ["v3"]:
            return _json(discovery.openapi_v3_index(self.registry))
        if len(parts) >= 4 and parts[1] == "v3":
            gv = parts[2:]
            if gv[0] == "api" and len(gv) == 2:
                doc = discovery.openapi_v3_document(self.registry, "", gv[1])
            elif gv[0] == "apis" and len(gv) == 3:
                doc = discovery.openapi_v3_document(self.registry, gv[1], gv[2])
            else:
                doc = None
            if doc is not None:
                return _json(doc)
        raise NotFound(_NOT_FOUND_MESSAGE, details={})

    def _type_for(self, target: ResourcePath) -> ResourceType:
        rt = self.registry.by_plural(target.group, target.version, target.plural)
        if rt is None:
            raise NotFound(_NOT_FOUND_MESSAGE, details={})
        if target.namespace is not None and not rt.namespaced:
            raise NotFound(_NOT_FOUND_MESSAGE, details={})
        if target.subresource is not None and target.subresource not in discovery.served_subresources(rt):
            raise NotFound(_NOT_FOUND_MESSAGE, details={})
        return rt

    async def _resource(self, request: web.Request, target: ResourcePath) -> web.StreamResponse:
        rt = self._type_for(target)
        query = request.query
        verb = request_verb(request.method, target, _flag(query, "watch"))
        if verb not in rt.verbs and target.subresource is None:
            raise MethodNotAllowed("the server does not allow this method on the requested resource")
        namespace = target.namespace if rt.namespaced else None
        if rt.namespaced and namespace is None and verb not in ("list", "watch"):
            raise NotFound(_NOT_FOUND_MESSAGE, details={})
        sub = target.subresource
        if sub == "log":
            if verb != "get":
                raise MethodNotAllowed("the server does not allow this method on the requested resource")
            return self._log(request, rt, target)
        if sub == "attach" and rt.kind == "Pod" and verb in ("get", "create"):
            return await self._attach(request, rt, target)
        if sub == "scale":
            return await self._scale(request, rt, target, verb)
        if sub is not None and verb not in ("get", "update", "patch"):
            raise MethodNotAllowed("the server does not allow this method on the requested resource")
        if verb == "get":
            assert target.name is not None
            # copy=False: the store's own dict, only serialised here (never mutated)
            obj = self.store.get(rt.api_version, rt.kind, target.name, namespace, copy=False)
            if self.webhooks.converts(rt):  # WEBHOOKS: a version converted by the CRD's webhook
                obj = await self.webhooks.to_request_version(rt, obj)
            return self._object_response(request, rt, obj)
        if verb == "list":
            if self.webhooks.converts(rt):  # WEBHOOKS
                return await self._converted_list(request, rt, namespace)
            return self._list(request, rt, namespace)
        if verb == "watch":
            return await self._watch(request, rt, namespace)
        if verb == "create":
            if target.name is not None:
                raise MethodNotAllowed("the server does not allow this method on the requested resource")
            return await self._create(request, rt, namespace)
        if verb == "update":
            return await self._update(request, rt, target, namespace)
        if verb == "patch":
            return await self._patch(request, rt, target, namespace)
        if verb == "delete":
            return await self._delete(request, rt, target, namespace)
        if verb == "deletecollection":
            return await self._delete_collection(request, rt, namespace)
        raise MethodNotAllowed("the server does not allow this method on the requested resource")

    # -- reads --

    def _object_response(
        self, request: web.Request, rt: ResourceType, obj: dict[str, Any], status: int = 200
    ) -> web.Response:
        accept = request.headers.get("Accept", "")
        if printing.wants_table(accept):
            include = _include(request)
            meta = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
            return _json(
                printing.table_for(rt, [obj], now=self._clock(), include=include, list_meta=meta), status
            )
        if "as=PartialObjectMetadata" in accept:
            return _json(_partial(obj), status)
        return _json(obj, status)

    def _list(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.Response:
        query = request.query
        limit = _int_param(query, "limit") or 0
        self._check_list_version(query)
        items, rv = self.store.list(
            rt.api_version,
            rt.kind,
            namespace,
            label_selector=query.get("labelSelector") or None,
            field_selector=query.get("fieldSelector") or None,
            copy=False,  # only serialised here
        )
        page = paginate(items, rv, limit=limit, continue_token=query.get("continue") or None)
        meta: dict[str, Any] = {"resourceVersion": page.resource_version}
        if page.continue_token:
            meta["continue"] = page.continue_token
            if (
                not query.get("labelSelector")
                and not query.get("fieldSelector")
                and page.remaining is not None
            ):
                meta["remainingItemCount"] = page.remaining
        accept = request.headers.get("Accept", "")
        if printing.wants_table(accept):
            table = printing.table_for(
                rt, page.items, now=self._clock(), include=_include(request), list_meta=meta
            )
            return _json(table)
        if "as=PartialObjectMetadataList" in accept:
            return _json(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                    "items": [_partial(o) for o in page.items],
                }
            )
        return _json(
            {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": page.items}
        )

    async def _converted_list(
        self, request: web.Request, rt: ResourceType, namespace: str | None
    ) -> web.Response:
        """A list of a version converted by webhook: every item converted in one review, no paging."""
        query = request.query
        items, rv = self.store.list(
            rt.api_version,
            rt.kind,
            namespace,
            label_selector=query.get("labelSelector") or None,
            field_selector=query.get("fieldSelector") or None,
        )
        items = await self.webhooks.to_request_versions(rt, items)
        if printing.wants_table(request.headers.get("Accept", "")):
            table = printing.table_for(
                rt, items, now=self._clock(), include=_include(request), list_meta={"resourceVersion": rv}
            )
            return _json(table)
        return _json(
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": rv},
                "items": items,
            }
        )

    def _check_list_version(self, query: Any) -> None:
        raw = query.get("resourceVersion") or ""
        match = query.get("resourceVersionMatch") or ""
        if match and match not in ("NotOlderThan", "Exact"):
            raise BadRequest(f'resourceVersionMatch is "{match}"; use NotOlderThan or Exact')
        if match and not raw:
            raise BadRequest(
                f'resourceVersionMatch is "{match}" but resourceVersion is not set; give both or neither'
            )
        if not raw or raw == "0":
            if match == "Exact" and raw == "0":
                raise BadRequest('resourceVersionMatch "Exact" needs a resourceVersion other than "0"')
            return
        try:
            requested = int(raw)
        except ValueError:
            raise BadRequest(
                f'resourceVersion is "{raw}"; it must be a resourceVersion this server returned'
            ) from None
        current = self.store.resource_version
        if requested > current:
            raise _Timeout(
                f"Too large resource version: {requested}, current: {current}",
                details={
                    "causes": [
                        {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
                    ],
                    "retryAfterSeconds": 1,
                },
            )
        if match == "Exact" and requested != current:
            raise Gone.too_old(requested, current)

    async def _watch(
        self, request: web.Request, rt: ResourceType, namespace: str | None
    ) -> web.StreamResponse:
        query = request.query
        timeout = _int_param(query, "timeoutSeconds")
        rv = query.get("resourceVersion") or None
        initial = _flag(query, "sendInitialEvents")
        table = printing.wants_table(request.headers.get("Accept", ""))
        include = _include(request)
        label = query.get("labelSelector") or None
        field = query.get("fieldSelector") or None
        bookmarks = _flag(query, "allowWatchBookmarks")
        first: list[dict[str, Any]] = []
        try:
            if initial:  # the watch-list protocol: current objects, then a bookmark marking their end
                items, list_rv = self.store.list(
                    rt.api_version, rt.kind, namespace, label_selector=label, field_selector=field, copy=False
                )
                start: str | None = list_rv
                first = [{"type": "ADDED", "object": o} for o in items]
                end = {"resourceVersion": list_rv, "annotations": {"k8s.io/initial-events-end": "true"}}
                bookmark = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": end}
                first.append({"type": "BOOKMARK", "object": bookmark})
            else:
                start = None if rv in (None, "0") else rv
            w = self.store.watch(
                rt.api_version,
                rt.kind,
                namespace,
                resource_version=start,
                label_selector=label,
                field_selector=field,
                allow_bookmarks=bookmarks,
                copy_objects=self.webhooks.converts(rt),  # else only serialised here, never mutated
            )
        except ApiError as err:
            if err.code != 410:
                raise
            resp = await _start_stream(request)
            await resp.write(_line({"type": "ERROR", "object": err.to_status()}))
            await resp.write_eof()
            return resp

        resp = await _start_stream(request)
        self._watches.add(w)
        now = self._clock
        converts = self.webhooks.converts(rt)  # WEBHOOKS: each event's object converted by the CRD's webhook
        try:
            async with asyncio.timeout(timeout):
                for event in first:
                    obj = event["object"]
                    if converts and event["type"] != "BOOKMARK":
                        obj = await self.webhooks.to_request_version(rt, obj)
                    await resp.write(_line(_encode_event(rt, event["type"], obj, table, include, now)))
                async for ev in w:
                    obj = ev.object
                    if converts and ev.type not in ("BOOKMARK", "ERROR"):
                        obj = await self.webhooks.to_request_version(rt, obj)
                    await resp.write(_line(_encode_event(rt, ev.type, obj, table, include, now)))
        except TimeoutError:
            last = w.closing_bookmark()  # timeoutSeconds ran out: kube ends such a watch with a bookmark
            if last is not None:
                with contextlib.suppress(ConnectionError):
                    await resp.write(_line(_encode_event(rt, last.type, last.object, table, include, now)))
        except (ConnectionResetError, ConnectionError):
            return resp
        finally:
            w.close()
            self._watches.discard(w)
        with contextlib.suppress(ConnectionError):
            await resp.write_eof()
        return resp

    def _container_of(self, request: web.Request, rt: ResourceType, target: ResourcePath) -> str:
        """The container a log or attach request names (the only one when it names none)."""
        assert target.name is not None and target.namespace is not None
        pod = self.store.get(rt.api_version, rt.kind, target.name, target.namespace)
        spec = pod.get("spec") or {}
        containers = [c.get("name") for c in spec.get("containers") or []]
        init_containers = [c.get("name") for c in spec.get("initContainers") or []]
        container = request.query.get("container") or ""
        if not container:
            if len(containers) != 1:
                choices = " ".join(str(c) for c in containers)
                inits = " ".join(str(c) for c in init_containers)
                raise BadRequest(
                    f"a container name must be specified for pod {target.name}, choose one of: [{choices}]"
                    + (f" or one of the init containers: [{inits}]" if inits else "")
                )
            container = str(containers[0])
        elif container not in containers and container not in init_containers:
            raise BadRequest(f"container {container} is not valid for pod {target.name}")
        return container

    async def _attach(
        self, request: web.Request, rt: ResourceType, target: ResourcePath
    ) -> web.StreamResponse:
        """``pods/{name}/attach``: the container's output over WebSocket (kaito.sim.server.attach)."""
        assert target.name is not None and target.namespace is not None
        name, namespace = target.name, target.namespace
        container = self._container_of(request, rt, target)

        def read_log() -> str:
            if self.log_provider is None:
                return ""
            with contextlib.suppress(ApiError):
                return self.log_provider(namespace, name, container)
            return ""

        def read_pod() -> dict[str, Any] | None:
            with contextlib.suppress(NotFound):
                return self.store.get(rt.api_version, rt.kind, name, namespace)
            return None

        return await serve_attach(request, container, read_log, read_pod)

    def _log(self, request: web.Request, rt: ResourceType, target: ResourcePath) -> web.Response:
        assert target.name is not None and target.namespace is not None
        container = self._container_of(request, rt, target)
        text = ""
        if self.log_provider is not None:
            text = self.log_provider(
                target.namespace, target.name, container, previous=_flag(request.query, "previous")
            )
        tail = _int_param(request.query, "tailLines")
        if tail is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail:]) if tail else ""
        limit = _int_param(request.query, "limitBytes", minimum=1)
        body = text.encode()
        if limit is not None:
            body = body[:limit]
        return web.Response(body=body, content_type="text/plain")

    # -- writes --

    async def _create(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.Response:
        query = request.query
        validation = _field_validation(query)
        dry = _dry_run(query.getall("dryRun", []))
        body = await _read_object(request, rt, self.registry, validation)
        _check_namespace(body, namespace)
        if self.webhooks.involved(rt):  # WEBHOOKS: conversion and admission around the store
            obj = await self.webhooks.create(
                rt,
                body,
                namespace,
                dry_run=dry,
                field_manager=query.get("fieldManager") or None,
                field_validation=validation,
            )
        else:
            obj = self.store.create(
                rt.api_version,
                rt.kind,
                body,
                namespace=namespace,
                dry_run=dry,
                field_manager=query.get("fieldManager") or None,
                field_validation=validation,
            )
        response = self._object_response(request, rt, obj, 201)
        validation.add_warning_headers(response)
        return response

    async def _update(
        self, request: web.Request, rt: ResourceType, target: ResourcePath, namespace: str | None
    ) -> web.Response:
        assert target.name is not None
        query = request.query
        validation = _field_validation(query)
        dry = _dry_run(query.getall("dryRun", []))
        body = await _read_object(request, rt, self.registry, validation)
        meta = body.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise BadRequest("metadata must be an object")
        if meta.get("name") and meta["name"] != target.name:
            raise BadRequest(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({target.name})"
            )
        meta["name"] = target.name
        _check_namespace(body, namespace)
        if namespace is not None:
            meta["namespace"] = namespace
        if self.webhooks.involved(rt):  # WEBHOOKS
            obj = await self.webhooks.update(
                rt,
                body,
                subresource=target.subresource,
                dry_run=dry,
                field_manager=query.get("fieldManager") or None,
                field_validation=validation,
            )
        else:
            obj = self.store.update(
                rt.api_version,
                rt.kind,
                body,
                subresource=target.subresource,
                dry_run=dry,
                field_manager=query.get("fieldManager") or None,
                field_validation=validation,
            )
        response = self._object_response(request, rt, obj)
        validation.add_warning_headers(response)
        return response

    async def _patch(
        self, request: web.Request, rt: ResourceType, target: ResourcePath, namespace: str | None
    ) -> web.Response:
        assert target.name is not None
        query = request.query
        validation = _field_validation(query)
        dry = _dry_run(query.getall("dryRun", []))
        patch_type, patch = await _read_patch(request, validation)
        manager = query.get("fieldManager") or None
        if patch_type == "application/apply-patch+yaml" and not manager:
            raise BadRequest(
                "PATCH with application/apply-patch+yaml requires the fieldManager query parameter"
            )
        created = False
        if patch_type == "application/apply-patch+yaml":
            try:
                self.store.get(rt.api_version, rt.kind, target.name, namespace)
            except NotFound:
                created = True
        if self.webhooks.involved(rt):  # WEBHOOKS
            obj = await self.webhooks.patch(
                rt,
                target.name,
                patch,
                patch_type,
                namespace,
                subresource=target.subresource,
                field_manager=manager,
                force=_flag(query, "force"),
                dry_run=dry,
                field_validation=validation,
            )
        else:
            obj = self.store.patch(
                rt.api_version,
                rt.kind,
                target.name,
                patch,
                patch_type,
                namespace,
                subresource=target.subresource,
                field_manager=manager,
                force=_flag(query, "force"),
                dry_run=dry,
                field_validation=validation,
            )
        response = self._object_response(request, rt, obj, 201 if created else 200)
        validation.add_warning_headers(response)
        return response

    async def _delete(
        self, request: web.Request, rt: ResourceType, target: ResourcePath, namespace: str | None
    ) -> web.Response:
        assert target.name is not None
        options = await _delete_options(request)
        delete = self.webhooks.delete if self.webhooks.involved(rt) else None  # WEBHOOKS
        if delete is not None:
            obj = await delete(
                rt,
                target.name,
                namespace,
                propagation=options["propagation"],
                preconditions=options["preconditions"],
                grace_period_seconds=options["grace"],
                dry_run=options["dry_run"],
            )
        else:
            obj = self.store.delete(
                rt.api_version,
                rt.kind,
                target.name,
                namespace,
                propagation=options["propagation"],
                preconditions=options["preconditions"],
                grace_period_seconds=options["grace"],
                dry_run=options["dry_run"],
            )
        if (obj.get("metadata") or {}).get("deletionTimestamp") or self.store.strategy(
            rt
        ).delete_returns_object:
            return _json(obj)
        meta = obj.get("metadata") or {}
        details: dict[str, Any] = {"name": target.name, "kind": rt.plural, "uid": meta.get("uid", "")}
        if rt.group:
            details["group"] = rt.group
        return _json(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
        )

    async def _delete_collection(
        self, request: web.Request, rt: ResourceType, namespace: str | None
    ) -> web.Response:
        options = await _delete_options(request)
        query = request.query
        label = query.get("labelSelector") or None
        field = query.get("fieldSelector") or None
        if options["dry_run"]:
            deleted, _ = self.store.list(
                rt.api_version, rt.kind, namespace, label_selector=label, field_selector=field
            )
        else:
            deleted = self.store.delete_collection(
                rt.api_version,
                rt.kind,
                namespace,
                label_selector=label,
                field_selector=field,
                propagation=options["propagation"],
            )
        meta = {"resourceVersion": str(self.store.resource_version)}
        return _json({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": deleted})

    # -- scale --

    async def _scale(
        self, request: web.Request, rt: ResourceType, target: ResourcePath, verb: str
    ) -> web.Response:
        assert target.name is not None
        namespace = target.namespace
        paths = self.store.strategy(rt).scale_paths(rt)
        if verb == "get":
            obj = self.store.get(rt.api_version, rt.kind, target.name, namespace)
            return _json(scale.scale_of(obj, paths))
        if verb not in ("update", "patch"):
            raise MethodNotAllowed("the server does not allow this method on the requested resource")
        current = scale.scale_of(self.store.get(rt.api_version, rt.kind, target.name, namespace), paths)
        if verb == "update":
            wanted = await _read_json(request)
        else:
            patch_type, patch = await _read_patch(request)
            wanted = scale.apply_to_scale(current, patch, patch_type)
        obj = self.store.patch(
            rt.api_version,
            rt.kind,
            target.name,
            scale.replicas_patch(paths, wanted),
            "application/merge-patch+json",
            namespace,
        )
        return _json(scale.scale_of(obj, paths))


# ------------------------------------------------------------------------------------------
# Helpers


def _facts(request: web.Request) -> RequestFacts:
    target = parse_resource_path(request.path)
    if target is None or not target.plural:
        return RequestFacts(verb="get" if request.method in ("GET", "HEAD") else request.method.lower())
    return RequestFacts(
        verb=request_verb(request.method, target, _flag(request.query, "watch")),
        group=target.group,
        resource=target.plural,
        subresource=target.subresource or "",
        namespace=target.namespace or "",
        name=target.name or "",
    )


def _json(body: Any, status: int = 200, *, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=codec.dumps(body),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _aggregated(body: dict[str, Any]) -> web.Response:
    resp = web.Response(body=codec.dumps(body))
    resp.headers["Content-Type"] = discovery.AGGREGATED_MEDIA_TYPE
    resp.headers["Vary"] = "Accept"
    return resp


def _line(event: dict[str, Any]) -> bytes:
    return codec.dumps(event) + b"\n"


async def _start_stream(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(
        status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache"}
    )
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    return resp


def _encode_event(
    rt: ResourceType, type_: str, obj: dict[str, Any], table: bool, include: str, now: Callable[[], datetime]
) -> dict[str, Any]:
    if table and type_ not in ("BOOKMARK", "ERROR"):
        meta = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
        obj = printing.table_for(rt, [obj], now=now(), include=include, list_meta=meta)
    return {"type": type_, "object": obj}


def _include(request: web.Request) -> str:
    try:
        return printing.include_object(request.query.get("includeObject"))
    except ValueError as err:
        raise BadRequest(str(err)) from None


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def _media_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()


async def _read_json(request: web.Request, validation: FieldValidation | None = None) -> dict[str, Any]:
    media = _media_type(request)
    raw = await request.read()
    try:
        if media in ("application/yaml", "application/x-yaml", "text/yaml"):
            body = codec.load_yaml(raw.decode() or "{}")
        elif media in ("application/json", ""):
            body = validation.loads(raw or b"{}") if validation else json.loads(raw or b"{}")
        elif media == protobuf.MEDIA_TYPE:
            body = protobuf.decode_object(raw)
        else:
            raise UnsupportedMediaType(
                f'the body of the request was in an unknown format ("{media}") - '
                "accepted media types include: application/json, application/yaml"
            )
    except protobuf.UnsupportedKind as err:
        raise UnsupportedMediaType(str(err)) from None
    except (ValueError, yaml.YAMLError) as err:
        raise BadRequest(f"the request body is not valid {media}: {err}") from None
    except RecursionError:
        raise BadRequest(
            f"the request body ({media}) is nested too deeply to decode; send an object nested at most "
            f"{MAX_DEPTH} levels deep"
        ) from None
    check_shape(body)
    if not isinstance(body, dict):
        raise BadRequest(f"the request body must be a JSON object, not {type(body).__name__}")
    return body


async def _read_object(
    request: web.Request,
    rt: ResourceType,
    registry: ResourceRegistry,
    validation: FieldValidation | None = None,
) -> dict[str, Any]:
    """The request's object in the endpoint's version. Another served version of the same kind is accepted and
    relabelled: all versions share storage (a CRD's None conversion)."""
    body = await _read_json(request, validation)
    check_meta_types(body)
    api_version = body.get("apiVersion") or rt.api_version
    kind = body.get("kind") or rt.kind
    other = registry.by_kind(str(api_version), str(kind)) if api_version != rt.api_version else None
    if other is not None and other.storage_key == rt.storage_key:
        api_version = rt.api_version
    if api_version != rt.api_version:
        raise BadRequest(
            f"the API version in the data ({api_version}) does not match "
            f"the expected API version ({rt.api_version})"
        )
    if kind != rt.kind:
        raise BadRequest(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")
    body["apiVersion"], body["kind"] = api_version, kind
    return body


async def _read_patch(request: web.Request, validation: FieldValidation | None = None) -> tuple[str, Any]:
    media = _media_type(request)
    if media not in PATCH_TYPES:
        raise UnsupportedMediaType(
            f'the body of the request was in an unknown format ("{media}") - accepted media types include: '
            + ", ".join(sorted(PATCH_TYPES))
        )
    try:
        raw = (await request.read()).decode()
        if media == "application/apply-patch+yaml":
            patch = codec.load_yaml(raw)
        else:
            patch = validation.loads(raw or "null") if validation else json.loads(raw or "null")
    except (ValueError, yaml.YAMLError) as err:
        raise BadRequest(f"the {media} patch is not valid: {err}") from None
    except RecursionError:
        raise BadRequest(
            f"the {media} patch is nested too deeply to decode; "
            f"send a patch nested at most {MAX_DEPTH} levels deep"
        ) from None
    check_shape(patch, f"the {media} patch")
    if media == "application/json-patch+json" and not isinstance(patch, list):
        raise BadRequest("a JSON patch (application/json-patch+json) must be a list of operations")
    if media != "application/json-patch+json" and not isinstance(patch, dict):
        raise BadRequest(f"a {media} patch must be a JSON object")
    return media, patch


def _check_namespace(body: dict[str, Any], namespace: str | None) -> None:
    given = (body.get("metadata") or {}).get("namespace")
    if namespace is not None and given and given != namespace:
        raise BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
        )


async def _delete_options(request: web.Request) -> dict[str, Any]:
    query = request.query
    body: dict[str, Any] = {}
    if request.can_read_body:
        raw = await request.read()
        if _media_type(request) == protobuf.MEDIA_TYPE:
            try:
                parsed = protobuf.decode_object(raw)
            except protobuf.ProtobufError as err:
                raise BadRequest(f"the DeleteOptions body is not valid protobuf: {err}") from None
            if parsed.get("kind") != "DeleteOptions":
                raise BadRequest(f"the body of a DELETE must be DeleteOptions, not {parsed.get('kind')}")
            body = parsed
        elif raw.strip():
            try:
                parsed = json.loads(raw)
            except (ValueError, RecursionError) as err:
                raise BadRequest(f"the DeleteOptions body is not valid JSON: {err}") from None
            if not isinstance(parsed, dict):
                raise BadRequest("the DeleteOptions body must be a JSON object")
            body = parsed
    propagation = body.get("propagationPolicy") or query.get("propagationPolicy")
    orphan = body.get("orphanDependents")
    if orphan is None and "orphanDependents" in query:
        orphan = _flag(query, "orphanDependents")
    if propagation is None:
        propagation = "Orphan" if orphan else "Background"
    if propagation not in _PROPAGATION:
        raise BadRequest(f'propagationPolicy is "{propagation}"; use one of Orphan, Background or Foreground')
    grace = body.get("gracePeriodSeconds")
    if grace is None:
        grace = _int_param(query, "gracePeriodSeconds")
    dry_values = [str(v) for v in body.get("dryRun") or query.getall("dryRun", None) or []]
    preconditions = body.get("preconditions") or None
    if preconditions is not None and not isinstance(preconditions, dict):
        raise BadRequest("preconditions must be an object with uid and/or resourceVersion")
    return {
        "propagation": propagation,
        "grace": grace,
        "dry_run": _dry_run(dry_values),
        "preconditions": preconditions,
    }
