"""`kaito up --apply FILE --exit-when-ready` of N generated Workspaces: time to exit Ready and CPU of `up`'s
whole process tree (the operator's process and the embedded cluster's child process).

Not a test: it prints figures. Run with `python bench/up_bench.py --n 50 200` (options: --help).

Design: for each N, a YAML file of N phi-3 Workspaces (as bench/scale_bench.py generates them) is written to a
temporary directory, and `python -m kaito.cli up --apply FILE --exit-when-ready --in-memory` runs as a child
process with its own kubeconfig path. The child's wall time (start to exit, CLI start-up included) and its
CPU time (user + system, from the kernel's rusage of the child, which includes the processes it waited for:
`up` awaits its cluster process before it exits, so the API server, workload simulator, ARM endpoint and
operator are all counted) are read when it exits. Before it is reaped, its /proc stat splits that CPU into
`up`'s own (the operator, its webhooks, applying and following) and its reaped children's (the cluster).
The ratio of each N's figures to the smallest N's shows how `up` grows (linear growth keeps CPU per
Workspace flat). A child that does not exit 0 within `--timeout` is a failure and its output's tail is
printed.

With `--profile DIR` each child runs under py-spy (the bench extra: `pip install -e '.[bench]'`), sampling
50 times a second, `up` and its cluster process both (`--subprocesses`), and the raw stacks are written to
`DIR/up-<provisioner>-<N>.txt` (one line per stack and its count, for flamegraph.pl or a few lines of
Python). The figures printed then include py-spy's own CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from scale_bench import workspace  # the same generated Workspaces (bench/ is the script's path)


def profiler(profile_dir: Path | None, provisioner: str, n: int) -> list[str]:
    """The py-spy command line to put before the child's with --profile DIR (nothing without it)."""
    if profile_dir is None:
        return []
    found = Path(sys.executable).with_name("py-spy")
    spy = str(found) if found.exists() else shutil.which("py-spy")
    if spy is None:
        sys.exit("--profile needs py-spy (pip install -e '.[bench]'); it is not next to python nor on PATH")
    profile_dir.mkdir(parents=True, exist_ok=True)
    out = profile_dir / f"up-{provisioner}-{n}.txt"
    return [spy, "record", "--subprocesses", "--output", str(out), "--format", "raw", "--rate", "50", "--"]


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_split(pid: int) -> tuple[float, float]:
    """(own, reaped children's) CPU seconds of the exited, not yet reaped process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    children = (int(fields[13]) + int(fields[14])) / _TICKS  # cutime, cstime
    return own, children


def run_one(
    n: int, provisioner: str, timeout: float, workdir: Path, profile_dir: Path | None = None
) -> dict[str, Any]:
    manifest = workdir / f"workspaces-{n}.yaml"
    manifest.write_text(yaml.safe_dump_all([workspace(i, "default") for i in range(n)]))
    command = [
        *profiler(profile_dir, provisioner, n),
        sys.executable,
        "-m",
        "kaito.cli",
        "up",
        "--apply",
        str(manifest),
        "--exit-when-ready",
        "--in-memory",
        "--provisioner",
        provisioner,
        "--timeout",
        str(timeout),
        "--kubeconfig-out",
        str(workdir / f"up-{n}.kubeconfig"),
    ]
    log = workdir / f"up-{provisioner}-{n}.log"
    started = time.monotonic()
    with log.open("wb") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: /proc still there
            own_s, children_s = _cpu_split(child.pid)
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            if child.poll() is None:
                child.kill()
    wall = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    ready_line = next((line for line in text.splitlines() if line.rstrip().endswith("is Ready")), "")
    return {
        "n": n,
        "provisioner": provisioner,
        "exit_code": child.returncode,
        "wall_s": wall,
        "ready_at_s": float(ready_line.split("]")[0].strip("[ s")) if ready_line.startswith("[") else None,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "up_cpu_s": own_s,
        "cluster_cpu_s": children_s,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "tail": text[-2000:] if child.returncode != 0 else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, nargs="+", default=[50, 200], help="Workspace counts")
    parser.add_argument("--provisioner", choices=("aks", "karpenter"), default="aks")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run before giving up")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="DIR", help="run each child under py-spy, stacks in DIR"
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="kaito-up-bench-") as tmp:
        for n in sorted(args.n):
            r = run_one(n, args.provisioner, args.timeout, Path(tmp), args.profile)
            results.append(r)
            base = results[0]
            print(
                f"N={n} {args.provisioner}: exit {r['exit_code']} after {r['wall_s']:.1f} s "
                f"(Ready at {r['ready_at_s']} s after start); CPU {r['cpu_s']:.1f} s = "
                f"{r['cpu_s'] * 1000 / n:.1f} ms per Workspace (up {r['up_cpu_s']:.1f} s, its children "
                f"{r['cluster_cpu_s']:.1f} s); peak RSS {r['peak_rss_mb']:.0f} MB; "
                f"vs N={base['n']}: wall x{r['wall_s'] / base['wall_s']:.2f}, "
                f"CPU x{r['cpu_s'] / base['cpu_s']:.2f} for x{n / base['n']:.1f} Workspaces",
                flush=True,
            )
            if r["tail"]:
                print(r["tail"])
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if all(r["exit_code"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
