"""Start-up cost of `import kaito.ctrl` and `kaito plan`, against a bare interpreter.

Runs each command N times, interleaved, and prints the median wall time and the median user+sys CPU time of
the child (CPU time is the fair figure on a loaded machine). Usage: python bench/startup_time.py [N]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

__all__ = ["main"]


def commands() -> dict[str, list[str]]:
    kaito = shutil.which("kaito", path=os.path.dirname(sys.executable)) or "kaito"
    return {
        "bare python": [sys.executable, "-c", "pass"],
        "import kaito.ctrl": [sys.executable, "-c", "import kaito.ctrl"],
        "kaito plan": [
            kaito,
            "plan",
            "--preset",
            "phi-3-mini-4k-instruct",
            "--instance-type",
            "Standard_NC6s_v3",
        ],
    }


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and user+sys CPU seconds of one run of `argv`."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} exited with {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    cmds = commands()
    wall: dict[str, list[float]] = {name: [] for name in cmds}
    cpu: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, argv in cmds.items():
            w, c = measure(argv)
            wall[name].append(w)
            cpu[name].append(c)
    base_wall, base_cpu = statistics.median(wall["bare python"]), statistics.median(cpu["bare python"])
    print(f"{runs} interleaved runs each, medians (load average {os.getloadavg()[0]:.1f})")
    print(f"{'command':<20}{'wall s':>9}{'cpu s':>9}{'wall-bare':>11}{'cpu-bare':>10}")
    for name in cmds:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"{name:<20}{w:>9.3f}{c:>9.3f}{w - base_wall:>11.3f}{c - base_cpu:>10.3f}")


if __name__ == "__main__":
    main()
