"""The same small controller on kaito.ctrl and on kopf, against the same kaito.sim, runs interleaved.

Not a test: it prints figures. Run with `python bench/peer_bench.py --n 1000 --rounds 3` (options: --help).
kopf is a dependency of the benchmark only: `pip install -e '.[bench]'`.

The controller: watch the ConfigMaps of one namespace that carry the label bench=peer, and merge-patch each
once with the annotation bench/reconciled=yes (an object that has it is left alone). Each run starts a fresh
kaito.sim API server in a child process (no workloads, no ARM) and the controller in another child with
default settings (kaito.ctrl: one Manager, one worker; kopf: `kopf.operator()` with a sync handler, its
defaults otherwise); the parent then creates N labelled ConfigMaps (16 at a time) and follows one watch
until every one carries the annotation. Figures per run: time from the first create to all reconciled, the
controller process's CPU time per object (from /proc), requests per object the sim served beyond the
parent's own (N creates, one list and one watch), and its peak RSS.

The API-server floor: the parent alone makes the same writes (N creates and N patches) against a fresh sim;
the sim's CPU per object is the server's own share that no controller can avoid.
Kinds of run alternate within each round (floor, kaito.ctrl, kopf), so drift of a busy machine hits all alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NAMESPACE = "peer"
LABEL = ("bench", "peer")
ANNOTATION = "bench/reconciled"
_TICKS = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------ children


async def _serve_sim(info_path: Path, counts_path: Path) -> None:
    from kaito.sim.cluster import Cluster

    cluster = Cluster(workloads=False, arm=False, kubeconfig_path=info_path.with_suffix(".kubeconfig"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def dump() -> None:
        assert cluster.apiserver is not None
        counts = {f"{verb} {res}": n for (verb, res), n in cluster.apiserver.request_counts.items()}
        tmp = counts_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(counts))
        tmp.replace(counts_path)

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, dump)
    async with cluster:
        tmp = info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"kubeconfig": str(cluster.kubeconfig)}))
        tmp.replace(info_path)
        await stop.wait()


async def _run_kaito_ctrl(kubeconfig: str, ready: Path) -> None:
    from kaito import ctrl

    cm = ctrl.GVK("v1", "ConfigMap")

    class Annotate:
        def __init__(self, client: ctrl.CachedClient) -> None:
            self.client = client

        async def reconcile(self, request: ctrl.Request) -> ctrl.Result:
            try:
                obj = await self.client.get(cm, request.name, request.namespace)
            except ctrl.NotFound:
                return ctrl.Result()
            meta = obj["metadata"]
            if (meta.get("labels") or {}).get(LABEL[0]) != LABEL[1]:
                return ctrl.Result()
            if (meta.get("annotations") or {}).get(ANNOTATION) == "yes":
                return ctrl.Result()
            patch = {"metadata": {"annotations": {ANNOTATION: "yes"}}}
            await self.client.patch(cm, request.name, patch, namespace=request.namespace)
            return ctrl.Result()

    async with await ctrl.Client.from_kubeconfig(kubeconfig, field_manager="peer-ctrl") as client:
        manager = ctrl.Manager(client, probe_port=None)
        ctrl.ControllerBuilder(manager).named("annotate").for_(cm, namespace=NAMESPACE).complete(
            Annotate(manager.cached_client)
        )
        manager.install_signal_handlers()
        running = asyncio.create_task(manager.run())
        while not manager.caches_synced and not running.done():
            await asyncio.sleep(0.01)
        ready.write_text("ready")
        await running


def _run_kopf(kubeconfig: str, ready: Path) -> None:
    import kopf

    os.environ["KUBECONFIG"] = kubeconfig

    @kopf.on.login()  # type: ignore[untyped-decorator]
    def login(**kwargs: Any) -> Any:
        return kopf.login_with_kubeconfig(**kwargs)  # kopf's own kubeconfig reader, no client library

    @kopf.on.startup()  # type: ignore[untyped-decorator]
    def configure(settings: Any, **_: Any) -> None:
        settings.posting.enabled = False  # no k8s Events per handler: the same writes as the other side
        settings.persistence.finalizer = "bench/kopf"

    @kopf.on.event("configmaps", labels={LABEL[0]: LABEL[1]})  # type: ignore[untyped-decorator]
    def annotate(body: Any, patch: Any, **_: Any) -> None:
        if (body.metadata.annotations or {}).get(ANNOTATION) != "yes":
            patch.metadata.annotations[ANNOTATION] = "yes"

    async def main() -> None:
        flag: asyncio.Event = asyncio.Event()

        async def mark() -> None:
            await flag.wait()
            ready.write_text("ready")

        marker = asyncio.create_task(mark())
        try:
            await kopf.operator(namespaces=[NAMESPACE], ready_flag=flag, standalone=True)
        finally:
            marker.cancel()

    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())


# ------------------------------------------------------------------------------------------ parent


def proc_stat(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cpu, peak


async def wait_for(predicate: Any, what: str, deadline: float) -> None:
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)


async def read_counts(sim: subprocess.Popen[bytes], path: Path, deadline: float) -> dict[str, int]:
    path.unlink(missing_ok=True)
    sim.send_signal(signal.SIGUSR1)
    await wait_for(path.exists, "the sim's request counts", deadline)
    counts: dict[str, int] = json.loads(path.read_text())
    return counts


def configmap(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"cm-{i:05d}", "namespace": NAMESPACE, "labels": {LABEL[0]: LABEL[1]}},
        "data": {"key": "value"},
    }


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def run_one(kind: str, n: int, workdir: Path, timeout: float) -> dict[str, Any]:
    from kaito import ctrl

    info, counts_path, ready = workdir / "sim.json", workdir / "counts.json", workdir / "ready"
    for path in (info, counts_path, ready):
        path.unlink(missing_ok=True)
    deadline = time.monotonic() + timeout
    sim = subprocess.Popen([sys.executable, __file__, "--serve-sim", str(info), str(counts_path)])
    controller: subprocess.Popen[bytes] | None = None
    log = workdir / f"{kind}.log"
    try:
        await wait_for(lambda: info.exists() or sim.poll() is not None, "the sim to start", deadline)
        kubeconfig = json.loads(info.read_text())["kubeconfig"]
        cm = ctrl.GVK("v1", "ConfigMap")
        async with await ctrl.Client.from_kubeconfig(kubeconfig, field_manager="bench") as user:
            await user.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
            if kind != "floor":
                with log.open("wb") as out:
                    controller = subprocess.Popen(
                        [sys.executable, __file__, "--controller", kind, kubeconfig, str(ready)],
                        stdout=out,
                        stderr=out,
                    )
                await wait_for(
                    lambda: ready.exists() or (controller is not None and controller.poll() is not None),
                    f"{kind} to start",
                    deadline,
                )
            before = await read_counts(sim, counts_path, deadline)
            sim_cpu0, _ = proc_stat(sim.pid)
            ctl_cpu0 = proc_stat(controller.pid)[0] if controller is not None else 0.0
            started = time.monotonic()
            done = asyncio.Event()
            seen: set[str] = set()

            async def follow() -> None:
                listed = await user.list(cm, namespace=NAMESPACE)
                async for event in await user.watch(
                    cm, namespace=NAMESPACE, resource_version=listed.resource_version
                ):
                    meta = event.object.get("metadata") or {}
                    if (meta.get("annotations") or {}).get(ANNOTATION) == "yes":
                        seen.add(meta["name"])
                        if len(seen) == n:
                            done.set()
                            return

            follower = asyncio.create_task(follow())
            sem = asyncio.Semaphore(16)

            async def write(i: int) -> None:
                async with sem:
                    await user.create(configmap(i))
                    if kind == "floor":
                        patch = {"metadata": {"annotations": {ANNOTATION: "yes"}}}
                        await user.patch(cm, f"cm-{i:05d}", patch, namespace=NAMESPACE)

            await asyncio.gather(*(write(i) for i in range(n)))
            try:
                await asyncio.wait_for(done.wait(), max(1.0, deadline - time.monotonic()))
            except TimeoutError:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                why = f"{kind}: {len(seen)} of {n} reconciled in time; its log ends:\n{tail}"
                raise RuntimeError(why) from None
            finally:
                follower.cancel()
            wall = time.monotonic() - started
            sim_cpu1, _ = proc_stat(sim.pid)
            ctl_cpu1, ctl_rss = proc_stat(controller.pid) if controller is not None else (0.0, 0.0)
            after = await read_counts(sim, counts_path, deadline)
        requests = sum(after.values()) - sum(before.values()) - n - 2  # the parent's creates, list, watch
        if kind == "floor":
            requests -= n  # the parent's own patches
        return {
            "kind": kind,
            "n": n,
            "wall_s": wall,
            "cpu_ms_per_object": (ctl_cpu1 - ctl_cpu0) * 1000 / n,
            "sim_cpu_ms_per_object": (sim_cpu1 - sim_cpu0) * 1000 / n,
            "requests_per_object": requests / n,
            "peak_rss_mb": ctl_rss,
        }
    finally:
        stop_process(controller)
        stop_process(sim)


async def main_async(args: argparse.Namespace) -> int:
    kinds = ["floor", "kaito.ctrl", "kopf"]
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="kaito-peer-") as tmp:
        for rnd in range(args.rounds):
            for kind in kinds:
                result = await run_one(kind, args.n, Path(tmp), args.timeout)
                results[kind].append(result)
                print(
                    f"round {rnd + 1} {kind:<10} wall {result['wall_s']:6.2f} s  "
                    f"controller CPU {result['cpu_ms_per_object']:5.2f} ms/object  "
                    f"sim CPU {result['sim_cpu_ms_per_object']:5.2f} ms/object  "
                    f"requests/object {result['requests_per_object']:4.2f}  "
                    f"RSS {result['peak_rss_mb']:4.0f} MB",
                    flush=True,
                )
    print(f"\nmedians over {args.rounds} rounds, N={args.n}:")
    med: dict[str, dict[str, float]] = {}
    for kind in kinds:
        med[kind] = {
            key: statistics.median(r[key] for r in results[kind])
            for key in (
                "wall_s",
                "cpu_ms_per_object",
                "sim_cpu_ms_per_object",
                "requests_per_object",
                "peak_rss_mb",
            )
        }
        m = med[kind]
        print(
            f"  {kind:<10} wall {m['wall_s']:6.2f} s ({args.n / m['wall_s']:7.0f} objects/s)  "
            f"controller CPU {m['cpu_ms_per_object']:5.2f} ms/object  "
            f"sim CPU {m['sim_cpu_ms_per_object']:5.2f} ms/object  "
            f"requests/object {m['requests_per_object']:4.2f}  RSS {m['peak_rss_mb']:4.0f} MB"
        )
    ratio = med["kopf"]["wall_s"] / med["kaito.ctrl"]["wall_s"]
    print(f"  kaito.ctrl throughput / kopf throughput: {ratio:.2f}x")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="ConfigMaps per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run before giving up")
    parser.add_argument("--json", type=Path, default=None, help="also write every run's figures here")
    parser.add_argument("--serve-sim", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--controller", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sim:
        asyncio.run(_serve_sim(*args.serve_sim))
        return 0
    if args.controller:
        kind, kubeconfig, ready = args.controller
        if kind == "kopf":
            _run_kopf(kubeconfig, Path(ready))
        else:
            logging.basicConfig(level=logging.WARNING)
            with contextlib.suppress(asyncio.CancelledError):
                asyncio.run(_run_kaito_ctrl(kubeconfig, Path(ready)))
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
