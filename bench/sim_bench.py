"""Throughput and watch fan-out of kaito.sim's API server, measured over loopback HTTPS with the admin token.

Not a test: it prints figures. Run with `python bench/sim_bench.py` (options: --help).

Design
------
The server runs in a child process (`--serve`) pinned to one CPU with `os.sched_setaffinity`, so the numbers
are "what one core of Python sustains". The parent is the load generator, pinned to another CPU when the
machine has one: plain aiohttp with a bounded number of concurrent requests (a semaphore of workers, each
issuing one request at a time). Every loop is bounded by a duration or a count; nothing leaves loopback.

Phases, each after a short warm-up:
* get    - GET one ConfigMap by name;
* list   - GET the list of a namespace holding `--objects` ConfigMaps;
* patch  - merge-patch one ConfigMap's data (each worker patches its own object, so no write contention).
Each reports requests per second, per-request latency p50/p99 as the client saw it, and how busy the
server's core was (CPU seconds per second, from /proc). Below ~90% the load generator, not the server,
was the limit (on two cores a Python client costs about what the server does per request), so the phase
also prints the server's CPU time per request and the rate one fully busy server core would sustain.

Watch fan-out: `--watchers` concurrent watch streams on one namespace, then `--writes` merge-patches of one
object, one at a time; for every write, the time from just before the PATCH is sent to each watcher's
receipt of the event line (p50/p99/max over writes x watchers). The next write starts once every watcher has
the previous event, so latencies do not pile up behind each other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["BenchConfig", "PhaseResult", "main"]

NAMESPACE = "bench"
FANOUT_NAMESPACE = "bench-fanout"
MERGE = "application/merge-patch+json"


@dataclass(frozen=True)
class BenchConfig:
    duration_s: float
    warmup_s: float
    concurrency: int
    objects: int
    watchers: int
    writes: int
    server_cpu: int
    client_cpu: int | None


@dataclass(frozen=True)
class PhaseResult:
    name: str
    requests: int
    errors: int
    elapsed_s: float
    latencies_ms: list[float]
    server_cpu_share: (
        float  # the server's CPU seconds per wall second while measuring (1.0 = its core is full)
    )

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def server_cpu_us_per_request(self) -> float:
        return self.server_cpu_share * self.elapsed_s / self.requests * 1e6 if self.requests else 0.0

    @property
    def per_server_core(self) -> float:
        """Requests per second a fully busy server core would answer, from the CPU time each one cost."""
        return 1e6 / self.server_cpu_us_per_request if self.server_cpu_us_per_request else 0.0

    def line(self) -> str:
        p50, p99 = percentile(self.latencies_ms, 50), percentile(self.latencies_ms, 99)
        return (
            f"{self.name:<22} {self.rps:9.0f} req/s   latency p50 {p50:6.2f} ms  p99 {p99:6.2f} ms   "
            f"server CPU {self.server_cpu_share:4.0%}, {self.server_cpu_us_per_request:4.0f} us/request "
            f"=> {self.per_server_core:6.0f} req/s per full server core  "
            f"({self.requests} requests, {self.errors} errors)"
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


# ------------------------------------------------------------------------------------------------ server side


def serve(url_file: Path, cpu: int) -> None:
    """Child process: pin to `cpu`, run a Cluster (its defaults: HTTPS, token checked), write its URL, admin
    token and CA to `url_file` as JSON, run until stdin closes."""
    os.sched_setaffinity(0, {cpu})

    async def run() -> None:
        from kaito.sim.cluster import Cluster

        async with Cluster(workloads=False, arm=False) as cluster:
            assert cluster.tls_bundle is not None
            where = {
                "url": cluster.url,
                "token": cluster.admin_token,
                "ca": cluster.tls_bundle.ca_pem().decode(),
            }
            tmp = url_file.with_name("url.tmp")
            await asyncio.to_thread(tmp.write_text, json.dumps(where))
            await asyncio.to_thread(tmp.replace, url_file)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, sys.stdin.read)  # parent closes our stdin to stop us

    asyncio.run(run())


@contextlib.contextmanager
def server_process(cpu: int) -> Any:
    with tempfile.TemporaryDirectory(prefix="sim-bench-") as tmp:
        url_file = Path(tmp) / "url"
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(url_file), "--server-cpu", str(cpu)],
            stdin=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while not url_file.exists() or not url_file.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the benchmark server did not start (exit code {proc.poll()})")
                time.sleep(0.05)
            yield json.loads(url_file.read_text()), proc.pid
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ------------------------------------------------------------------------------------------------ load side


def cm_path(namespace: str, name: str | None = None) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps" + (f"/{name}" if name else "")


async def setup(session: aiohttp.ClientSession, url: str, config: BenchConfig) -> None:
    for ns in (NAMESPACE, FANOUT_NAMESPACE):
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        async with session.post(f"{url}/api/v1/namespaces", json=body) as resp:
            resp.raise_for_status()
    for i in range(max(config.objects, config.concurrency)):
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i}"},
            "data": {"i": str(i)},
        }
        async with session.post(url + cm_path(NAMESPACE), json=body) as resp:
            resp.raise_for_status()
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fan"}, "data": {"seq": "-1"}}
    async with session.post(url + cm_path(FANOUT_NAMESPACE), json=body) as resp:
        resp.raise_for_status()


async def load_phase(
    session: aiohttp.ClientSession,
    url: str,
    name: str,
    config: BenchConfig,
    objects_in_list: int,
    server_pid: int,
) -> PhaseResult:
    """`config.concurrency` workers each issuing one request at a time, for warm-up then measured time."""

    async def one(worker: int, seq: int) -> bool:
        if name == "get":
            request = session.get(url + cm_path(NAMESPACE, f"cm-{worker % objects_in_list}"))
        elif name.startswith("list"):
            request = session.get(url + cm_path(NAMESPACE))
        else:
            body = json.dumps({"data": {"seq": str(seq)}})
            request = session.patch(
                url + cm_path(NAMESPACE, f"cm-{worker}"), data=body, headers={"Content-Type": MERGE}
            )
        async with request as resp:
            await resp.read()
            return resp.status == 200

    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0}
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + config.warmup_s
    stop_at = measure_from + config.duration_s

    cpu_at_start: list[float] = []

    async def meter() -> None:
        await asyncio.sleep(config.warmup_s)
        cpu_at_start.append(cpu_seconds(server_pid))

    async def worker(index: int) -> None:
        seq = 0
        while (now := loop.time()) < stop_at:
            ok = await one(index, seq)
            seq += 1
            done = loop.time()
            if now >= measure_from:
                counts["ok" if ok else "errors"] += 1
                latencies.append((done - now) * 1000)

    await asyncio.gather(meter(), *(worker(i) for i in range(config.concurrency)))
    share = (cpu_seconds(server_pid) - cpu_at_start[0]) / config.duration_s
    return PhaseResult(name, counts["ok"], counts["errors"], config.duration_s, latencies, share)


async def fanout_phase(session: aiohttp.ClientSession, url: str, config: BenchConfig) -> list[float]:
    """Latency (ms) from each write to each watcher's receipt of its event."""
    # The list's resourceVersion is "now"; the object's own would be its creation, long compacted away.
    async with session.get(url + cm_path(FANOUT_NAMESPACE)) as resp:
        start_rv = (await resp.json())["metadata"]["resourceVersion"]
    received = [0]
    expected = [0]
    all_received = asyncio.Event()
    receipts: list[list[float]] = [[] for _ in range(config.watchers)]
    ready = asyncio.Semaphore(0)

    async def watcher(index: int) -> None:
        watch_url = (
            url + cm_path(FANOUT_NAMESPACE) + f"?watch=1&resourceVersion={start_rv}&timeoutSeconds=600"
        )
        async with session.get(watch_url, timeout=aiohttp.ClientTimeout(total=None)) as resp:
            resp.raise_for_status()
            ready.release()
            async for line in resp.content:
                if not line.strip():
                    continue
                receipts[index].append(time.perf_counter())
                received[0] += 1
                if received[0] >= expected[0]:
                    all_received.set()
                if len(receipts[index]) >= config.writes:
                    return

    tasks = [asyncio.create_task(watcher(i)) for i in range(config.watchers)]
    for _ in range(config.watchers):
        await asyncio.wait_for(ready.acquire(), 30)
    await asyncio.sleep(0.2)  # response headers arrive before the server registers the last watch
    sent: list[float] = []
    try:
        for seq in range(config.writes):
            expected[0] = config.watchers * (seq + 1)
            all_received.clear()
            body = json.dumps({"data": {"seq": str(seq)}})
            sent.append(time.perf_counter())
            async with session.patch(
                url + cm_path(FANOUT_NAMESPACE, "fan"), data=body, headers={"Content-Type": MERGE}
            ) as resp:
                resp.raise_for_status()
                await resp.read()
            if received[0] < expected[0]:
                await asyncio.wait_for(all_received.wait(), 30)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return [(times[i] - sent[i]) * 1000 for times in receipts for i in range(min(len(times), len(sent)))]


