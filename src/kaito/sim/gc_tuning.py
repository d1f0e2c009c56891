"""The cyclic garbage collector tuned for a long-lived process holding many objects.

Both processes of `kaito up` run under :func:`collector_tuned`: the embedded cluster's
(:mod:`kaito.sim.child`) and the operator's (:mod:`kaito.cli.up`).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["GC_THRESHOLDS", "collector_tuned"]

# the collector's generation thresholds (Python's default is 700, 10, 10): a cluster and its operator allocate
# many short-lived objects, and a young collection every 700 of them cost about a sixth of `up`'s CPU with 200
# Workspaces (bench/up_bench.py), most of it walking long-lived objects again
GC_THRESHOLDS = (10_000, 20, 10)


@contextlib.contextmanager
def collector_tuned() -> Iterator[None]:
    """Run with the collector tuned for a long-lived process holding many objects.

    What start-up allocated (modules, classes, schemas) is frozen out of the collector's sight, and young
    collections are rarer (:data:`GC_THRESHOLDS`). At the end the thresholds are restored and everything is
    frozen again: the block is the process's last act, and the interpreter's final collection would otherwise
    walk the stopped cluster's objects (seconds with hundreds of Workspaces) just to free them.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.freeze()
