"""Three real Kubernetes clients behind one small interface, so conformance assertions are written once.

Design
------
`ConformanceClient` is the whole seam: create/get/list/replace/patch/apply/delete, a watch that yields
`WatchEvent`s, and server-side Table printing. It is implemented three times, each with an unmodified client:

* `KubectlClient` shells out to the `kubectl` binary with the kubeconfig under test. Objects go in on stdin
  as JSON and come back with `-o json`; errors are parsed from kubectl's own "Error from server (Reason): ..."
  lines. kubectl re-wraps `get -o json` lists in a client-side `v1 List`, so the list's server resourceVersion
  is read with `kubectl get --raw` (kubectl's REST client: same kubeconfig, auth and TLS, body unchanged).
  `kubectl get --watch` can neither start at a chosen resourceVersion nor ask for bookmarks, so such watches
  go through `kubectl get --raw '...?watch=1&...'`; a plain watch uses `kubectl get --watch
  --output-watch-events`.
* `AsyncioClient` uses kubernetes-asyncio's DynamicClient (discovery-driven, so freshly applied CRDs work)
  and its typed `CoreV1Api` for watches, because only the typed API can send `allowWatchBookmarks`.
* `SyncClient` uses the official synchronous `kubernetes` package's DynamicClient, run in worker threads so
  the event loop serving kaito.sim keeps running.

Invariants every implementation keeps: objects are returned as plain wire-form dicts; every server failure
is raised as `ApiFailure(code, reason, message)` with the HTTP code of the kube Status (a watch ERROR event
counts as a failure of the watch); a watch stream ends (`next()` returns None) when the server closes it.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CLIENT_NAMES",
    "ApiFailure",
    "AsyncioClient",
    "ConformanceClient",
    "EventStream",
    "Kind",
    "KubectlClient",
    "ObjectList",
    "PatchType",
    "SyncClient",
    "Table",
    "WatchEvent",
    "open_client",
]

Obj = dict[str, Any]
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io"

# kube's StatusReason -> HTTP code, for clients (kubectl) that print only the reason.
_REASON_CODES = {
    "BadRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "NotAcceptable": 406,
    "AlreadyExists": 409,
    "Conflict": 409,
    "Gone": 410,
    "Expired": 410,
    "UnsupportedMediaType": 415,
    "Invalid": 422,
    "TooManyRequests": 429,
    "InternalError": 500,
    "ServiceUnavailable": 503,
    "Timeout": 504,
}


class ApiFailure(Exception):
    """A request the server refused: the HTTP code and reason of the kube Status, and its message."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> ApiFailure:
        code = int(status.get("code") or 0)
        return cls(code, str(status.get("reason") or ""), str(status.get("message") or ""))