async def run_load(server: dict[str, str], server_pid: int, config: BenchConfig) -> None:
    url = server["url"]
    trusted = ssl.create_default_context(cadata=server["ca"])
    connector = aiohttp.TCPConnector(limit=config.concurrency + config.watchers + 4, ssl=trusted)
    headers = {"Accept": "application/json", "Authorization": f"Bearer {server['token']}"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        await setup(session, url, config)
        results = [
            await load_phase(session, url, "get", config, config.objects, server_pid),
            await load_phase(
                session, url, f"list ({config.objects} objects)", config, config.objects, server_pid
            ),
            await load_phase(session, url, "merge-patch", config, config.objects, server_pid),
        ]
        for result in results:
            print(result.line(), flush=True)
        latencies = await fanout_phase(session, url, config)
        print(
            f"watch fan-out          {config.watchers} watchers x {config.writes} writes = {len(latencies)} "
            f"deliveries: p50 {percentile(latencies, 50):.2f} ms  p99 {percentile(latencies, 99):.2f} ms  "
            f"max {max(latencies, default=0.0):.2f} ms  (mean {statistics.fmean(latencies or [0.0]):.2f} ms)",
            flush=True,
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per load phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each phase")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight at once")
    parser.add_argument("--objects", type=int, default=100, help="ConfigMaps in the listed namespace")
    parser.add_argument("--watchers", type=int, default=100, help="concurrent watch streams")
    parser.add_argument("--writes", type=int, default=300, help="writes observed by the watchers")
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU the server process is pinned to")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve is not None:
        serve(args.serve, args.server_cpu)
        return
    cpus = sorted(os.sched_getaffinity(0))
    client_cpu = next((c for c in cpus if c != args.server_cpu), None)
    config = BenchConfig(
        duration_s=args.duration,
        warmup_s=args.warmup,
        concurrency=args.concurrency,
        objects=args.objects,
        watchers=args.watchers,
        writes=args.writes,
        server_cpu=args.server_cpu,
        client_cpu=client_cpu,
    )
    print(
        f"kaito.sim API server pinned to CPU {config.server_cpu}; load generator on CPU {client_cpu} "
        f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}); concurrency {config.concurrency}",
        flush=True,
    )
    with server_process(config.server_cpu) as (server, server_pid):
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        asyncio.run(run_load(server, server_pid, config))


if __name__ == "__main__":
    main()
