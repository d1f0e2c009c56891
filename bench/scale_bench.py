"""How the operator and kaito.sim scale with the number of Workspaces, each measured in its own process.

Not a test: it prints figures. Run with `python bench/scale_bench.py --n 100 300` (options: --help).

Design
------
Three processes, so each bill is read apart from /proc:
* the sim (`--serve-sim`): a kaito.sim Cluster with every simulated delay at zero (kubelet timings, the ARM
  endpoint's provisioning and node readiness, the fake Karpenter's launch/register/ready), writing where it
  listens to a JSON file; on SIGUSR1 it writes how many requests it served, by verb and resource, and the ARM
  requests by method; on SIGTERM it stops;
* the operator (`--serve-operator`): what `kaito up` runs, with the AKS provisioner pointed at the sim's ARM
  endpoint or with Karpenter, its log at INFO into a file (the parent counts ERROR lines there);
* the parent: it waits for the operator to install the CRDs, snapshots both children's CPU time and the sim's
  request counts, creates N generated phi-3 Workspaces (one POST each), follows them with one watch until all
  are Ready (condition WorkspaceSucceeded=True), then reads CPU time, request counts and peak RSS (VmHWM)
  again.
The request figures exclude the parent's own requests (N creates, one list and one watch).
Every wait has a deadline (`--timeout`); nothing sleeps a fixed time to let something happen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
_SIM_NODE_CLASS = ("karpenter.azure.com", "AKSNodeClass", "default")
_TICKS = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------ children


async def _serve_sim(info_path: Path, counts_path: Path, karpenter: bool) -> None:
    from kaito.sim.cluster import Cluster
    from kaito.sim.workloads.kubelet import Timings

    zero = Timings(
        image_pull_s=0,
        container_start_s=0,
        ready_after_s=0,
        init_run_s=0,
        job_run_s=0,
        crash_after_s=0,
        node_gone_grace_s=0,
        job_retry_backoff_s=0,
    )
    cluster = Cluster(
        timings=zero,
        kubeconfig_path=info_path.with_suffix(".kubeconfig"),
        arm_options={"provisioning_s": 0, "node_ready_after_s": 0, "retry_after_s": 0},
        karpenter=karpenter,
        karpenter_options={"launch_s": 0, "register_s": 0, "ready_s": 0} if karpenter else None,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def dump() -> None:
        assert cluster.apiserver is not None
        api = {f"{verb} {res}": n for (verb, res), n in sorted(cluster.apiserver.request_counts.items())}
        arm = dict(cluster.arm.request_counts) if cluster.arm is not None else {}
        tmp = counts_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"api": api, "arm": arm}))
        tmp.replace(counts_path)

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, dump)
    async with cluster:
        arm = cluster.arm
        assert arm is not None
        info = {
            "kubeconfig": str(cluster.kubeconfig),
            "arm_url": arm.url,
            "arm_ca": str(arm.ca_path),
            "subscription_id": arm.ids.subscription_id,
            "resource_group": arm.ids.resource_group,
            "cluster_name": arm.ids.cluster_name,
        }
        tmp = info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(info_path)
        await stop.wait()


async def _serve_operator(
    info_path: Path, ready_path: Path, provisioner: str, trace: Path | None = None
) -> None:
    from kaito import ctrl
    from kaito.controllers.operator import FIELD_MANAGER, OperatorConfig, build_operator, install_crds
    from kaito.provisioners.aks import AksConfig, StaticTokenCredential

    info = json.loads(info_path.read_text())
    aks = AksConfig(
        subscription_id=info["subscription_id"],
        resource_group=info["resource_group"],
        cluster_name=info["cluster_name"],
        base_url=info["arm_url"],
        connection_verify=info["arm_ca"],
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    if trace is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, _dump_memory, trace)
    async with await ctrl.Client.from_kubeconfig(info["kubeconfig"], field_manager=FIELD_MANAGER) as client:
        await install_crds(client)
        operator = build_operator(
            client,
            OperatorConfig(
                provisioner="karpenter" if provisioner == "karpenter" else "aks",
                aks=aks,
                aks_credential=StaticTokenCredential(),
                karpenter_node_class=_SIM_NODE_CLASS if provisioner == "karpenter" else None,
                health_port=None,
            ),
        )
        running = asyncio.create_task(operator.run())
        ready_path.write_text("ready")
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
        operator.stop()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await running


def _dump_memory(trace: Path) -> None:
    """Where the operator's live memory is (tracemalloc, by the line that allocated it) and which types
    hold the most objects, written to `trace` (text) when the parent stops the operator."""
    import gc
    import tracemalloc

    snapshot = tracemalloc.take_snapshot()
    current, peak = tracemalloc.get_traced_memory()
    lines = [f"traced now {current / 2**20:.1f} MiB, traced peak {peak / 2**20:.1f} MiB", ""]
    for title, key in (("by line", "lineno"), ("by file", "filename")):
        lines.append(f"-- top 40 {title}")
        lines.extend(str(stat) for stat in snapshot.statistics(key)[:40])
        lines.append("")
    counts = Counter(type(obj).__qualname__ for obj in gc.get_objects())
    lines.append("-- gc-tracked objects by type (top 40)")
    lines.extend(f"{n:9d} {name}" for name, n in counts.most_common(40))
    tmp = trace.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(trace)


# ------------------------------------------------------------------------------------------ parent


@dataclass
class ProcStat:
    cpu_s: float
    peak_rss_mb: float


def proc_stat(pid: int) -> ProcStat:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return ProcStat(cpu, peak)


async def wait_for(predicate: Any, what: str, deadline: float) -> None:
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


def workspace(i: int, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": f"ws-{i:05d}", "namespace": namespace},
        "resource": {
            "instanceType": "Standard_NC6s_v3",
            "labelSelector": {"matchLabels": {"apps": f"phi-3-{i:05d}"}},
        },
        "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}},
    }


def is_ready(obj: dict[str, Any]) -> bool:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "WorkspaceSucceeded" and cond.get("status") == "True":
            return True
    return False


async def read_counts(sim: subprocess.Popen[bytes], path: Path, deadline: float) -> dict[str, Any]:
    path.unlink(missing_ok=True)
    sim.send_signal(signal.SIGUSR1)
    await wait_for(path.exists, "the sim's request counts", deadline)
    counts: dict[str, Any] = json.loads(path.read_text())
    return counts


def diff(after: dict[str, int], before: dict[str, int]) -> Counter[str]:
    out: Counter[str] = Counter()
    for key, n in after.items():
        if n - before.get(key, 0):
            out[key] = n - before.get(key, 0)
    return out


async def run_one(
    n: int,
    provisioner: str,
    timeout: float,
    workdir: Path,
    profile: Path | None = None,
    trace_memory: bool = False,
) -> dict[str, Any]:
    from kaito import ctrl

    info = workdir / f"sim-{provisioner}-{n}.json"
    counts_path = workdir / f"counts-{provisioner}-{n}.json"
    ready = workdir / f"operator-{provisioner}-{n}.ready"
    oplog = workdir / f"operator-{provisioner}-{n}.log"
    trace = [str(workdir / f"memory-{provisioner}-{n}.txt")] if trace_memory else []
    for stale in (info, counts_path, ready, *map(Path, trace)):
        stale.unlink(missing_ok=True)
    me = [sys.executable, __file__]
    flags = ["--karpenter"] if provisioner == "karpenter" else []
    sim = subprocess.Popen([*me, "--serve-sim", str(info), str(counts_path), *flags])
    operator: subprocess.Popen[bytes] | None = None
    deadline = time.monotonic() + timeout
    try:
        await wait_for(lambda: info.exists() or sim.poll() is not None, "the sim to start", deadline)
        with oplog.open("wb") as log:
            operator = subprocess.Popen(
                [*me, "--serve-operator", str(info), str(ready), provisioner, *trace],
                stderr=log,
                stdout=log,
            )
        await wait_for(
            lambda: ready.exists() or operator is None or operator.poll() is not None,
            "the operator to start",
            deadline,
        )
        if operator.poll() is not None:
            raise RuntimeError(f"the operator exited {operator.returncode}: {oplog.read_text()[-3000:]}")
        kubeconfig = json.loads(info.read_text())["kubeconfig"]
        namespace = "scale"
        async with await ctrl.Client.from_kubeconfig(kubeconfig, field_manager="bench") as user:
            await user.apply(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, force=True
            )
            before = await read_counts(sim, counts_path, deadline)
            sim0, op0 = proc_stat(sim.pid), proc_stat(operator.pid)
            started = time.monotonic()
            ready_names: set[str] = set()
            ready_at: list[float] = []
            spies = []
            if profile is not None:
                for who, pid in (("operator", operator.pid), ("sim", sim.pid)):
                    out = profile / f"{who}-{provisioner}-{n}.txt"
                    spies.append(
                        subprocess.Popen(
                            ["py-spy", "record", "-p", str(pid), "-f", "raw", "-o", str(out), "-r", "50"],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    )
            done = asyncio.Event()

            async def follow() -> None:
                gvk = ("kaito.sh/v1beta1", "Workspace")
                listed = await user.list(gvk, namespace=namespace)
                rv = listed.resource_version
                while True:
                    async for event in await user.watch(gvk, namespace=namespace, resource_version=rv):
                        obj = event.object
                        rv = obj["metadata"].get("resourceVersion", rv)
                        if is_ready(obj) and obj["metadata"]["name"] not in ready_names:
                            ready_names.add(obj["metadata"]["name"])
                            ready_at.append(time.monotonic() - started)
                            if len(ready_names) == n:
                                done.set()
                                return

            follower = asyncio.create_task(follow())
            sem = asyncio.Semaphore(16)

            async def create(i: int) -> None:
                async with sem:
                    await user.create(workspace(i, namespace))

            await asyncio.gather(*(create(i) for i in range(n)))
            created_s = time.monotonic() - started
            try:
                await asyncio.wait_for(done.wait(), max(1.0, deadline - time.monotonic()))
            finally:
                follower.cancel()
            elapsed = time.monotonic() - started
            sim1, op1 = proc_stat(sim.pid), proc_stat(operator.pid)
            for spy in spies:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
            after = await read_counts(sim, counts_path, deadline)
            if trace:
                operator.send_signal(signal.SIGUSR2)
                await wait_for(Path(trace[0]).exists, "the operator's memory trace", deadline)
        api = diff(after["api"], before["api"])
        api["create workspaces"] -= n
        api["list workspaces"] -= 1
        api["watch workspaces"] -= 1
        api = Counter({k: v for k, v in api.items() if v > 0})
        arm = diff(after["arm"], before["arm"])
        errors = [line for line in oplog.read_text(errors="replace").splitlines() if "ERROR" in line]
        return {
            "n": n,
            "provisioner": provisioner,
            "created_s": created_s,
            "first_ready_s": ready_at[0],
            "half_ready_s": ready_at[len(ready_at) // 2],
            "ready_s": elapsed,
            "operator_cpu_ms_per_ws": (op1.cpu_s - op0.cpu_s) * 1000 / n,
            "sim_cpu_ms_per_ws": (sim1.cpu_s - sim0.cpu_s) * 1000 / n,
            "operator_peak_rss_mb": op1.peak_rss_mb,
            "sim_peak_rss_mb": sim1.peak_rss_mb,
            "api_per_ws": {k: v / n for k, v in sorted(api.items())},
            "api_writes_per_ws": sum(v for k, v in api.items() if k.split()[0] in WRITE_VERBS) / n,
            "api_requests_per_ws": sum(api.values()) / n,
            "arm_per_ws": {k: v / n for k, v in sorted(arm.items())},
            "error_lines": len(errors),
            "first_errors": errors[:3],
        }
    finally:
        for proc in (operator, sim):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def report(result: dict[str, Any], out: Any) -> None:
    r = result
    print(
        f"\n== N={r['n']} provisioner={r['provisioner']}: all Ready in {r['ready_s']:.1f} s "
        f"(creates took {r['created_s']:.1f} s; first Ready at {r['first_ready_s']:.1f} s, "
        f"half at {r['half_ready_s']:.1f} s)",
        file=out,
    )
    print(
        f"   CPU per Workspace: operator {r['operator_cpu_ms_per_ws']:.1f} ms, "
        f"sim {r['sim_cpu_ms_per_ws']:.1f} ms"
        f"; peak RSS: operator {r['operator_peak_rss_mb']:.0f} MB, sim {r['sim_peak_rss_mb']:.0f} MB",
        file=out,
    )
    print(
        f"   API requests per Workspace: {r['api_requests_per_ws']:.2f} "
        f"(writes {r['api_writes_per_ws']:.2f}); ARM per Workspace: "
        + ", ".join(f"{k} {v:.2f}" for k, v in r["arm_per_ws"].items()),
        file=out,
    )
    for key, value in r["api_per_ws"].items():
        print(f"     {key:<40} {value:7.2f}", file=out)
    print(f"   ERROR lines in the operator's log: {r['error_lines']}", file=out)
    for line in r["first_errors"]:
        print(f"     {line[:200]}", file=out)


async def main_async(args: argparse.Namespace) -> int:
    results = []
    with tempfile.TemporaryDirectory(prefix="kaito-scale-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for provisioner in args.provisioner:
            for n in args.n:
                result = await run_one(n, provisioner, args.timeout, workdir, args.profile, args.trace_memory)
                report(result, sys.stdout)
                sys.stdout.flush()
                results.append(result)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, nargs="+", default=[100, 300], help="Workspace counts")
    parser.add_argument(
        "--provisioner", nargs="+", choices=("aks", "karpenter"), default=["aks", "karpenter"]
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run before giving up")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="DIR", help="py-spy both processes into DIR"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, metavar="DIR", help="keep the operator's logs in DIR"
    )
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="run the operator under tracemalloc and write where its memory is into the --keep DIR "
        "(slows the operator: its CPU figures are then not comparable)",
    )
    parser.add_argument("--serve-sim", nargs=2, type=Path, metavar=("INFO", "COUNTS"), help=argparse.SUPPRESS)
    parser.add_argument("--karpenter", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--serve-operator", nargs="+", metavar="INFO READY PROV [TRACE]", help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve_sim:
        asyncio.run(_serve_sim(args.serve_sim[0], args.serve_sim[1], args.karpenter))
        return 0
    if args.serve_operator:
        logging.basicConfig(
            level=logging.INFO, format="%(relativeCreated)9.0fms %(levelname)s %(name)s %(message)s"
        )
        info, ready, prov, *trace = args.serve_operator
        if trace:
            import tracemalloc

            tracemalloc.start(int(os.environ.get("KAITO_BENCH_TRACE_FRAMES", "1")))
        asyncio.run(_serve_operator(Path(info), Path(ready), prov, Path(trace[0]) if trace else None))
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
