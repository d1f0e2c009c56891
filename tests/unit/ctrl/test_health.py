"""ProbeServer: /healthz and /readyz with named checks, /metrics exposition."""

from __future__ import annotations

import aiohttp
from prometheus_client import CollectorRegistry, Counter

from kaito.ctrl.health import ProbeServer


async def test_probes_and_metrics_over_http(registry: CollectorRegistry) -> None:
    Counter("demo_things", "things", registry=registry).inc(3)
    server = ProbeServer(registry=registry)
    ready = {"value": False}

    async def cache_synced() -> bool:
        return ready["value"]

    def broken() -> bool:
        raise RuntimeError("check bug")

    server.ready_checks["informers"] = cache_synced
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url + "/healthz") as r:
                assert (r.status, await r.text()) == (200, "ok")
            async with http.get(server.url + "/readyz") as r:
                assert r.status == 500
                assert "[-]informers failed" in await r.text()
            ready["value"] = True
            async with http.get(server.url + "/readyz?verbose") as r:
                assert r.status == 200 and "[+]informers ok" in await r.text()
            server.health_checks["broken"] = broken
            async with http.get(server.url + "/healthz") as r:
                assert r.status == 500 and "[-]broken failed" in await r.text()
            async with http.get(server.url + "/metrics") as r:
                assert r.status == 200 and "demo_things_total 3.0" in await r.text()
    finally:
        await server.stop()
