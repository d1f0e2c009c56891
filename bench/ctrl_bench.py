"""Figures for kaito.ctrl: work-queue throughput, informer event rate, memory per cached object.

Not a test: it prints figures. Run with `python bench/ctrl_bench.py` (options: --help).

* queue    - add+get+done cycles per second on one WorkQueue (with its Prometheus metrics, and without),
             over `--keys` distinct keys so dirty-set hits and misses both happen.
* informer - events per second from the embedded API server (kaito.sim over loopback HTTP) into a handler:
             `--events` ConfigMaps are written straight into the sim's store (so the writer costs little)
             while a SharedInformer watches; the clock stops when the handler has seen the last one.
* memory   - tracemalloc bytes per cached object with `--objects` realistic ConfigMaps (about 1 KiB of
             data, labels, annotations, an owner reference and managedFields): a bare Store of frozen
             objects, the same objects as plain dicts for comparison, and an informer that listed them over
             HTTP from the sim (managedFields stripped by its default transform). Also the price of reading
             an object frozen (free) versus deep-copying it on every read.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import json
import time
import tracemalloc
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry

from kaito.ctrl.client import GVK, Client
from kaito.ctrl.informer import HandlerFuncs, SharedInformer, strip_managed_fields
from kaito.ctrl.store import Store
from kaito.ctrl.workqueue import WorkQueue
from kaito.sim.cluster import Cluster

CM = GVK("v1", "ConfigMap")


def realistic_configmap(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"cm-{i:05d}",
            "namespace": f"team-{i % 20}",
            "uid": f"6f1c2b4e-0000-4000-8000-{i:012d}",
            "resourceVersion": str(1000 + i),
            "creationTimestamp": "2026-11-25T10:00:00Z",
            "labels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": f"web-{i % 50}"},
            "annotations": {"kaito.sh/revision": str(i % 7), "note": "x" * 64},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"web-{i % 50}",
                 "uid": f"owner-{i % 50}", "controller": True, "blockOwnerDeletion": True}
            ],
            "managedFields": [
                {"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                 "time": "2026-11-25T10:00:00Z", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:data": {f"f:key{k}": {} for k in range(8)}}}
            ],
        },
        "data": {f"key{k}": f"value-{i}-{k}-" + "v" * 100 for k in range(8)},
    }  # fmt: skip


async def bench_queue(cycles: int, keys: int) -> None:
    for metrics in (True, False):
        queue: WorkQueue[int] = WorkQueue("bench", registry=CollectorRegistry(), metrics=metrics)
        started = time.perf_counter()
        for i in range(cycles):
            queue.add(i % keys)
            queue.add(i % keys)  # a duplicate: the dirty set absorbs it
            item = await queue.get()
            queue.done(item)
        elapsed = time.perf_counter() - started
        queue.shutdown()
        label = "with metrics" if metrics else "no metrics  "
        print(f"queue    add+get+done ({label}): {cycles / elapsed:>10,.0f} ops/s  ({cycles:,} cycles)")


async def bench_informer(events: int) -> None:
    async with Cluster(workloads=False, arm=False) as cluster:
        cluster.store.create(
            "v1", "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}
        )
        async with await Client.from_kubeconfig(str(cluster.kubeconfig)) as client:
            informer = SharedInformer(client, CM, namespace="bench")
            seen = 0
            done = asyncio.Event()
            watching = asyncio.Event()

            def on_add(obj: Any, initial: bool) -> None:
                nonlocal seen
                if obj["metadata"]["name"] == "marker":
                    watching.set()
                    return
                seen += 1
                if seen == events:
                    done.set()

            informer.add_event_handler(HandlerFuncs(add=on_add))
            informer.start()
            await informer.wait_for_sync()
            marker = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "marker", "namespace": "bench"},
            }
            cluster.store.create("v1", "ConfigMap", marker, namespace="bench")
            await watching.wait()  # the watch is open once the marker arrives
            started = time.perf_counter()
            for i in range(events):
                obj = realistic_configmap(i)
                obj["metadata"] = {
                    "name": f"cm-{i:05d}",
                    "namespace": "bench",
                    "labels": obj["metadata"]["labels"],
                }
                cluster.store.create("v1", "ConfigMap", obj, namespace="bench")
                if i % 100 == 99:
                    await asyncio.sleep(0)
            await asyncio.wait_for(done.wait(), 120)
            elapsed = time.perf_counter() - started
            print(f"informer events from kaito.sim into a handler: {events / elapsed:>10,.0f} events/s  "
                  f"({events:,} ADDED events in {elapsed:.2f}s, writes included)")  # fmt: skip
            await informer.stop()


def measure(build: Any) -> tuple[Any, int]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    result = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return result, after - before


async def bench_memory(objects: int) -> None:
    source = [realistic_configmap(i) for i in range(objects)]
    wire = [json.dumps(o) for o in source]  # decoded inside each measurement, so strings are counted as owned
    store, frozen_bytes = measure(lambda: _fill(Store(), (json.loads(w) for w in wire)))
    plain, plain_bytes = measure(lambda: {i: json.loads(w) for i, w in enumerate(wire)})
    stripped, stripped_bytes = measure(
        lambda: _fill(Store(), (strip_managed_fields(json.loads(w)) for w in wire))
    )
    print(f"memory   Store, frozen, managedFields kept:     {frozen_bytes / objects:>8,.0f} B/object")
    print(f"memory   Store, frozen, managedFields stripped: {stripped_bytes / objects:>8,.0f} B/object")
    print(
        f"memory   plain decoded dicts, no store/indexes: {plain_bytes / objects:>8,.0f} B/object (compare)"
    )
    del stripped

    key = "team-1/cm-00001"
    reads = 100_000
    started = time.perf_counter()
    for _ in range(reads):
        store.get(key)
    frozen_read = (time.perf_counter() - started) / reads
    started = time.perf_counter()
    for _ in range(reads // 100):
        copy.deepcopy(store.get(key))
    copy_read = (time.perf_counter() - started) / (reads // 100)
    print(f"read     frozen view: {frozen_read * 1e9:,.0f} ns/read; ", end="")
    print(f"deep copy per read: {copy_read * 1e6:,.1f} us/read")
    del store, plain

    async with Cluster(workloads=False, arm=False) as cluster:
        namespaces: set[str] = set()
        for obj in source:
            body = copy.deepcopy(obj)
            namespace = body["metadata"]["namespace"]
            body["metadata"] = {
                k: v for k, v in body["metadata"].items() if k in ("name", "labels", "annotations")
            }
            if namespace not in namespaces:
                namespaces.add(namespace)
                ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
                cluster.store.create("v1", "Namespace", ns)
            cluster.store.create("v1", "ConfigMap", body, namespace=namespace)
        async with await Client.from_kubeconfig(str(cluster.kubeconfig)) as client:
            gc.collect()
            tracemalloc.start()
            informer = SharedInformer(client, CM)
            before = tracemalloc.get_traced_memory()[0]
            informer.start()
            started = time.perf_counter()
            await informer.wait_for_sync()
            elapsed = time.perf_counter() - started
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            await informer.stop()
            per_object = (after - before) / objects
            print(f"memory   informer cache, {len(informer.store):,} objects listed over HTTP: ", end="")
            print(f"{per_object:>8,.0f} B/object (list+sync {elapsed:.2f}s under tracemalloc)")


def _fill(store: Store, objects: Iterable[Mapping[str, Any]]) -> Store:
    for obj in objects:
        store.upsert(obj)
    return store


async def main() -> None:
    parser = argparse.ArgumentParser(description="kaito.ctrl benchmark figures")
    parser.add_argument("--cycles", type=int, default=200_000, help="work-queue add+get+done cycles")
    parser.add_argument("--keys", type=int, default=1_000, help="distinct work-queue keys")
    parser.add_argument(
        "--events", type=int, default=5_000, help="objects created while the informer watches"
    )
    parser.add_argument("--objects", type=int, default=10_000, help="objects cached for the memory figure")
    args = parser.parse_args()
    await bench_queue(args.cycles, args.keys)
    await bench_informer(args.events)
    await bench_memory(args.objects)


if __name__ == "__main__":
    asyncio.run(main())
