"""The probe and metrics HTTP server: /healthz, /readyz and /metrics on aiohttp.

Checks are named functions returning bool (plain or async). /healthz and /readyz answer 200 "ok" when
every check passes, else 500 listing each check as "[+]name ok" / "[-]name failed" (the kube-apiserver
format; also given on 200 with ?verbose). /metrics serves a prometheus-client registry in the text
exposition format. Port 0 picks a free port (see `.port` after `start()`).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from kaito.ctrl.metrics import default_registry

if TYPE_CHECKING:  # aiohttp's server is imported when the probe server starts
    from aiohttp import web
    from prometheus_client import CollectorRegistry

__all__ = ["Check", "ProbeServer"]

log = logging.getLogger("kaito.ctrl.health")

Check = Callable[[], bool | Awaitable[bool]]


class ProbeServer:
    """Serves health, readiness and metrics."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, registry: CollectorRegistry | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.registry = registry or default_registry()
        self.health_checks: dict[str, Check] = {"ping": lambda: True}
        self.ready_checks: dict[str, Check] = {}
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("serving probes and metrics on %s", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @staticmethod
    async def evaluate(checks: dict[str, Check]) -> dict[str, bool]:
        """Run every check; an exception counts as a failure."""
        results: dict[str, bool] = {}
        for name, check in checks.items():
            try:
                outcome = check()
                results[name] = bool(await outcome) if inspect.isawaitable(outcome) else bool(outcome)
            except Exception:
                log.exception("check %s raised", name)
                results[name] = False
        return results

    async def _answer(self, request: web.Request, checks: dict[str, Check]) -> web.Response:
        results = await self.evaluate(checks)
        healthy = all(results.values())
        from aiohttp import web

        if healthy and "verbose" not in request.query:
            return web.Response(text="ok")
        lines = [f"[{'+' if ok else '-'}]{name} {'ok' if ok else 'failed'}" for name, ok in results.items()]
        lines.append(f"{request.path[1:]} check {'passed' if healthy else 'failed'}")
        return web.Response(text="\n".join(lines) + "\n", status=200 if healthy else 500)

    async def _healthz(self, request: web.Request) -> web.Response:
        return await self._answer(request, self.health_checks)

    async def _readyz(self, request: web.Request) -> web.Response:
        return await self._answer(request, self.ready_checks)

    async def _metrics(self, request: web.Request) -> web.Response:
        from aiohttp import web
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
