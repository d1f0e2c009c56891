"""The StatefulSet controller: pods with stable names and ordinals, created, deleted and rolled in order.

Pods are named ``<statefulset>-<ordinal>`` for ordinals ``0..replicas-1``, with hostname the pod's name,
subdomain ``spec.serviceName``, and the labels ``statefulset.kubernetes.io/pod-name``,
``apps.kubernetes.io/pod-index`` and ``controller-revision-hash`` (``<statefulset>-<template hash>``). A pod
found in a terminal phase is deleted, to be recreated with the same name.

- OrderedReady (the default): one ordinal at a time, each created only once all before it are Ready; scaled
  down from the highest ordinal, one pod at a time, only while all the pods it keeps are Ready.
- Parallel: every missing ordinal is created, and every surplus one deleted, at once.
- RollingUpdate (the default): once every pod is in place and Ready, the highest ordinal not at the update
  revision is deleted (to be recreated at it), one pod at a time, down to ``partition``; ordinals below the
  partition are created at the current revision. OnDelete leaves existing pods alone.

Status reports both revisions; ``currentRevision`` becomes the update revision once every pod runs it and is
Ready.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from kaito.sim.server.errors import NotFound
from kaito.sim.workloads.ownership import owned_by
from kaito.sim.workloads.pod_state import TERMINAL_PHASES, pod_is_ready
from kaito.sim.workloads.replicas import spec_replicas
from kaito.sim.workloads.templates import pod_from_template, template_hash
from kaito.sim.workloads.workload_controller import WorkloadController

__all__ = ["StatefulSetController"]

_STS_POD_NAME = "statefulset.kubernetes.io/pod-name"
_STS_POD_INDEX = "apps.kubernetes.io/pod-index"
_REVISION_HASH = "controller-revision-hash"


class StatefulSetController(WorkloadController):
    """Creates, deletes and rolls a StatefulSet's ordinal pods and writes its status."""

    def sync(self, namespace: str, name: str) -> None:
        sts = self._get_live("apps/v1", "StatefulSet", namespace, name)
        if sts is None:
            return
        spec = sts["spec"]
        desired = spec_replicas(sts)
        parallel = spec.get("podManagementPolicy") == "Parallel"
        strategy = spec.get("updateStrategy") or {}
        on_delete = strategy.get("type") == "OnDelete"
        partition = int(((strategy.get("rollingUpdate") or {}).get("partition")) or 0)
        template = spec.get("template") or {}
        update_revision = f"{name}-{template_hash(template)}"
        previous = sts.get("status") or {}
        current_revision = previous.get("currentRevision") or update_revision
        pods: dict[int, dict[str, Any]] = {}
        for pod in owned_by(self.store.list("v1", "Pod", namespace)[0], sts):
            ordinal = _ordinal(pod["metadata"]["name"], name)
            if ordinal is not None:
                pods[ordinal] = pod
        for ordinal in range(desired):
            if ordinal not in pods:
                revision = current_revision if ordinal < partition else update_revision
                pods[ordinal] = self._create_pod(sts, ordinal, revision)
                if not parallel:
                    break
                continue
            pod = pods[ordinal]
            if pod["metadata"].get("deletionTimestamp"):
                if not parallel:
                    break
                continue
            if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
                self._delete_pod(sts, pod)
                if not parallel:
                    break
                continue
            if not parallel and not pod_is_ready(pod):
                break
        condemned = sorted((o for o in pods if o >= desired), reverse=True)
        for ordinal in condemned:
            pod = pods[ordinal]
            if not parallel:
                if any(not pod_is_ready(pods[o]) for o in pods if o < ordinal and o < desired):
                    break
                if not pod["metadata"].get("deletionTimestamp"):
                    self._delete_pod(sts, pod)
                break
            if not pod["metadata"].get("deletionTimestamp"):
                self._delete_pod(sts, pod)
        in_range = [pods[o] for o in range(desired) if o in pods]
        settled = len(in_range) == desired and all(pod_is_ready(p) for p in in_range) and not condemned
        if settled and not on_delete:
            for ordinal in range(desired - 1, partition - 1, -1):
                pod = pods[ordinal]
                if (pod["metadata"].get("labels") or {}).get(_REVISION_HASH) != update_revision:
                    self._delete_pod(sts, pod)
                    break
        existing = [p for p in pods.values() if self._exists(p)]
        revisions = [(p["metadata"].get("labels") or {}).get(_REVISION_HASH) for p in existing]
        ready = sum(1 for p in existing if pod_is_ready(p))
        status: dict[str, Any] = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(existing),
            "readyReplicas": ready,
            "currentReplicas": revisions.count(current_revision),
            "updatedReplicas": revisions.count(update_revision),
            "availableReplicas": ready,
            "currentRevision": current_revision,
            "updateRevision": update_revision,
            "collisionCount": int(previous.get("collisionCount") or 0),
        }
        if status["updatedReplicas"] == status["replicas"] == desired and ready == desired:
            status["currentRevision"] = update_revision
            status["currentReplicas"] = status["updatedReplicas"]
        if status != previous:
            sts["status"] = status
            self.store.update("apps/v1", "StatefulSet", sts, subresource="status")

    def _exists(self, pod: Mapping[str, Any]) -> bool:
        try:
            self.store.get("v1", "Pod", pod["metadata"]["name"], pod["metadata"]["namespace"])
        except NotFound:
            return False
        return True

    def _create_pod(self, sts: dict[str, Any], ordinal: int, revision: str) -> dict[str, Any]:
        name = f"{sts['metadata']['name']}-{ordinal}"
        labels = {_REVISION_HASH: revision, _STS_POD_NAME: name, _STS_POD_INDEX: str(ordinal)}
        body = pod_from_template(sts["spec"].get("template") or {}, sts, labels=labels)
        body["metadata"]["name"] = name
        body["spec"]["hostname"] = name
        if sts["spec"].get("serviceName"):
            body["spec"]["subdomain"] = sts["spec"]["serviceName"]
        pod = self.store.create("v1", "Pod", body, namespace=sts["metadata"]["namespace"])
        message = f"create Pod {name} in StatefulSet {sts['metadata']['name']} successful"
        self.recorder.event(sts, "Normal", "SuccessfulCreate", message, component="statefulset-controller")
        return pod

    def _delete_pod(self, sts: dict[str, Any], pod: dict[str, Any]) -> None:
        with contextlib.suppress(NotFound):
            self.store.delete("v1", "Pod", pod["metadata"]["name"], pod["metadata"]["namespace"])
        message = f"delete Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} successful"
        self.recorder.event(sts, "Normal", "SuccessfulDelete", message, component="statefulset-controller")


def _ordinal(pod_name: str, set_name: str) -> int | None:
    prefix = f"{set_name}-"
    if not pod_name.startswith(prefix) or not pod_name[len(prefix) :].isdigit():
        return None
    return int(pod_name[len(prefix) :])
