"""The same small controller on kaito.ctrl and on kopf, against the same kaito.sim, runs interleaved.

Not a test: it prints figures. Run with `python bench/peer_bench.py --n 1000 --rounds 3` (options: --help).
kopf is a dependency of the benchmark only: `pip install -e '.[bench]'`.

The controller: watch the ConfigMaps of one namespace that carry the label bench=peer, and merge-patch each
once with the annotation bench/reconciled=yes (an object that has it is left alone). Each run starts a fresh
kaito.sim API server in a child process (no workloads, no ARM) and the controller in another child with
default settings (kaito.ctrl: one Manager and a builder with no options; kopf: `kopf.operator()` with a sync
handler, its defaults otherwise — only its k8s Events are turned off, so both sides make the same writes).
The child imports everything first and starts its library's entry point when the parent says go, so
neither side's interpreter start-up or imports are timed.

Two modes, each printed with its own medians and ratios:

* backlog — the parent creates the N labelled ConfigMaps first, then tells the controller to start; the
  time runs from that start (the library lists, fills its cache, and works) until a watch the parent holds
  has seen every object annotated. This is how fast each library drains work, the figure that matters
  after a restart, a failover or a burst, and the one the throughput ratio is about.
* streaming — the controller starts first and has synced its (empty) cache; the parent then creates the N
  ConfigMaps (16 at a time) while the controller runs, and the time runs from the first create until all
  are annotated. Both controllers are then paced by the creates, so this mode mostly shows latency and
  CPU cost per event, not how fast a library can go.

Figures per run: wall time, when the parent saw the first object reconciled, the controller process's CPU
time per object (from /proc), the sim's CPU per object, requests per object the sim served beyond the
parent's own (creates, one list and one watch), and the controller's peak RSS.

The API-server floor, per mode: the parent alone makes the same writes against a fresh sim with 16 requests
in flight — in backlog mode the N patches of existing objects, in streaming mode the N creates and N
patches. No controller can beat it by much; the sim's CPU per object is the server's own share.
Kinds of run alternate within each round (floor, kaito.ctrl, kopf, per mode), so drift of a busy machine
hits all alike. CPU time is the figure to trust on a loaded machine; wall time varies with the load.
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


def _wait_for_go(loaded: Path) -> None:
    """Say the imports are done, then block until the parent writes a line on stdin."""
    loaded.write_text("loaded")
    sys.stdin.readline()


def _run_kaito_ctrl(kubeconfig: str, ready: Path) -> None:
    import aiohttp  # noqa: F401  (what the client loads on first use: imported before the clock starts)
    import kubernetes_asyncio.client
    import kubernetes_asyncio.config  # noqa: F401
    import prometheus_client  # noqa: F401

    from kaito import ctrl

    _ = (ctrl.Client, ctrl.Manager, ctrl.ControllerBuilder, ctrl.CachedClient)  # kaito.ctrl loads on use

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

    async def main() -> None:
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

    logging.basicConfig(level=logging.WARNING)
    _wait_for_go(ready.with_suffix(".loaded"))
    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(main())


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
    _wait_for_go(ready.with_suffix(".loaded"))
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


async def in_flight(n: int, limit: int, step: Any) -> None:
    """Await `step(i)` for i in range(n), `limit` at a time."""
    sem = asyncio.Semaphore(limit)

    async def one(i: int) -> None:
        async with sem:
            await step(i)

    await asyncio.gather(*(one(i) for i in range(n)))


async def run_one(
    mode: str, kind: str, n: int, workdir: Path, timeout: float, profile: Path | None = None
) -> dict[str, Any]:
    """One run of `kind` (floor, kaito.ctrl or kopf) in `mode` (backlog or streaming); its figures.

    With `profile`, py-spy samples the controller process while it works (collapsed stacks into that
    folder); sampling costs the controller some CPU, so such a run's figures are not comparable."""
    from kaito import ctrl

    info, counts_path, ready = workdir / "sim.json", workdir / "counts.json", workdir / "ready"
    loaded = ready.with_suffix(".loaded")
    for path in (info, counts_path, ready, loaded):
        path.unlink(missing_ok=True)
    deadline = time.monotonic() + timeout
    sim = subprocess.Popen([sys.executable, __file__, "--serve-sim", str(info), str(counts_path)])
    controller: subprocess.Popen[bytes] | None = None
    spy: subprocess.Popen[bytes] | None = None
    log = workdir / f"{kind}.log"
    cm = ctrl.GVK("v1", "ConfigMap")
    patch = {"metadata": {"annotations": {ANNOTATION: "yes"}}}

    def exited() -> bool:
        return controller is not None and controller.poll() is not None

    def go() -> None:
        assert controller is not None and controller.stdin is not None
        controller.stdin.write(b"go\n")
        controller.stdin.flush()

    try:
        await wait_for(lambda: info.exists() or sim.poll() is not None, "the sim to start", deadline)
        kubeconfig = json.loads(info.read_text())["kubeconfig"]
        async with await ctrl.Client.from_kubeconfig(kubeconfig, field_manager="bench") as user:
            await user.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
            if kind != "floor":
                with log.open("wb") as out:
                    controller = subprocess.Popen(
                        [sys.executable, __file__, "--controller", kind, kubeconfig, str(ready)],
                        stdin=subprocess.PIPE,
                        stdout=out,
                        stderr=out,
                    )
                await wait_for(lambda: loaded.exists() or exited(), f"{kind} to load", deadline)
                if mode == "streaming":
                    go()
                    await wait_for(lambda: ready.exists() or exited(), f"{kind} to start", deadline)
            if mode == "backlog":
                await in_flight(n, 16, lambda i: user.create(configmap(i)))
            before = await read_counts(sim, counts_path, deadline)
            done = asyncio.Event()
            seen: set[str] = set()
            first_seen: list[float] = []
            listed = await user.list(cm, namespace=NAMESPACE)
            stream = await user.watch(cm, namespace=NAMESPACE, resource_version=listed.resource_version)

            async def follow() -> None:
                async for event in stream:
                    meta = event.object.get("metadata") or {}
                    if (meta.get("annotations") or {}).get(ANNOTATION) == "yes":
                        if not seen:
                            first_seen.append(time.monotonic())
                        seen.add(meta["name"])
                        if len(seen) == n:
                            done.set()
                            return

            follower = asyncio.create_task(follow())
            if profile is not None and controller is not None:
                out = profile / f"{mode}-{kind}-{n}.txt"
                spy = subprocess.Popen(
                    [
                        str(Path(sys.executable).with_name("py-spy")),
                        "record",
                        "-p",
                        str(controller.pid),
                        "-f",
                        "raw",
                        "-o",
                        str(out),
                        "-r",
                        "200",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                await asyncio.sleep(1.0)  # py-spy attaches
            sim_cpu0, _ = proc_stat(sim.pid)
            ctl_cpu0 = proc_stat(controller.pid)[0] if controller is not None else 0.0
            started = time.monotonic()

            async def write(i: int) -> None:
                if mode == "streaming":
                    await user.create(configmap(i))
                if kind == "floor":
                    await user.patch(cm, f"cm-{i:05d}", patch, namespace=NAMESPACE)

            if mode == "backlog" and controller is not None:
                go()
            else:
                await in_flight(n, 16, write)
            try:
                await asyncio.wait_for(done.wait(), max(1.0, deadline - time.monotonic()))
            except TimeoutError:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                why = f"{mode} {kind}: {len(seen)} of {n} reconciled in time; its log ends:\n{tail}"
                raise RuntimeError(why) from None
            finally:
                follower.cancel()
            wall = time.monotonic() - started
            sim_cpu1, _ = proc_stat(sim.pid)
            ctl_cpu1, ctl_rss = proc_stat(controller.pid) if controller is not None else (0.0, 0.0)
            after = await read_counts(sim, counts_path, deadline)
        requests = sum(after.values()) - sum(before.values()) - 2  # the parent's list and watch
        if mode == "streaming":
            requests -= n  # the parent's creates
        if kind == "floor":
            requests -= n  # the parent's own patches
        return {
            "mode": mode,
            "kind": kind,
            "n": n,
            "wall_s": wall,
            "first_s": first_seen[0] - started if first_seen else wall,
            "cpu_ms_per_object": (ctl_cpu1 - ctl_cpu0) * 1000 / n,
            "sim_cpu_ms_per_object": (sim_cpu1 - sim_cpu0) * 1000 / n,
            "requests_per_object": requests / n,
            "peak_rss_mb": ctl_rss,
        }
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            spy.wait(timeout=30)
        stop_process(controller)
        stop_process(sim)


KINDS = ("floor", "kaito.ctrl", "kopf")
FIGURES = (
    "wall_s",
    "first_s",
    "cpu_ms_per_object",
    "sim_cpu_ms_per_object",
    "requests_per_object",
    "peak_rss_mb",
)


def describe(result: dict[str, Any] | dict[str, float], n: int) -> str:
    return (
        f"wall {result['wall_s']:6.2f} s ({n / result['wall_s']:6.0f} objects/s, first after "
        f"{result['first_s']:4.2f} s)  "
        f"controller CPU {result['cpu_ms_per_object']:5.2f} ms/object  "
        f"sim CPU {result['sim_cpu_ms_per_object']:5.2f} ms/object  "
        f"requests/object {result['requests_per_object']:4.2f}  "
        f"RSS {result['peak_rss_mb']:4.0f} MB"
    )


async def main_async(args: argparse.Namespace) -> int:
    modes: list[str] = args.modes
    kinds: list[str] = args.kinds
    results: dict[str, dict[str, list[dict[str, Any]]]] = {m: {k: [] for k in kinds} for m in modes}
    with tempfile.TemporaryDirectory(prefix="kaito-peer-") as tmp:
        for rnd in range(args.rounds):
            for mode in modes:
                for kind in kinds:
                    result = await run_one(mode, kind, args.n, Path(tmp), args.timeout, args.profile)
                    results[mode][kind].append(result)
                    print(f"round {rnd + 1} {mode:<9} {kind:<10} {describe(result, args.n)}", flush=True)
    for mode in modes:
        print(f"\n{mode}: medians over {args.rounds} rounds, N={args.n}:")
        med: dict[str, dict[str, float]] = {}
        for kind in kinds:
            med[kind] = {key: statistics.median(r[key] for r in results[mode][kind]) for key in FIGURES}
            print(f"  {kind:<10} {describe(med[kind], args.n)}")
        if len(med) < len(KINDS):
            continue
        ours, kopf, floor = med["kaito.ctrl"], med["kopf"], med["floor"]
        speed = kopf["wall_s"] / ours["wall_s"]
        cpu = ours["cpu_ms_per_object"] / kopf["cpu_ms_per_object"]
        print(
            f"  {mode}: kaito.ctrl throughput / kopf throughput {speed:.2f}x; "
            f"kaito.ctrl CPU per object / kopf's {cpu:.2f}; "
            f"throughput / floor: kaito.ctrl {floor['wall_s'] / ours['wall_s']:.2f}, "
            f"kopf {floor['wall_s'] / kopf['wall_s']:.2f}"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="ConfigMaps per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument(
        "--modes",
        type=lambda text: [m for m in text.split(",") if m],
        default=["backlog", "streaming"],
        help="comma-separated: backlog, streaming (default both)",
    )
    parser.add_argument(
        "--kinds",
        type=lambda text: [k for k in text.split(",") if k],
        default=list(KINDS),
        help="comma-separated subset of floor, kaito.ctrl, kopf (default all; ratios need all three)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run before giving up")
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="DIR", help="py-spy each controller into DIR"
    )
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
            _run_kaito_ctrl(kubeconfig, Path(ready))
        return 0
    if not args.modes or any(m not in ("backlog", "streaming") for m in args.modes):
        parser.error(f"--modes takes backlog and/or streaming, got {','.join(args.modes) or 'nothing'}")
    if not args.kinds or any(k not in KINDS for k in args.kinds):
        parser.error(f"--kinds takes floor, kaito.ctrl and/or kopf, got {','.join(args.kinds) or 'nothing'}")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
