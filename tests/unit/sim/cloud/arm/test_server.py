"""The ARM endpoint's HTTP protocol (auth, api-version, scopes, LRO headers, paging, faults) over real TLS.

The SDK-level behaviour is in tests/integration/sim/test_arm_sdk.py; here a plain aiohttp client checks the
wire details the SDK relies on, in fake time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kaito.sim.cloud.arm.clock import ManualClock
from kaito.sim.cloud.arm.server import ArmServer
from kaito.sim.server.store import Store
from kaito.sim.server.tls import TlsBundle

API = "api-version=2026-08-01"
SUB = "00000000-0000-0000-0000-000000000000"
CLUSTER = (
    f"/subscriptions/{SUB}/resourceGroups/kaito-rg/providers/Microsoft.ContainerService/managedClusters/kaito"
)
AUTH = {"Authorization": "Bearer token"}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsBundle:
    return TlsBundle.generate(tmp_path_factory.mktemp("arm-tls"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def arm(tls: TlsBundle, clock: ManualClock) -> AsyncIterator[ArmServer]:
    server = ArmServer(Store(), tls=tls, clock=clock, provisioning_s=2, node_ready_after_s=1, page_size=2)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def http(tls: TlsBundle) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=tls.client_context())
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


async def _call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    async with http.request(method, url, json=body, headers=AUTH if headers is None else headers) as response:
        payload = await response.json() if response.content_length else None
        return response.status, dict(response.headers), payload


def _pool(vm_size: str = "Standard_NC24ads_A100_v4", count: int = 1) -> dict[str, Any]:
    return {"properties": {"vmSize": vm_size, "count": count, "mode": "User"}}


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [({}, "header is missing"), ({"Authorization": "Basic dXNlcjpwdw=="}, "invalid format")],
)
async def test_requests_without_a_bearer_token_get_401(
    arm: ArmServer, http: aiohttp.ClientSession, headers: dict[str, str], fragment: str
) -> None:
    status, response_headers, body = await _call(
        http, "GET", f"{arm.url}{CLUSTER}/agentPools?{API}", headers=headers
    )
    assert status == 401 and body["error"]["code"] == "AuthenticationFailed"
    assert fragment in body["error"]["message"]
    assert response_headers["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        (f"{CLUSTER}/agentPools", 400, "MissingApiVersionParameter"),
        (f"{CLUSTER}/agentPools?api-version=latest", 400, "InvalidApiVersionParameter"),
        (
            f"/subscriptions/other/resourceGroups/kaito-rg/providers/Microsoft.ContainerService/managedClusters/kaito/agentPools?{API}",
            404,
            "SubscriptionNotFound",
        ),
        (
            f"/subscriptions/{SUB}/resourceGroups/nope/providers/Microsoft.ContainerService/managedClusters/kaito/agentPools?{API}",
            404,
            "ResourceGroupNotFound",
        ),
        (
            f"/subscriptions/{SUB}/resourceGroups/kaito-rg/providers/Microsoft.ContainerService/managedClusters/x/agentPools?{API}",
            404,
            "ResourceNotFound",
        ),
        (f"{CLUSTER}/agentPools/missing?{API}", 404, "NotFound"),
        (
            f"/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines?{API}",
            404,
            "InvalidResourceType",
        ),
    ],
)
async def test_errors_have_arms_shape_and_codes(
    arm: ArmServer, http: aiohttp.ClientSession, path: str, status: int, code: str
) -> None:
    got_status, headers, body = await _call(http, "GET", f"{arm.url}{path}")
    assert (got_status, body["error"]["code"]) == (status, code)
    assert body["error"]["message"]
    assert headers["x-ms-request-id"]


async def test_paths_match_case_insensitively_like_arm(arm: ArmServer, http: aiohttp.ClientSession) -> None:
    status, _, body = await _call(http, "GET", f"{arm.url}{CLUSTER.lower()}/agentpools?{API}")
    assert (status, body) == (200, {"value": []})


async def test_create_poll_and_delete_through_the_lro_urls(
    arm: ArmServer, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    url = f"{arm.url}{CLUSTER}/agentPools/gpu?{API}"
    status, headers, body = await _call(http, "PUT", url, body=_pool())
    assert (status, body["properties"]["provisioningState"]) == (201, "Creating")
    assert headers["Retry-After"] == "1"
    operation_url = headers["Azure-AsyncOperation"]
    assert operation_url.startswith(
        f"{arm.url}/subscriptions/{SUB}/providers/Microsoft.ContainerService/locations/"
    )
    assert operation_url.endswith(API)
    assert (await _call(http, "GET", operation_url))[2]["status"] == "InProgress"

    clock.advance(2)
    status, _, operation = await _call(http, "GET", operation_url)
    assert (status, operation["status"]) == (200, "Succeeded")
    status, _, again = await _call(http, "PUT", url, body=_pool(count=1))
    assert (status, again["properties"]["provisioningState"]) == (200, "Updating")
    clock.advance(2)

    status, headers, _ = await _call(http, "DELETE", url)
    assert status == 202 and "Azure-AsyncOperation" in headers
    location = headers["Location"]
    assert (await _call(http, "GET", location))[0] == 202
    clock.advance(2)
    assert (await _call(http, "GET", location))[0] == 204
    assert (await _call(http, "GET", url))[0] == 404
    assert (await _call(http, "DELETE", url))[0] == 204


async def test_failed_operation_reports_its_error_in_both_status_resources(
    arm: ArmServer, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    arm.faults.allocation_failures(1)
    _, headers, _ = await _call(http, "PUT", f"{arm.url}{CLUSTER}/agentPools/gpu?{API}", body=_pool())
    clock.advance(2)
    _, _, operation = await _call(http, "GET", headers["Azure-AsyncOperation"])
    assert operation["status"] == "Failed" and operation["error"]["code"] == "AllocationFailed"
    result_url = headers["Azure-AsyncOperation"].replace("/operations/", "/operationresults/")
    status, _, body = await _call(http, "GET", result_url)
    assert (status, body["error"]["code"]) == (400, "AllocationFailed")


async def test_list_pages_by_next_link(arm: ArmServer, http: aiohttp.ClientSession) -> None:
    for index in range(5):
        await _call(
            http, "PUT", f"{arm.url}{CLUSTER}/agentPools/p{index}?{API}", body=_pool("Standard_D4s_v3")
        )
    names: list[str] = []
    url: str | None = f"{arm.url}{CLUSTER}/agentPools?{API}"
    pages = 0
    while url:
        _, _, page = await _call(http, "GET", url)
        names += [pool["name"] for pool in page["value"]]
        url, pages = page.get("nextLink"), pages + 1
    assert (names, pages) == (["p0", "p1", "p2", "p3", "p4"], 3)


async def test_managed_cluster_get(arm: ArmServer, http: aiohttp.ClientSession) -> None:
    status, _, cluster = await _call(http, "GET", f"{arm.url}{CLUSTER}?{API}")
    assert status == 200 and cluster["properties"]["nodeResourceGroup"] == "MC_kaito-rg_kaito_eastus"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [(b"{not json", "could not be deserialized"), (b"[]", "must be a JSON object")],
)
async def test_unreadable_bodies_are_refused(
    arm: ArmServer, http: aiohttp.ClientSession, raw: bytes, fragment: str
) -> None:
    headers = AUTH | {"Content-Type": "application/json"}
    async with http.put(f"{arm.url}{CLUSTER}/agentPools/gpu?{API}", data=raw, headers=headers) as response:
        body = await response.json()
    assert response.status == 400 and body["error"]["code"] == "InvalidRequestContent"
    assert fragment in body["error"]["message"]


async def test_method_not_served_is_405(arm: ArmServer, http: aiohttp.ClientSession) -> None:
    status, _, body = await _call(http, "POST", f"{arm.url}{CLUSTER}/agentPools?{API}")
    assert (status, body["error"]["code"]) == (405, "MethodNotAllowed")


async def test_throttle_and_server_error_knobs_answer_before_routing(
    arm: ArmServer, http: aiohttp.ClientSession
) -> None:
    arm.faults.throttle(1, retry_after_s=7)
    arm.faults.server_errors(1, status=503)
    url = f"{arm.url}{CLUSTER}/agentPools?{API}"
    throttled, failing, fine = [await _call(http, "GET", url) for _ in range(3)]
    assert (throttled[0], throttled[1]["Retry-After"], throttled[2]["error"]["code"]) == (
        429,
        "7",
        "TooManyRequests",
    )
    assert (failing[0], failing[2]["error"]["code"]) == (503, "ServiceUnavailable")
    assert fine[0] == 200


async def test_server_refuses_to_start_twice_and_url_needs_start(tls: TlsBundle) -> None:
    server = ArmServer(Store(), tls=tls)
    with pytest.raises(RuntimeError, match="has not been started"):
        _ = server.url
    async with server:
        with pytest.raises(RuntimeError, match="already serving"):
            await server.start()
        assert server.url.startswith("https://127.0.0.1:") and server.ca_path == str(tls.ca_path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"provisioning_s": -1}, "provisioning_s is -1"), ({"page_size": 0}, "page_size is 0")],
)
def test_bad_settings_are_refused(tls: TlsBundle, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ArmServer(Store(), tls=tls, **kwargs)