@dataclass(frozen=True)
class Kind:
    """Enough of a resource type to address it with every client."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def kubectl_resource(self) -> str:
        """Fully qualified `plural.version.group`, so kubectl never guesses between same-named kinds."""
        return f"{self.plural}.{self.version}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        root = f"/apis/{self.api_version}" if self.group else f"/api/{self.version}"
        ns = f"/namespaces/{namespace}" if namespace and self.namespaced else ""
        return f"{root}{ns}/{self.plural}" + (f"/{name}" if name else "")


class PatchType(enum.Enum):
    """The three patch formats; value = (content type, kubectl --type)."""

    MERGE = ("application/merge-patch+json", "merge")
    JSON = ("application/json-patch+json", "json")
    STRATEGIC = ("application/strategic-merge-patch+json", "strategic")

    @property
    def content_type(self) -> str:
        return self.value[0]

    @property
    def kubectl_type(self) -> str:
        return self.value[1]


@dataclass(frozen=True)
class ObjectList:
    items: list[Obj]
    resource_version: str

    @property
    def names(self) -> set[str]:
        return {item["metadata"]["name"] for item in self.items}


@dataclass(frozen=True)
class WatchEvent:
    type: str
    object: Obj

    @property
    def name(self) -> str:
        return str(self.object.get("metadata", {}).get("name", ""))

    @property
    def resource_version(self) -> int:
        return int(self.object["metadata"]["resourceVersion"])


@dataclass(frozen=True)
class Table:
    """Server-side printing, normalised: column names upper-cased as kubectl shows them, cells as text."""

    columns: list[str]
    rows: list[list[str]]

    def row(self, name: str) -> dict[str, str]:
        for row in self.rows:
            if row and row[0] == name:
                return dict(zip(self.columns, row, strict=False))
        raise KeyError(f"no row named {name!r} in table {self.rows!r}")

    @classmethod
    def from_server(cls, table: Mapping[str, Any], *, wide: bool = True) -> Table:
        defs = table.get("columnDefinitions") or []
        keep = [i for i, d in enumerate(defs) if wide or not d.get("priority")]
        columns = [str(defs[i]["name"]).upper() for i in keep]
        rows = [[_cell_text(row["cells"][i]) for i in keep] for row in table.get("rows") or []]
        return cls(columns, rows)


def _cell_text(cell: Any) -> str:
    """A cell as kubectl prints it: `<none>` for null, numbers and strings as they are."""
    return "<none>" if cell is None else str(cell)


_END = object()


class EventStream(abc.ABC):
    """One open watch; events arrive on a queue fed by the client's reader (task, thread or subprocess)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._ended = False

    def _push(self, item: object) -> None:
        self._queue.put_nowait(item)

    def _push_threadsafe(self, item: object) -> None:
        with contextlib.suppress(RuntimeError):  # loop already closed at teardown
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _push_event(self, raw: Mapping[str, Any], push: Callable[[object], None]) -> None:
        if raw.get("type") == "ERROR":
            push(ApiFailure.from_status(raw.get("object") or {}))
        else:
            push(WatchEvent(str(raw["type"]), dict(raw["object"])))

    async def next(self, within_s: float) -> WatchEvent | None:
        """The next event; None once the server ended the stream; raises ApiFailure or TimeoutError."""
        if self._ended:
            return None
        item = await asyncio.wait_for(self._queue.get(), within_s)
        if item is _END:
            self._ended = True
            return None
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        assert isinstance(item, WatchEvent)
        return item

    async def take(self, count: int, within_s: float, *, names: set[str] | None = None) -> list[WatchEvent]:
        """The next `count` events about `names` (any if None; no bookmarks), or fewer if the stream ended.

        Filtering by name keeps assertions exact on a real cluster, where controllers add objects of their own
        (kube-root-ca.crt in every namespace) to the stream.
        """
        events: list[WatchEvent] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while len(events) < count:
            event = await self.next(max(0.0, deadline - loop.time()))
            if event is None:
                break
            if event.type == "BOOKMARK" or (names is not None and event.name not in names):
                continue
            events.append(event)
        return events

    @abc.abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class ConformanceClient(abc.ABC):
    """What a conformance assertion may ask of a client."""

    name: str

    @abc.abstractmethod
    async def create(self, obj: Obj) -> Obj:
        """Create `obj`; its apiVersion and kind say what it is."""

    @abc.abstractmethod
    async def get(self, kind: Kind, name: str, namespace: str | None = None) -> Obj: ...

    @abc.abstractmethod
    async def list(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> ObjectList: ...

    @abc.abstractmethod
    async def replace(self, kind: Kind, obj: Obj, *, subresource: str | None = None) -> Obj: ...

    @abc.abstractmethod
    async def patch(
        self,
        kind: Kind,
        name: str,
        body: Any,
        patch_type: PatchType,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
    ) -> Obj: ...

    @abc.abstractmethod
    async def apply(self, kind: Kind, obj: Obj, *, field_manager: str, force: bool = False) -> Obj: ...

    @abc.abstractmethod
    async def delete(
        self, kind: Kind, name: str, namespace: str | None = None, *, propagation: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    async def watch(
        self,
        kind: Kind,
        namespace: str,
        *,
        resource_version: str | None = None,
        allow_bookmarks: bool = False,
        timeout_s: int = 30,
    ) -> EventStream:
        """Open a watch; resource_version None means "current state first, as synthetic ADDED events"."""

    @abc.abstractmethod
    async def table(self, kind: Kind, namespace: str) -> Table:
        """The server's Table for a list, every column (kubectl: `get -o wide`)."""

    async def close(self) -> None:
        return None


# ------------------------------------------------------------------------------------------------ kubectl


def _kubectl_failure(stderr: str) -> ApiFailure:
    """kubectl prints `Error from server (Reason): message`; 422 and apply conflicts in words of its own."""
    match = re.search(r"Error from server \((\w+)\): (.*)", stderr, re.S)
    if match:
        reason, message = match.group(1), match.group(2).strip()
        return ApiFailure(_REASON_CODES.get(reason, 0), reason, message)
    match = re.search(r'(The \S+ "[^"]*" is invalid: .*)', stderr, re.S)
    if match:
        return ApiFailure(422, "Invalid", match.group(1).strip())
    # `apply --server-side` turns a 409 field-manager conflict into its own advice, without the reason.
    match = re.search(r"error: (Apply failed with \d+ conflicts?: [^\n]*)", stderr)
    if match:
        return ApiFailure(409, "Conflict", match.group(1).strip())
    return ApiFailure(0, "Unknown", stderr.strip())


def _parse_wide(text: str) -> Table:
    """kubectl's aligned columns: each cell starts where its header starts (a header such as NOMINATED NODE
    holds one space; an empty cell is blank), so cells are cut at the header offsets, not split on spaces."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return Table([], [])
    headers = list(re.finditer(r"\S+(?: \S+)*", lines[0]))
    bounds = [h.start() for h in headers] + [None]
    rows = [[line[bounds[i] : bounds[i + 1]].strip() for i in range(len(headers))] for line in lines[1:]]
    return Table([h.group() for h in headers], rows)


class _JsonObjects:
    """Incremental decoder for a stream of concatenated JSON documents (pretty-printed or one per line)."""

    def __init__(self) -> None:
        self._buffer = ""
        self._decoder = json.JSONDecoder()

    def feed(self, text: str) -> Iterator[Any]:
        self._buffer += text
        while True:
            stripped = self._buffer.lstrip()
            if not stripped:
                self._buffer = ""
                return
            try:
                value, end = self._decoder.raw_decode(stripped)
            except json.JSONDecodeError:
                self._buffer = stripped
                return
            self._buffer = stripped[end:]
            yield value


class _KubectlStream(EventStream):
    def __init__(self, argv: list[str]) -> None:
        super().__init__()
        self._argv = argv
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            *self._argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None and self._proc.stderr is not None
        decoder = _JsonObjects()
        while chunk := await self._proc.stdout.read(65536):
            for raw in decoder.feed(chunk.decode()):
                self._push_event(raw, self._push)
        stderr = (await self._proc.stderr.read()).decode()
        if await self._proc.wait() != 0:
            self._push(_kubectl_failure(stderr))
        self._push(_END)

    async def aclose(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._proc is not None:
            await self._proc.wait()


class KubectlClient(ConformanceClient):
    """The kubectl binary, one subprocess per call."""

    name = "kubectl"

    def __init__(self, kubeconfig: Path, cache_dir: Path, binary: str = "kubectl") -> None:
        # Writes pass --validate=false: the assertions are about the server, which kubectl's client-side
        # schema check would otherwise pre-empt.
        self._base = [
            binary,
            f"--kubeconfig={kubeconfig}",
            f"--cache-dir={cache_dir}",
            "--request-timeout=30s",
        ]

    async def run(self, *args: str, stdin: Obj | None = None) -> str:
        """`kubectl ARGS` with the kubeconfig under test; its stdout, or ApiFailure from its stderr."""
        proc = await asyncio.create_subprocess_exec(
            *self._base,
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate(json.dumps(stdin).encode() if stdin is not None else None)
        if proc.returncode != 0:
            raise _kubectl_failure(err.decode())
        return out.decode()

    async def _run_json(self, *args: str, stdin: Obj | None = None) -> Obj:
        if "-o" in args:  # kubectl strips metadata.managedFields from what it prints unless asked
            args = (*args, "--show-managed-fields")
        result: Obj = json.loads(await self.run(*args, stdin=stdin))
        return result

    @staticmethod
    def _ns(kind: Kind, namespace: str | None) -> list[str]:
        if not kind.namespaced:
            return []
        return [f"--namespace={namespace}"] if namespace else ["--all-namespaces"]

    async def create(self, obj: Obj) -> Obj:
        return await self._run_json("create", "--validate=false", "-f", "-", "-o", "json", stdin=obj)

    async def get(self, kind: Kind, name: str, namespace: str | None = None) -> Obj:
        return await self._run_json(
            "get", kind.kubectl_resource, name, *self._ns(kind, namespace), "-o", "json"
        )

    async def list(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> ObjectList:
        query = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v}
        path = kind.path(namespace) + ("?" + urllib.parse.urlencode(query) if query else "")
        listed = await self._run_json("get", "--raw", path)
        args = ["get", kind.kubectl_resource, *self._ns(kind, namespace), "-o", "json"]
        if label_selector:
            args.append(f"--selector={label_selector}")
        if field_selector:
            args.append(f"--field-selector={field_selector}")
        # The items come from kubectl's own `get` (its selector flags); the list resourceVersion from --raw.
        got = await self._run_json(*args)
        return ObjectList(got["items"], str(listed["metadata"].get("resourceVersion", "")))

    async def replace(self, kind: Kind, obj: Obj, *, subresource: str | None = None) -> Obj:
        sub = [f"--subresource={subresource}"] if subresource else []
        return await self._run_json("replace", "--validate=false", *sub, "-f", "-", "-o", "json", stdin=obj)

    async def patch(
        self,
        kind: Kind,
        name: str,
        body: Any,
        patch_type: PatchType,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
    ) -> Obj:
        sub = [f"--subresource={subresource}"] if subresource else []
        return await self._run_json(
            "patch",
            kind.kubectl_resource,
            name,
            *self._ns(kind, namespace),
            f"--type={patch_type.kubectl_type}",
            f"--patch={json.dumps(body)}",
            *sub,
            "-o",
            "json",
        )

    async def apply(self, kind: Kind, obj: Obj, *, field_manager: str, force: bool = False) -> Obj:
        flags = ["--server-side", f"--field-manager={field_manager}", "--validate=false"]
        if force:
            flags.append("--force-conflicts")
        return await self._run_json("apply", *flags, "-f", "-", "-o", "json", stdin=obj)

    async def delete(
        self, kind: Kind, name: str, namespace: str | None = None, *, propagation: str | None = None
    ) -> None:
        cascade = [f"--cascade={propagation.lower()}"] if propagation else []
        await self.run(
            "delete", kind.kubectl_resource, name, *self._ns(kind, namespace), "--wait=false", *cascade
        )

    async def watch(
        self,
        kind: Kind,
        namespace: str,
        *,
        resource_version: str | None = None,
        allow_bookmarks: bool = False,
        timeout_s: int = 30,
    ) -> EventStream:
        if resource_version is None and not allow_bookmarks:
            argv = [*self._base, "get", kind.kubectl_resource, f"--namespace={namespace}", "--watch"]
            argv += ["--output-watch-events", "-o", "json", f"--request-timeout={timeout_s}s"]
        else:
            query = {"watch": "1", "timeoutSeconds": str(timeout_s)}
            if resource_version is not None:
                query["resourceVersion"] = resource_version
            if allow_bookmarks:
                query["allowWatchBookmarks"] = "true"
            argv = [*self._base, "get", "--raw", f"{kind.path(namespace)}?{urllib.parse.urlencode(query)}"]
        stream = _KubectlStream(argv)
        await stream.start()
        return stream

    async def table(self, kind: Kind, namespace: str) -> Table:
        return _parse_wide(
            await self.run("get", kind.kubectl_resource, *self._ns(kind, namespace), "-o", "wide")
        )


# -------------------------------------------------------------------------------------------- python clients


def _exception_failure(exc: Exception) -> ApiFailure:
    """Both python clients raise ApiException: a status and either a Status body or "Reason: message"."""
    status = int(getattr(exc, "status", 0) or 0)
    body = getattr(exc, "body", None)
    if body:
        try:
            parsed = json.loads(body)
        except (TypeError, ValueError):
            parsed = None
        if isinstance(parsed, dict) and parsed.get("kind") == "Status":
            code = status or int(parsed.get("code") or 0)
            return ApiFailure(code, parsed.get("reason", ""), parsed.get("message", ""))
    reason, _, message = str(getattr(exc, "reason", "") or "").partition(": ")
    return ApiFailure(status, reason, message or str(body or exc))


def _to_dict(value: Any) -> Obj:
    result: Obj = value.to_dict() if hasattr(value, "to_dict") else dict(value)
    return result


class _DynamicClient(ConformanceClient):
    """The verbs both Python clients share: each is one call of their DynamicClient, made by `_call`."""

    def __init__(self, api_client: Any, dynamic: Any) -> None:
        self._api = api_client
        self._dyn = dynamic

    @abc.abstractmethod
    async def _call(self, method: str, kind: Kind, **kwargs: Any) -> Obj:
        """`DynamicClient.<method>(resource, **kwargs)` as a wire-form dict; failures raise ApiFailure."""

    async def create(self, obj: Obj) -> Obj:
        kind = Kind(obj["apiVersion"], obj["kind"], plural="")
        return await self._call("create", kind, body=obj, namespace=obj["metadata"].get("namespace"))

    async def get(self, kind: Kind, name: str, namespace: str | None = None) -> Obj:
        return await self._call("get", kind, name=name, namespace=namespace)

    async def list(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> ObjectList:
        got = await self._call(
            "get", kind, namespace=namespace, label_selector=label_selector, field_selector=field_selector
        )
        return ObjectList(got["items"], str(got["metadata"].get("resourceVersion", "")))

    async def replace(self, kind: Kind, obj: Obj, *, subresource: str | None = None) -> Obj:
        meta = obj["metadata"]
        return await self._call(
            "replace",
            kind,
            body=obj,
            name=meta["name"],
            namespace=meta.get("namespace"),
            subresource=subresource,
        )

    async def patch(
        self,
        kind: Kind,
        name: str,
        body: Any,
        patch_type: PatchType,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
    ) -> Obj:
        return await self._call(
            "patch",
            kind,
            body=body,
            name=name,
            namespace=namespace,
            content_type=patch_type.content_type,
            subresource=subresource,
        )

    async def apply(self, kind: Kind, obj: Obj, *, field_manager: str, force: bool = False) -> Obj:
        meta = obj["metadata"]
        return await self._call(
            "server_side_apply",
            kind,
            body=obj,
            name=meta["name"],
            namespace=meta.get("namespace"),
            field_manager=field_manager,
            force_conflicts=force or None,
        )

    async def delete(
        self, kind: Kind, name: str, namespace: str | None = None, *, propagation: str | None = None
    ) -> None:
        await self._call("delete", kind, name=name, namespace=namespace, propagation_policy=propagation)

    async def table(self, kind: Kind, namespace: str) -> Table:
        got = await self._call("get", kind, namespace=namespace, header_params={"Accept": TABLE_ACCEPT})
        return Table.from_server(got)


def _watch_kwargs(
    kind: Kind, resource_version: str | None, allow_bookmarks: bool, timeout_s: int
) -> dict[str, Any]:
    """The keyword arguments of `CoreV1Api.list_namespaced_config_map` for a watch (both Python clients)."""
    if (kind.api_version, kind.kind) != ("v1", "ConfigMap"):
        raise ValueError(f"watch is wired for v1 ConfigMap only, not {kind.api_version} {kind.kind}")
    kwargs: dict[str, Any] = {"timeout_seconds": timeout_s, "_request_timeout": timeout_s + 10}
    if resource_version is not None:
        kwargs["resource_version"] = resource_version
    if allow_bookmarks:
        kwargs["allow_watch_bookmarks"] = True
    return kwargs


class AsyncioClient(_DynamicClient):
    """kubernetes-asyncio: DynamicClient for every kind, typed CoreV1Api for watches (bookmarks)."""

    name = "kubernetes_asyncio"

    @classmethod
    async def connect(cls, kubeconfig: Path, cache_file: Path) -> AsyncioClient:
        from kubernetes_asyncio import client, config, dynamic

        cfg = client.Configuration()
        await config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
        api = client.ApiClient(cfg)
        dyn = await dynamic.DynamicClient(api, cache_file=str(cache_file))
        return cls(api, dyn)

    async def _resource(self, kind: Kind) -> Any:
        from kubernetes_asyncio.dynamic.exceptions import ResourceNotFoundError

        try:
            return await self._dyn.resources.get(api_version=kind.api_version, kind=kind.kind)
        except ResourceNotFoundError:
            # A CRD applied after discovery was cached: rediscover once, as controllers do.
            await self._dyn.resources.invalidate_cache()
            return await self._dyn.resources.get(api_version=kind.api_version, kind=kind.kind)

    async def _call(self, method: str, kind: Kind, **kwargs: Any) -> Obj:
        from kubernetes_asyncio.client.exceptions import ApiException

        resource = await self._resource(kind)
        if kwargs.pop("subresource", None) == "status":
            resource = resource.subresources["status"]
        try:
            result = _to_dict(await getattr(self._dyn, method)(resource, **kwargs))
        except ApiException as exc:
            raise _exception_failure(exc) from exc
        # kubernetes-asyncio's DynamicClient reads responses unpreloaded, so an error Status comes back as the
        # result instead of an ApiException.
        if result.get("kind") == "Status" and result.get("status") == "Failure":
            raise ApiFailure.from_status(result)
        return result

    async def watch(
        self,
        kind: Kind,
        namespace: str,
        *,
        resource_version: str | None = None,
        allow_bookmarks: bool = False,
        timeout_s: int = 30,
    ) -> EventStream:
        from kubernetes_asyncio import client, watch
        from kubernetes_asyncio.client.exceptions import ApiException

        kwargs = _watch_kwargs(kind, resource_version, allow_bookmarks, timeout_s)
        core = client.CoreV1Api(self._api)

        class Stream(EventStream):
            async def pump(self) -> None:
                try:
                    async with watch.Watch() as w:
                        async for raw in w.stream(core.list_namespaced_config_map, namespace, **kwargs):
                            self._push(WatchEvent(raw["type"], dict(raw["raw_object"])))
                except ApiException as exc:
                    self._push(_exception_failure(exc))
                self._push(_END)

            async def aclose(self) -> None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        stream = Stream()
        task = asyncio.create_task(stream.pump())
        return stream

    async def close(self) -> None:
        await self._api.close()


class SyncClient(_DynamicClient):
    """The official synchronous `kubernetes` client's DynamicClient, each call in a worker thread."""

    name = "kubernetes"

    @classmethod
    async def connect(cls, kubeconfig: Path, cache_file: Path) -> SyncClient:
        def build() -> SyncClient:
            from kubernetes import client, config, dynamic

            cfg = client.Configuration()
            config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
            api = client.ApiClient(cfg)
            return cls(api, dynamic.DynamicClient(api, cache_file=str(cache_file)))

        return await asyncio.to_thread(build)

    def _resource(self, kind: Kind) -> Any:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self._dyn.resources.get(api_version=kind.api_version, kind=kind.kind)
        except ResourceNotFoundError:
            self._dyn.resources.invalidate_cache()
            return self._dyn.resources.get(api_version=kind.api_version, kind=kind.kind)

    async def _call(self, method: str, kind: Kind, **kwargs: Any) -> Obj:
        from kubernetes.client.exceptions import ApiException

        def call() -> Obj:
            resource = self._resource(kind)
            if kwargs.pop("subresource", None) == "status":
                resource = resource.subresources["status"]
            try:
                return _to_dict(getattr(self._dyn, method)(resource, **kwargs))
            except ApiException as exc:
                raise _exception_failure(exc) from exc

        return await asyncio.to_thread(call)

    async def watch(
        self,
        kind: Kind,
        namespace: str,
        *,
        resource_version: str | None = None,
        allow_bookmarks: bool = False,
        timeout_s: int = 30,
    ) -> EventStream:
        from kubernetes import client, watch
        from kubernetes.client.exceptions import ApiException

        kwargs = _watch_kwargs(kind, resource_version, allow_bookmarks, timeout_s)
        core = client.CoreV1Api(self._api)
        w = watch.Watch()

        class Stream(EventStream):
            def pump(self) -> None:
                # Runs in a daemon thread; the server-side timeoutSeconds bounds its life after aclose().
                try:
                    for raw in w.stream(core.list_namespaced_config_map, namespace, **kwargs):
                        self._push_threadsafe(WatchEvent(raw["type"], dict(raw["raw_object"])))
                except ApiException as exc:
                    self._push_threadsafe(_exception_failure(exc))
                except Exception as exc:  # connection torn down by aclose() or by the server stopping
                    self._push_threadsafe(ApiFailure(0, "ConnectionError", repr(exc)))
                self._push_threadsafe(_END)

            async def aclose(self) -> None:
                w.stop()
                resp = getattr(w, "_resp", None)
                if resp is not None:
                    with contextlib.suppress(Exception):
                        resp.shutdown()

        stream = Stream()
        threading.Thread(target=stream.pump, name="conformance-sync-watch", daemon=True).start()
        return stream

    async def close(self) -> None:
        await asyncio.to_thread(self._api.close)


CLIENT_NAMES = ("kubectl", "kubernetes_asyncio", "kubernetes")


async def open_client(name: str, kubeconfig: Path, scratch: Path) -> ConformanceClient:
    """Connect the named client to the cluster in `kubeconfig`; `scratch` holds its discovery caches."""
    await asyncio.to_thread(scratch.mkdir, parents=True, exist_ok=True)
    if name == "kubectl":
        return KubectlClient(kubeconfig, scratch / "kubectl-cache")
    if name == "kubernetes_asyncio":
        return await AsyncioClient.connect(kubeconfig, scratch / "asyncio-discovery.json")
    if name == "kubernetes":
        return await SyncClient.connect(kubeconfig, scratch / "sync-discovery.json")
    raise ValueError(f"unknown client {name!r}; expected one of {', '.join(CLIENT_NAMES)}")
