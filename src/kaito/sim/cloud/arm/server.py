"""An embedded Azure Resource Manager endpoint for one AKS cluster's agent pools, over HTTPS on loopback.

Real clients (``azure.mgmt.containerservice``'s ``ContainerServiceClient``, sync and aio) talk to it with
``base_url=arm.url`` and ``connection_verify=arm.ca_path``; it has to be HTTPS because azure-core refuses
to send a bearer token over plain http. It serves, under any ``api-version`` of the form
``YYYY-MM-DD[-preview]``:

- ``GET|PUT|DELETE /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/
  managedClusters/{c}/agentPools/{p}`` and ``GET .../agentPools`` (paged with ``nextLink``/``$skipToken``);
- ``GET .../managedClusters/{c}`` (node resource group, pool profiles);
- the operation URLs its long-running-operation headers point at:
  ``/subscriptions/{s}/providers/Microsoft.ContainerService/locations/{l}/operations/{id}`` (the
  Azure-AsyncOperation status resource: InProgress -> Succeeded | Failed | Canceled, with ``error``) and
  ``.../operationresults/{id}`` (the Location form: 202 while running, then 204 or the resource).

Protocol, as ARM does it: PUT answers 201 (new) / 200 (update) with the body in ``Creating``/``Updating``
plus ``Azure-AsyncOperation`` and ``Retry-After`` (whole seconds; azure-core's poller sleeps that long,
or its ``polling_interval`` when the header is 0); DELETE answers 202 with ``Azure-AsyncOperation`` and
``Location``, or 204 when there is no such pool; errors are ``{"error": {"code", "message"}}``. Every
request needs ``Authorization: Bearer <anything>`` (401 ``AuthenticationFailed`` otherwise), then passes
the fault knobs (:class:`~kaito.sim.cloud.arm.faults.ArmFaults`), then the api-version check. Path segments
match case-insensitively, as in ARM.

State lives in :class:`~kaito.sim.cloud.arm.pools.AgentPoolService`; this module only translates HTTP.
:meth:`ArmServer.snapshot` and :meth:`ArmServer.restore` carry that state across a restart (the ``arm``
section of a cluster snapshot, :mod:`kaito.sim.cloud.arm.snapshot`); a restarted endpoint listens on a new
port with a new CA, so a client follows it by reading ``url`` and ``ca_path`` again.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kaito.sim.cloud.arm.clock import Clock, LoopClock
from kaito.sim.cloud.arm.errors import ArmError
from kaito.sim.cloud.arm.faults import ArmFaults
from kaito.sim.cloud.arm.models import ClusterIds, render_managed_cluster
from kaito.sim.cloud.arm.pools import AgentPoolService, OperationRecord
from kaito.sim.cloud.arm.skus import resource_skus
from kaito.sim.cloud.arm.snapshot import check_ids, dump_arm, load_arm, records_of
from kaito.sim.server.store import Store
from kaito.sim.server.tls import TlsBundle

__all__ = ["DEFAULT_SUBSCRIPTION_ID", "ArmServer"]

DEFAULT_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"

_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
_CLUSTER = (
    r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
    r"/providers/microsoft\.containerservice/managedclusters/(?P<cluster>[^/]+)"
)
_LOCATION = r"/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.containerservice/locations/(?P<loc>[^/]+)"

Handler = Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse]]


class ArmServer:
    """The ARM endpoint of one simulated AKS cluster; ``start()`` it, point an SDK client at ``url``."""

    def __init__(
        self,
        store: Store,
        *,
        tls: TlsBundle | None = None,
        provisioning_s: float = 0.3,
        deletion_s: float | None = None,
        node_ready_after_s: float = 0.2,
        subscription_id: str = DEFAULT_SUBSCRIPTION_ID,
        resource_group: str = "kaito-rg",
        cluster_name: str = "kaito",
        location: str = "eastus",
        kubernetes_version: str = "1.32.7",
        retry_after_s: int = 1,
        page_size: int = 20,
        clock: Clock | None = None,
    ) -> None:
        for label, value in (
            ("provisioning_s", provisioning_s),
            ("node_ready_after_s", node_ready_after_s),
            ("retry_after_s", retry_after_s),
        ):
            if value < 0:
                raise ValueError(f"{label} is {value}; it must be 0 or more seconds")
        if page_size < 1:
            raise ValueError(f"page_size is {page_size}; a page holds at least 1 pool")
        self.tls = tls if tls is not None else TlsBundle.generate()
        self.ids = ClusterIds(subscription_id, resource_group, cluster_name, location, kubernetes_version)
        self.faults = ArmFaults()
        self.retry_after_s = retry_after_s
        self.page_size = page_size
        self.service = AgentPoolService(
            store,
            self.ids,
            faults=self.faults,
            clock=clock or LoopClock(),
            provisioning_s=provisioning_s,
            deletion_s=provisioning_s if deletion_s is None else deletion_s,
            node_ready_after_s=node_ready_after_s,
        )
        self._routes: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
            (re.compile(_CLUSTER + r"/agentpools/(?P<pool>[^/]+)/?$", re.I),
             {"GET": self._get_pool, "PUT": self._put_pool, "DELETE": self._delete_pool}),
            (re.compile(_CLUSTER + r"/agentpools/?$", re.I), {"GET": self._list_pools}),
            (re.compile(_CLUSTER + r"/?$", re.I), {"GET": self._get_cluster}),
            (re.compile(_LOCATION + r"/operations/(?P<op>[^/]+)/?$", re.I), {"GET": self._operation_status}),
            (re.compile(_LOCATION + r"/operationresults/(?P<op>[^/]+)/?$", re.I),
             {"GET": self._operation_result}),
            (re.compile(r"/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.compute/skus/?$", re.I),
             {"GET": self._list_skus}),
        ]  # fmt: skip
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # ------------------------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0 picks a free port) with the bundle's server certificate."""
        if self._runner is not None:
            raise RuntimeError(f"the ARM endpoint is already serving at {self._url}")
        app = web.Application(middlewares=[self._arm_middleware])
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=self.tls.server_context())
        await site.start()
        bound = runner.addresses[0][1]
        self._runner = runner
        self._url = f"https://{f'[{host}]' if ':' in host else host}:{bound}"

    async def stop(self) -> None:
        """Stop listening and cancel pending timers; pools and operations stay inspectable."""
        self.service.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ArmServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``, the SDK's ``base_url``."""
        if self._url is None:
            raise RuntimeError("the ARM endpoint has not been started; await start() first")
        return self._url

    @property
    def ca_path(self) -> str:
        """The CA certificate (PEM) clients must trust: ``connection_verify=arm.ca_path``."""
        return str(self.tls.ca_path)

    def pools(self) -> dict[str, dict[str, Any]]:
        """Every pool's ARM body by name, as GET would return it."""
        return {pool["name"]: pool for pool in self.service.list()}

    # ------------------------------------------------------------------------------ persistence
    def snapshot(self) -> dict[str, Any]:
        """The JSON-able ``arm`` section of a cluster snapshot: pools, operations, pending due times."""
        service = self.service
        return dump_arm(
            self.ids,
            service.pools,
            service.operations,
            ready_due=service.ready_due,
            addresses=service.addresses,
        )

    def restore(self, section: Any) -> None:
        """Take over the pools of a snapshot's ``arm`` section and re-arm their pending timers.

        Call it on a fresh endpoint, inside the event loop (the timers are the loop's). A ValueError says
        why the section cannot be restored here (another version, other cluster ids).
        """
        image = load_arm(section)
        check_ids(image, self.ids)
        pools, operations = records_of(image)
        self.service.restore(pools, operations, ready_due=dict(image.ready_due), addresses=image.addresses)

    # ------------------------------------------------------------------------------- plumbing
    @web.middleware
    async def _arm_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            _authenticate(request)
            fault = self.faults.take_request_fault(request.method)
            if fault is not None:
                raise fault
            _check_api_version(request)
            response = await handler(request)
        except ArmError as error:
            response = _error_response(error)
        request_id = str(uuid.uuid4())
        response.headers["x-ms-request-id"] = request_id
        response.headers["x-ms-correlation-request-id"] = request.headers.get(
            "x-ms-correlation-request-id", request_id
        )
        return response

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.rel_url.path
        for pattern, methods in self._routes:
            match = pattern.match(path)
            if match is None:
                continue
            handler = methods.get(request.method)
            if handler is None:
                raise ArmError(
                    405,
                    "MethodNotAllowed",
                    f"The HTTP method '{request.method}' is not supported for '{path}'; "
                    f"use {', '.join(sorted(methods))}.",
                )
            params = match.groupdict()
            self._check_scope(params)
            return await handler(request, params)
        raise ArmError(
            404,
            "InvalidResourceType",
            f"The resource path '{path}' is not served here; this endpoint serves "
            "Microsoft.ContainerService managedClusters and their agentPools, and Microsoft.Compute/skus.",
        )

    def _check_scope(self, params: dict[str, str]) -> None:
        ids = self.ids
        if params["sub"].lower() != ids.subscription_id.lower():
            raise ArmError(
                404, "SubscriptionNotFound", f"The subscription '{params['sub']}' could not be found."
            )
        if "rg" in params and params["rg"].lower() != ids.resource_group.lower():
            raise ArmError(
                404, "ResourceGroupNotFound", f"Resource group '{params['rg']}' could not be found."
            )
        if "cluster" in params and params["cluster"].lower() != ids.cluster_name.lower():
            raise ArmError(
                404,
                "ResourceNotFound",
                "The Resource 'Microsoft.ContainerService/managedClusters/"
                f"{params['cluster']}' under resource group '{params['rg']}' was not found. "
                "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            )
        if "loc" in params and params["loc"].lower() != ids.location.lower():
            raise ArmError(
                404,
                "LocationNotAvailableForResourceType",
                f"The location '{params['loc']}' is not served here.",
            )

    def _operation_urls(self, request: web.Request, record: OperationRecord) -> tuple[str, str]:
        api_version = request.query["api-version"]
        base = (
            f"{self.url}/subscriptions/{self.ids.subscription_id}/providers/Microsoft.ContainerService"
            f"/locations/{self.ids.location}"
        )
        return (
            f"{base}/operations/{record.id}?api-version={api_version}",
            f"{base}/operationresults/{record.id}?api-version={api_version}",
        )

    # ------------------------------------------------------------------------------- handlers
    async def _get_pool(self, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        return web.json_response(self.service.get(params["pool"]))

    async def _put_pool(self, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ArmError(
                400,
                "InvalidRequestContent",
                f"The request content was invalid and could not be deserialized: {exc}.",
            ) from exc
        status, pool, record = self.service.put(
            params["pool"],
            body,
            if_match=request.headers.get("If-Match"),
            if_none_match=request.headers.get("If-None-Match"),
        )
        async_url, _ = self._operation_urls(request, record)
        return web.json_response(
            pool,
            status=status,
            headers={"Azure-AsyncOperation": async_url, "Retry-After": str(self.retry_after_s)},
        )

    async def _delete_pool(self, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        record = self.service.delete(params["pool"], if_match=request.headers.get("If-Match"))
        if record is None:
            return web.Response(status=204)
        async_url, location = self._operation_urls(request, record)
        return web.Response(
            status=202,
            headers={
                "Azure-AsyncOperation": async_url,
                "Location": location,
                "Retry-After": str(self.retry_after_s),
            },
        )

    async def _list_pools(self, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        pools = self.service.list()
        token = request.query.get("$skipToken") or request.query.get("$skiptoken") or "0"
        if not token.isdigit():
            raise ArmError(
                400, "InvalidParameter", f"$skipToken '{token}' is not one this endpoint handed out."
            )
        offset = int(token)
        page: dict[str, Any] = {"value": pools[offset : offset + self.page_size]}
        if offset + self.page_size < len(pools):
            page["nextLink"] = (
                f"{self.url}{request.rel_url.path}?api-version={request.query['api-version']}"
                f"&$skipToken={offset + self.page_size}"
            )
        return web.json_response(page)

    async def _list_skus(self, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        return web.json_response(resource_skus(self.ids.location, request.query.get("$filter")))

    async def _get_cluster(self, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        specs = {name: record.spec for name, record in self.service.pools.items()}
        return web.json_response(render_managed_cluster(self.ids, specs))

    async def _operation_status(self, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        record = self.service.operation(params["op"])
        headers = {} if record.done else {"Retry-After": str(self.retry_after_s)}
        return web.json_response(record.render(self.ids), headers=headers)

    async def _operation_result(self, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        record = self.service.operation(params["op"])
        if not record.done:
            _, location = self._operation_urls(request, record)
            return web.Response(
                status=202, headers={"Location": location, "Retry-After": str(self.retry_after_s)}
            )
        if record.error is not None:
            raise ArmError(400, record.error["code"], record.error["message"])
        if record.kind != "delete" and record.pool in self.service.pools:
            return web.json_response(self.service.get(record.pool))
        return web.Response(status=204)


def _authenticate(request: web.Request) -> None:
    header = request.headers.get("Authorization")
    if header is None:
        problem = "The 'Authorization' header is missing."
    elif not re.match(r"^Bearer \S+", header):
        problem = "The 'Authorization' header is provided in an invalid format."
    else:
        return
    raise ArmError(
        401,
        "AuthenticationFailed",
        f"Authentication failed. {problem} Send 'Authorization: Bearer <token>'.",
        headers={
            "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common", '
            'error="invalid_token", error_description="The authentication failed because of missing '
            "'Authorization' header.\""
        },
    )


def _check_api_version(request: web.Request) -> None:
    version = request.query.get("api-version")
    if version is None:
        raise ArmError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if not _API_VERSION.match(version):
        raise ArmError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{version}' is invalid. The supported versions are dates of the form "
            "YYYY-MM-DD, optionally followed by -preview.",
        )


def _error_response(error: ArmError) -> web.Response:
    return web.json_response(error.body(), status=error.status, headers=error.headers)
