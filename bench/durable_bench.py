"""The durable store's write cost without HTTP: CPU per merge-patch, in memory and over SQLite, interleaved.

Not a test: it prints figures. Run with `python bench/durable_bench.py` (options: --help).

Each round times `--writes` merge-patches of 16 ConfigMaps through a `Store` in memory, then through a `Store`
over a fresh `SqliteBackend`, with CPU time (`time.process_time`), and also the CPU spent inside the backend's
`committed` (the INSERT, its commit and the JSON encoding). Rounds alternate the two modes, so a machine
shared with other work loads both alike; the medians over `--rounds` are printed with the durable/memory
ratio. `bench/sim_bench.py --compare N` measures the same over HTTP, where a request costs several times more.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from kaito.sim.server.durable import SqliteBackend
from kaito.sim.server.persistence import CommittedWrite
from kaito.sim.server.store import Store

__all__ = ["main", "patch_cost"]

MERGE = "application/merge-patch+json"


class _TimedBackend(SqliteBackend):
    """A SqliteBackend that adds up the CPU time spent in :meth:`committed`."""

    spent_s = 0.0

    def committed(self, write: CommittedWrite) -> None:
        started = time.process_time()
        try:
            super().committed(write)
        finally:
            self.spent_s += time.process_time() - started


def patch_cost(writes: int, data_dir: Path | None) -> tuple[float, float]:
    """CPU us per merge-patch of a store (over SQLite in ``data_dir`` if given), and the us in the backend."""
    backend = _TimedBackend(data_dir / "bench.db") if data_dir is not None else None
    store = Store(persistence=backend)
    store.create("v1", "Namespace", {"metadata": {"name": "bench"}})
    for i in range(16):
        body = {"metadata": {"name": f"cm-{i}", "namespace": "bench"}, "data": {"i": str(i)}}
        store.create("v1", "ConfigMap", body)
    if backend is not None:
        backend.spent_s = 0.0
    started = time.process_time()
    for seq in range(writes):
        store.patch("v1", "ConfigMap", f"cm-{seq % 16}", {"data": {"seq": str(seq)}}, MERGE, "bench")
    total = time.process_time() - started
    in_backend = backend.spent_s if backend is not None else 0.0
    if backend is not None:
        backend.close()
    return total / writes * 1e6, in_backend / writes * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--writes", type=int, default=3000, help="merge-patches per round and mode")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each in memory then durable")
    args = parser.parse_args(argv)
    memory: list[float] = []
    durable: list[float] = []
    in_backend: list[float] = []
    for round_ in range(args.rounds):
        memory.append(patch_cost(args.writes, None)[0])
        with tempfile.TemporaryDirectory(prefix="durable-bench-") as tmp:
            total, backend = patch_cost(args.writes, Path(tmp))
        durable.append(total)
        in_backend.append(backend)
        print(
            f"round {round_ + 1}/{args.rounds}: memory {memory[-1]:5.1f} us   durable {durable[-1]:5.1f} us "
            f"({backend:4.1f} us in the backend)",
            flush=True,
        )
    mem, dur = statistics.median(memory), statistics.median(durable)
    print(
        f"store-level merge-patch, median CPU: memory {mem:5.1f} us -> durable {dur:5.1f} us "
        f"({dur / mem:4.2f}x); in SqliteBackend.committed {statistics.median(in_backend):4.1f} us"
    )


if __name__ == "__main__":
    main()
