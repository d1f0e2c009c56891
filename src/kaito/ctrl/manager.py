"""The manager: one process's shared caches, controllers, leader election, probes and shutdown.

Start order (controller-runtime's):
    1. the probe/metrics server (/healthz, /readyz, /metrics)
    2. the shared informers — and wait for their caches to sync (`cache_sync_timeout`, else CacheSyncTimeout)
    3. runnables that do not need leader election
    4. with leader election: acquire the Lease, then start the leader-elected runnables (controllers by
       default) and keep renewing. Without leader election they start at once.

Readiness (/readyz) = caches synced; with `ready_requires_leadership=True`, also leading. The default
follows controller-runtime: a standby replica is Ready once its caches are warm, because a Deployment of
several leader-electing replicas whose standbys are never Ready cannot finish a rolling update (the new
pods stay standby while the old leader holds the Lease, so none becomes available).

Losing the lease cancels the leader-elected runnables at once (another replica may already be acting)
and makes `run()` raise LeaderElectionLost — a process should then exit non-zero (`run_until_stopped`
returns 1).

`stop()` (and SIGTERM/SIGINT after `install_signal_handlers()`) ends `run()` gracefully: runnables are asked
to stop and get `graceful_shutdown_timeout` seconds to finish the work in hand before being cancelled; a
held Lease is released so a successor starts at once.

`manager.client` talks to the API server directly; `manager.cached_client` (a `CachedClient`) serves
reads of watched kinds from the shared caches and sends writes to the API server: reconcilers should use
it (see `kaito.ctrl.cached_client` for the rules).

A runnable is anything with `async run(stop: asyncio.Event)` that returns soon after `stop` is set, and a
`need_leader_election` attribute (default True when absent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING, Any, Protocol

from kaito.ctrl.cached_client import CachedClient
from kaito.ctrl.client import Client
from kaito.ctrl.clock import Clock, SystemClock
from kaito.ctrl.controller import CacheSyncTimeout
from kaito.ctrl.errors import LeaderElectionLost
from kaito.ctrl.events import EventRecorder
from kaito.ctrl.health import Check, ProbeServer
from kaito.ctrl.informer import SharedInformerFactory
from kaito.ctrl.leader import LeaderElectionConfig, LeaderElector
from kaito.ctrl.metrics import default_registry

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["Manager", "Runnable", "run_until_stopped"]

log = logging.getLogger("kaito.ctrl.manager")


class Runnable(Protocol):
    """Something the manager runs until asked to stop."""

    async def run(self, stop: asyncio.Event) -> None: ...


class Manager:
    """Runs controllers and other runnables over shared caches, optionally as an elected leader."""

    def __init__(
        self,
        client: Client,
        *,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
        leader_election: LeaderElectionConfig | None = None,
        probe_host: str = "127.0.0.1",
        probe_port: int | None = 0,
        namespace: str | None = None,
        resync_period: float | None = None,
        cache_sync_timeout: float = 120.0,
        graceful_shutdown_timeout: float = 30.0,
        ready_requires_leadership: bool = False,
    ) -> None:
        self.client = client
        self.clock: Clock = clock or SystemClock()
        self.registry = registry or default_registry()
        self.informers = SharedInformerFactory(
            client, clock=self.clock, resync_period=resync_period, namespace=namespace
        )
        self.cached_client = CachedClient(client, self.informers)
        self.leader_election = leader_election
        self.elector = LeaderElector(client, leader_election, clock=self.clock) if leader_election else None
        self.cache_sync_timeout = cache_sync_timeout
        self.graceful_shutdown_timeout = graceful_shutdown_timeout
        self.probes = (
            ProbeServer(host=probe_host, port=probe_port, registry=self.registry)
            if probe_port is not None
            else None
        )
        self._runnables: list[Runnable] = []
        self._health: dict[str, Check] = {}
        self._ready: dict[str, Check] = {"informers": lambda: self.caches_synced}
        if self.elector is not None and ready_requires_leadership:
            self._ready["leader-election"] = lambda: self.is_leader
        self.caches_synced = False
        self.controller_names: set[str] = set()
        self._stop_requested: asyncio.Event | None = None
        self._stop_runnables: asyncio.Event | None = None
        self._tasks: dict[asyncio.Task[None], bool] = {}
        self._tasks_changed: asyncio.Event | None = None
        self._signals: list[signal.Signals] = []

    # ---- wiring -------------------------------------------------------------------------------------

    def add(self, runnable: Runnable) -> None:
        """Run `runnable` with the manager (leader-elected unless it says need_leader_election=False)."""
        self._runnables.append(runnable)

    def add_health_check(self, name: str, check: Check) -> None:
        self._health[name] = check

    def add_ready_check(self, name: str, check: Check) -> None:
        self._ready[name] = check

    def event_recorder(self, component: str) -> EventRecorder:
        return EventRecorder(self.client, component, clock=self.clock)

    @property
    def is_leader(self) -> bool:
        return self.elector.is_leader if self.elector is not None else True

    async def ready(self) -> bool:
        """What /readyz answers."""
        return all((await ProbeServer.evaluate(self._ready)).values())

    # ---- running ------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask `run()` to shut down gracefully."""
        if self._stop_requested is not None:
            self._stop_requested.set()

    def install_signal_handlers(self) -> None:
        """Make SIGTERM and SIGINT call `stop()`."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
            self._signals.append(sig)

    def _spawn(self, runnable: Runnable, leader: bool) -> None:
        assert self._stop_runnables is not None and self._tasks_changed is not None
        name = getattr(runnable, "name", type(runnable).__name__)
        task = asyncio.get_running_loop().create_task(
            runnable.run(self._stop_runnables), name=f"runnable {name}"
        )
        self._tasks[task] = leader
        self._tasks_changed.set()

    async def run(self) -> None:
        """Run until `stop()`; raises LeaderElectionLost, CacheSyncTimeout or a runnable's failure."""
        self._stop_requested = asyncio.Event()
        self._stop_runnables = asyncio.Event()
        self._tasks_changed = asyncio.Event()
        self._tasks = {}
        if self.probes is not None:
            self.probes.health_checks.update(self._health)
            self.probes.ready_checks = self._ready
            await self.probes.start()
        failure: BaseException | None = None
        lead_task: asyncio.Task[None] | None = None
        try:
            self.informers.start()
            if not await self._wait_for_caches():
                return  # stop() arrived before the caches synced
            self.caches_synced = True
            log.info("caches synced")
            for runnable in self._runnables:
                if not getattr(runnable, "need_leader_election", True) or self.elector is None:
                    self._spawn(runnable, leader=getattr(runnable, "need_leader_election", True))
            if self.elector is not None:
                lead_task = asyncio.get_running_loop().create_task(self._lead(self.elector))
            failure = await self._supervise(lead_task)
        finally:
            await self._shutdown(lead_task, cancel_leaders=isinstance(failure, LeaderElectionLost))
        if failure is not None:
            raise failure

    async def _wait_for_caches(self) -> bool:
        """True once every cache synced; False if stop() came first; CacheSyncTimeout after the timeout."""
        assert self._stop_requested is not None
        synced = asyncio.ensure_future(self.informers.wait_for_cache_sync())
        stopped = asyncio.ensure_future(self._stop_requested.wait())
        try:
            done, _ = await asyncio.wait(
                {synced, stopped}, timeout=self.cache_sync_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            synced.cancel()
            stopped.cancel()
        if synced in done:
            return True
        if stopped in done:
            return False
        pending = [i.name for i in self.informers.informers if not i.has_synced]
        raise CacheSyncTimeout(
            f"caches of {', '.join(pending)} did not sync within {self.cache_sync_timeout:g}s"
        )

    async def _lead(self, elector: LeaderElector) -> None:
        await elector.acquire()
        for runnable in self._runnables:
            if getattr(runnable, "need_leader_election", True):
                self._spawn(runnable, leader=True)
        await elector.keep_renewing()

    async def _supervise(self, lead_task: asyncio.Task[None] | None) -> BaseException | None:
        assert self._stop_requested is not None and self._tasks_changed is not None
        stop_wait = asyncio.ensure_future(self._stop_requested.wait())
        try:
            while True:
                self._tasks_changed.clear()
                changed_wait = asyncio.ensure_future(self._tasks_changed.wait())
                watched: set[asyncio.Future[Any]] = {stop_wait, changed_wait, *self._tasks}
                if lead_task is not None:
                    watched.add(lead_task)
                done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
                changed_wait.cancel()
                if stop_wait in done:
                    return None
                for task in done:
                    if task in (changed_wait, stop_wait) or task.cancelled():
                        continue
                    exc = task.exception()
                    if exc is not None:
                        log.error("manager stopping: %s", exc)
                        return exc
                    if task is lead_task:
                        lead_task = None
                    self._tasks.pop(task, None)  # type: ignore[call-overload]
        finally:
            stop_wait.cancel()

    async def _shutdown(self, lead_task: asyncio.Task[None] | None, *, cancel_leaders: bool) -> None:
        if self._stop_runnables is not None:
            self._stop_runnables.set()
        if lead_task is not None and not lead_task.done():
            lead_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await lead_task
        if cancel_leaders:
            for task, leader in self._tasks.items():
                if leader:
                    task.cancel()
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.graceful_shutdown_timeout)
            for task in late:
                log.warning(
                    "runnable %s did not stop within %gs; cancelling",
                    task.get_name(),
                    self.graceful_shutdown_timeout,
                )
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self.elector is not None and self.leader_election and self.leader_election.release_on_cancel:
            await self.elector.release()
        if self.elector is not None:
            self.elector.is_leader = False
        await self.informers.stop()
        self.caches_synced = False
        if self.probes is not None:
            await self.probes.stop()
        loop = asyncio.get_running_loop()
        while self._signals:
            loop.remove_signal_handler(self._signals.pop())


async def run_until_stopped(manager: Manager) -> int:
    """Run `manager` with SIGTERM/SIGINT handling; the process exit code (0 clean, 1 on failure)."""
    manager.install_signal_handlers()
    try:
        await manager.run()
    except LeaderElectionLost as exc:
        log.error("%s", exc)
        return 1
    except Exception:
        log.exception("manager failed")
        return 1
    return 0
