"""Prometheus metrics with controller-runtime's names, registered once per `CollectorRegistry`.

`default_registry()` (also `REGISTRY`) is the library-wide registry served by the manager's /metrics; it
and prometheus-client load on first use, so importing kaito.ctrl stays light. Tests pass their own
`CollectorRegistry()` so counters never leak between tests. `workqueue_metrics(registry)` and
`controller_metrics(registry)` return the same metric objects for the same registry (memoised), because
prometheus-client refuses to register a name twice.

Work-queue metrics carry the labels `controller` and `name` (both the queue's name), like controller-runtime.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "ControllerMetrics",
    "WorkqueueMetrics",
    "controller_metrics",
    "default_registry",
    "workqueue_metrics",
]


@functools.cache
def default_registry() -> CollectorRegistry:
    """The library-wide registry, with the process, platform and GC collectors every exporter serves."""
    from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

    registry = CollectorRegistry(auto_describe=True)
    for collector in (ProcessCollector, PlatformCollector, GCCollector):
        collector(registry=registry)
    return registry


def __getattr__(name: str) -> Any:
    if name == "REGISTRY":  # module attribute created on first use (PEP 562)
        return default_registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# 10 ns .. 1 s by decades, client-go's ExponentialBuckets(1e-8, 10, 10)
_QUEUE_BUCKETS = tuple(1e-8 * 10**i for i in range(10))
_RECONCILE_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
    1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
)  # fmt: skip


@dataclass(frozen=True)
class WorkqueueMetrics:
    depth: Gauge
    adds: Counter
    queue_duration: Histogram
    work_duration: Histogram
    retries: Counter
    unfinished_work: Gauge
    longest_running: Gauge


@dataclass(frozen=True)
class ControllerMetrics:
    reconcile_total: Counter
    reconcile_errors: Counter
    terminal_errors: Counter
    reconcile_time: Histogram
    active_workers: Gauge
    max_concurrent: Gauge


_WORKQUEUE: dict[int, tuple[CollectorRegistry, WorkqueueMetrics]] = {}
_CONTROLLER: dict[int, tuple[CollectorRegistry, ControllerMetrics]] = {}


def workqueue_metrics(registry: CollectorRegistry | None = None) -> WorkqueueMetrics:
    """The work-queue metric family for `registry` (default: REGISTRY), created on first use."""
    from prometheus_client import Counter, Gauge, Histogram

    registry = registry or default_registry()
    cached = _WORKQUEUE.get(id(registry))
    if cached is not None and cached[0] is registry:
        return cached[1]
    labels = ("controller", "name")
    metrics = WorkqueueMetrics(
        depth=Gauge("workqueue_depth", "Current depth of workqueue", labels, registry=registry),
        adds=Counter(
            "workqueue_adds", "Total number of adds handled by workqueue", labels, registry=registry
        ),
        queue_duration=Histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            labels,
            buckets=_QUEUE_BUCKETS,
            registry=registry,
        ),
        work_duration=Histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes",
            labels,
            buckets=_QUEUE_BUCKETS,
            registry=registry,
        ),
        retries=Counter(
            "workqueue_retries", "Total number of retries handled by workqueue", labels, registry=registry
        ),
        unfinished_work=Gauge(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has been done that is in progress and hasn't been observed by "
            "work_duration. Large values indicate stuck threads.",
            labels,
            registry=registry,
        ),
        longest_running=Gauge(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running.",
            labels,
            registry=registry,
        ),
    )
    _WORKQUEUE[id(registry)] = (registry, metrics)
    return metrics


def controller_metrics(registry: CollectorRegistry | None = None) -> ControllerMetrics:
    """The controller metric family for `registry` (default: REGISTRY), created on first use."""
    from prometheus_client import Counter, Gauge, Histogram

    registry = registry or default_registry()
    cached = _CONTROLLER.get(id(registry))
    if cached is not None and cached[0] is registry:
        return cached[1]
    metrics = ControllerMetrics(
        reconcile_total=Counter(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            ("controller", "result"),
            registry=registry,
        ),
        reconcile_errors=Counter(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            ("controller",),
            registry=registry,
        ),
        terminal_errors=Counter(
            "controller_runtime_terminal_reconcile_errors",
            "Total number of terminal reconciliation errors per controller",
            ("controller",),
            registry=registry,
        ),
        reconcile_time=Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            ("controller",),
            buckets=_RECONCILE_BUCKETS,
            registry=registry,
        ),
        active_workers=Gauge(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            ("controller",),
            registry=registry,
        ),
        max_concurrent=Gauge(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller",
            ("controller",),
            registry=registry,
        ),
    )
    _CONTROLLER[id(registry)] = (registry, metrics)
    return metrics
