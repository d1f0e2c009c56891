"""Metric families are created once per registry, with controller-runtime's names."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from kaito.ctrl.metrics import REGISTRY, controller_metrics, workqueue_metrics

EXPECTED = {
    "workqueue_depth",
    "workqueue_adds",
    "workqueue_queue_duration_seconds",
    "workqueue_work_duration_seconds",
    "workqueue_retries",
    "workqueue_unfinished_work_seconds",
    "workqueue_longest_running_processor_seconds",
    "controller_runtime_reconcile",
    "controller_runtime_reconcile_errors",
    "controller_runtime_terminal_reconcile_errors",
    "controller_runtime_reconcile_time_seconds",
    "controller_runtime_active_workers",
    "controller_runtime_max_concurrent_reconciles",
}


def test_one_family_per_registry_with_the_expected_names() -> None:
    registry = CollectorRegistry()
    assert workqueue_metrics(registry) is workqueue_metrics(registry)
    assert controller_metrics(registry) is controller_metrics(registry)
    assert workqueue_metrics(registry) is not workqueue_metrics(CollectorRegistry())
    names = {family.name for family in registry.collect()}
    assert names == EXPECTED
    assert workqueue_metrics() is workqueue_metrics(REGISTRY)
