"""The Deployment controller: a Deployment's rollout over ReplicaSets, and its status.

A Deployment owns ReplicaSets named ``<deployment>-<pod-template-hash>`` (:func:`template_hash` of the pod
template, moved by ``status.collisionCount``); the *new* ReplicaSet is the one whose template, without that
label, equals the Deployment's; every other owned ReplicaSet is *old*. Each carries the annotations kube
writes: ``deployment.kubernetes.io/revision`` (one past the highest old revision; a rollback to an older
template bumps its ReplicaSet to the newest revision again), ``desired-replicas`` and ``max-replicas``.

Strategies, by kube's own arithmetic, as pure functions of the ReplicaSets:

- RollingUpdate: :func:`resolve_fenceposts` turns maxSurge/maxUnavailable (25% each by default; percentages
  round surge up and unavailability down, and both 0 means 1 unavailable) into counts;
  :func:`new_replica_set_replicas` grows the new ReplicaSet within ``replicas + maxSurge`` before
  :func:`old_replica_sets_scale_down` shrinks the old ones without taking availability below
  ``replicas - maxUnavailable`` (unhealthy replicas first, oldest ReplicaSet first).
- Recreate: old ReplicaSets go to 0; the new one is scaled up only once all their pods are gone or
  finished.

A paused Deployment is not rolled out, only its status is written. Idle old ReplicaSets beyond
``revisionHistoryLimit`` (10 by default) are deleted, oldest revision first. Status counts come from the
ReplicaSets' own status (the ReplicaSet controller's); :func:`deployment_conditions` derives the Available
and Progressing conditions with kube's reasons, including ProgressDeadlineExceeded after
``progressDeadlineSeconds`` without progress, for which :class:`DeploymentController` sets a timer.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from kaito.sim.server.errors import NotFound
from kaito.sim.server.objects import clone, format_time, parse_time
from kaito.sim.workloads.conditions import set_condition
from kaito.sim.workloads.ownership import controller_of, owner_reference
from kaito.sim.workloads.pod_state import TERMINAL_PHASES
from kaito.sim.workloads.replicas import spec_replicas, status_count
from kaito.sim.workloads.templates import template_hash
from kaito.sim.workloads.workload_controller import WorkloadController

__all__ = [
    "POD_TEMPLATE_HASH",
    "DeploymentController",
    "deployment_conditions",
    "new_replica_set_replicas",
    "old_replica_sets_scale_down",
    "resolve_fenceposts",
]

POD_TEMPLATE_HASH = "pod-template-hash"
_REVISION = "deployment.kubernetes.io/revision"
_DESIRED = "deployment.kubernetes.io/desired-replicas"
_MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"


def _int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        scaled = int(value[:-1]) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(value)


def resolve_fenceposts(strategy: Mapping[str, Any] | None, replicas: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) of a RollingUpdate strategy; kube forbids both 0 by making unavailable 1."""
    rolling = (strategy or {}).get("rollingUpdate") or {}
    surge = _int_or_percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def new_replica_set_replicas(
    desired: int, max_surge: int, new_rs: Mapping[str, Any], all_rs: list[Any]
) -> int:
    """kube's ``NewRSNewReplicas`` for RollingUpdate: grow the new ReplicaSet within replicas + maxSurge."""
    current = sum(spec_replicas(rs) for rs in all_rs)
    new_replicas = spec_replicas(new_rs)
    if current >= desired + max_surge:
        return new_replicas
    return new_replicas + min(desired + max_surge - current, desired - new_replicas)


def old_replica_sets_scale_down(
    desired: int, max_unavailable: int, new_rs: Mapping[str, Any], old_rs: list[dict[str, Any]]
) -> dict[str, int]:
    """kube's ``reconcileOldReplicaSets``: new ``spec.replicas`` per old ReplicaSet name (oldest first).

    First unhealthy replicas go, then available ones, never taking availability below
    ``desired - max_unavailable``.
    """
    targets = {rs["metadata"]["name"]: spec_replicas(rs) for rs in old_rs}
    if not sum(targets.values()):
        return targets
    all_pods = sum(targets.values()) + spec_replicas(new_rs)
    min_available = desired - max_unavailable
    new_unavailable = spec_replicas(new_rs) - status_count(new_rs, "availableReplicas")
    budget = all_pods - min_available - new_unavailable
    if budget <= 0:
        return targets
    ordered = sorted(
        old_rs, key=lambda rs: (rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"])
    )
    for rs in ordered:  # cleanupUnhealthyReplicas
        name = rs["metadata"]["name"]
        unhealthy = targets[name] - status_count(rs, "availableReplicas")
        cut = min(budget, max(0, unhealthy))
        targets[name] -= cut
        budget -= cut
        if budget <= 0:
            break
    available = sum(status_count(rs, "availableReplicas") for rs in old_rs) + status_count(
        new_rs, "availableReplicas"
    )
    room = available - min_available
    for rs in ordered:  # scaleDownOldReplicaSetsForRollingUpdate
        if room <= 0:
            break
        name = rs["metadata"]["name"]
        cut = min(targets[name], room)
        targets[name] -= cut
        room -= cut
    return targets


def deployment_conditions(
    previous: list[dict[str, Any]],
    *,
    desired: int,
    max_unavailable: int,
    status: Mapping[str, int],
    new_rs_name: str,
    created_new_rs: bool,
    progressed: bool,
    deadline_s: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The Available and Progressing conditions the deployment controller writes, with its reasons."""
    stamp = format_time(now)
    conditions = [clone(c) for c in previous]
    if status["availableReplicas"] >= desired - max_unavailable:
        message = "Deployment has minimum availability."
        set_condition(
            conditions, "Available", "True", "MinimumReplicasAvailable", message, stamp, update_time=True
        )
    else:
        message = "Deployment does not have minimum availability."
        reason = "MinimumReplicasUnavailable"
        set_condition(conditions, "Available", "False", reason, message, stamp, update_time=True)
    complete = (
        status["updatedReplicas"] == desired
        and status["replicas"] == desired
        and status["availableReplicas"] == desired
    )
    current = next((c for c in conditions if c.get("type") == "Progressing"), None)
    if not new_rs_name:
        pass  # Recreate, old pods still stopping: no new ReplicaSet to report on yet
    elif complete:
        message = f'ReplicaSet "{new_rs_name}" has successfully progressed.'
        set_condition(
            conditions, "Progressing", "True", "NewReplicaSetAvailable", message, stamp, update_time=True
        )
    elif created_new_rs:
        message = f'Created new replica set "{new_rs_name}"'
        reason = "NewReplicaSetCreated"
        set_condition(conditions, "Progressing", "True", reason, message, stamp, update_time=True, touch=True)
    elif progressed or current is None:
        message = f'ReplicaSet "{new_rs_name}" is progressing.'
        reason = "ReplicaSetUpdated"
        set_condition(conditions, "Progressing", "True", reason, message, stamp, update_time=True, touch=True)
    elif (
        deadline_s is not None and current is not None and current.get("reason") != "ProgressDeadlineExceeded"
    ):
        since = parse_time(current.get("lastUpdateTime") or current.get("lastTransitionTime") or stamp)
        if now - since >= timedelta(seconds=deadline_s):
            message = f'ReplicaSet "{new_rs_name}" has timed out progressing.'
            set_condition(
                conditions,
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                message,
                stamp,
                update_time=True,
            )
    order = {"Available": 0, "Progressing": 1}
    return sorted(conditions, key=lambda c: order.get(str(c.get("type")), 2))


def _template_without_hash(template: Mapping[str, Any]) -> Mapping[str, Any]:
    """``template`` as compared across ReplicaSets: without the pod-template-hash label (shares the rest)."""
    metadata = template.get("metadata") or {}
    labels = metadata.get("labels")
    if not labels or POD_TEMPLATE_HASH not in labels:
        return template
    rest = {k: v for k, v in labels.items() if k != POD_TEMPLATE_HASH}
    if rest:
        return {**template, "metadata": {**metadata, "labels": rest}}
    return {**template, "metadata": {k: v for k, v in metadata.items() if k != "labels"}}


class DeploymentController(WorkloadController):
    """Rolls Deployments out over their ReplicaSets and writes their status; see the module docstring."""

    def sync(self, namespace: str, name: str) -> None:
        # the store's own dicts: read here, copied before any write (_bump_revision, _scale_replica_set)
        deployment = self._get_live("apps/v1", "Deployment", namespace, name, copy=False)
        if deployment is None:
            return
        spec = deployment["spec"]
        desired = spec_replicas(deployment)
        strategy = spec.get("strategy") or {}
        recreate = strategy.get("type") == "Recreate"
        max_surge, max_unavailable = (0, 0) if recreate else resolve_fenceposts(strategy, desired)
        all_rs = self.index.owned("apps/v1", "ReplicaSet", namespace, deployment, copy=False)
        want = _template_without_hash(spec.get("template") or {})
        new_rs = next((rs for rs in all_rs if _template_without_hash(rs["spec"]["template"]) == want), None)
        old_rs = [rs for rs in all_rs if rs is not new_rs]
        revision = 1 + max(
            (int(rs["metadata"].get("annotations", {}).get(_REVISION, "0")) for rs in old_rs), default=0
        )
        if spec.get("paused"):
            self._write_status(deployment, new_rs, all_rs, desired, max_unavailable, False)
            return
        if recreate:
            new_rs, created = self._rollout_recreate(deployment, new_rs, old_rs, revision)
        else:
            new_rs, created = self._rollout_rolling(
                deployment, new_rs, old_rs, revision, max_surge, max_unavailable
            )
        if created and new_rs is not None:
            all_rs.append(new_rs)
        self._clean_up_history(deployment, old_rs)
        self._write_status(deployment, new_rs, all_rs, desired, max_unavailable, created)

    def _rollout_recreate(
        self,
        deployment: dict[str, Any],
        new_rs: dict[str, Any] | None,
        old_rs: list[dict[str, Any]],
        revision: int,
    ) -> tuple[dict[str, Any] | None, bool]:
        """kube's rolloutRecreate: old ReplicaSets to 0; once none of their pods runs, the new one up."""
        for rs in old_rs:
            if spec_replicas(rs):
                self._scale_replica_set(deployment, rs, 0, 0)
        old_uids = {rs["metadata"]["uid"] for rs in old_rs}
        pods, _ = self.store.list("v1", "Pod", deployment["metadata"]["namespace"])
        if any(
            (controller_of(p) or {}).get("uid") in old_uids
            and p["status"].get("phase") not in TERMINAL_PHASES
            for p in pods
        ):
            return new_rs, False
        desired = spec_replicas(deployment)
        if new_rs is None:
            return self._create_replica_set(deployment, desired, revision, 0), True
        new_rs = self._bump_revision(new_rs, revision)
        if spec_replicas(new_rs) != desired:
            new_rs = self._scale_replica_set(deployment, new_rs, desired, 0)
        return new_rs, False

    def _rollout_rolling(
        self,
        deployment: dict[str, Any],
        new_rs: dict[str, Any] | None,
        old_rs: list[dict[str, Any]],
        revision: int,
        max_surge: int,
        max_unavailable: int,
    ) -> tuple[dict[str, Any], bool]:
        """kube's rolloutRolling: grow the new ReplicaSet within surge, shrink the old within availability."""
        desired = spec_replicas(deployment)
        created = new_rs is None
        if new_rs is None:
            probe = {"spec": {"replicas": 0}}
            replicas = new_replica_set_replicas(desired, max_surge, probe, [*old_rs, probe])
            new_rs = self._create_replica_set(deployment, replicas, revision, max_surge)
        else:
            new_rs = self._bump_revision(new_rs, revision)
            if spec_replicas(new_rs) > desired:
                target = desired
            else:
                target = new_replica_set_replicas(desired, max_surge, new_rs, [new_rs, *old_rs])
            stale = (new_rs["metadata"].get("annotations") or {}).get(_DESIRED) != str(desired)
            if target != spec_replicas(new_rs) or stale:
                new_rs = self._scale_replica_set(deployment, new_rs, target, max_surge)
        targets = old_replica_sets_scale_down(desired, max_unavailable, new_rs, old_rs)
        for rs in old_rs:
            if targets[rs["metadata"]["name"]] != spec_replicas(rs):
                self._scale_replica_set(deployment, rs, targets[rs["metadata"]["name"]], max_surge)
        return new_rs, created

    def _bump_revision(self, new_rs: dict[str, Any], revision: int) -> dict[str, Any]:
        """A rollback to an older template makes its ReplicaSet the newest revision again."""
        if int((new_rs["metadata"].get("annotations") or {}).get(_REVISION, "0")) < revision - 1:
            new_rs = clone(new_rs)
            new_rs["metadata"].setdefault("annotations", {})[_REVISION] = str(revision)
            return self.store.update("apps/v1", "ReplicaSet", new_rs)
        return new_rs

    def _create_replica_set(
        self, deployment: dict[str, Any], replicas: int, revision: int, max_surge: int
    ) -> dict[str, Any]:
        template = deployment["spec"].get("template") or {}
        hash_ = template_hash(template, int((deployment.get("status") or {}).get("collisionCount") or 0))
        rs_template = clone(template)
        rs_template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH] = hash_
        selector = clone(deployment["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = hash_
        desired = spec_replicas(deployment)
        body = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{deployment['metadata']['name']}-{hash_}",
                "namespace": deployment["metadata"]["namespace"],
                "labels": dict(rs_template["metadata"]["labels"]),
                "annotations": {
                    _DESIRED: str(desired),
                    _MAX_REPLICAS: str(desired + max_surge),
                    _REVISION: str(revision),
                },
                "ownerReferences": [owner_reference(deployment)],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": deployment["spec"].get("minReadySeconds", 0),
                "selector": selector,
                "template": rs_template,
            },
        }
        created = self.store.create(
            "apps/v1", "ReplicaSet", body, namespace=deployment["metadata"]["namespace"]
        )
        if replicas:
            self._scaling_event(deployment, created["metadata"]["name"], 0, replicas)
        return created

    def _scale_replica_set(
        self, deployment: dict[str, Any], rs: dict[str, Any], replicas: int, max_surge: int
    ) -> dict[str, Any]:
        before = spec_replicas(rs)
        desired = spec_replicas(deployment)
        rs = clone(rs)
        rs["spec"]["replicas"] = replicas
        annotations = rs["metadata"].setdefault("annotations", {})
        annotations[_DESIRED] = str(desired)
        annotations[_MAX_REPLICAS] = str(desired + max_surge)
        updated = self.store.update("apps/v1", "ReplicaSet", rs)
        if before != replicas:
            self._scaling_event(deployment, rs["metadata"]["name"], before, replicas)
        return updated

    def _scaling_event(self, deployment: dict[str, Any], rs_name: str, before: int, after: int) -> None:
        direction = "up" if after > before else "down"
        message = f"Scaled {direction} replica set {rs_name} from {before} to {after}"
        self.recorder.event(
            deployment, "Normal", "ScalingReplicaSet", message, component="deployment-controller"
        )

    def _clean_up_history(self, deployment: dict[str, Any], old_rs: list[dict[str, Any]]) -> None:
        limit = deployment["spec"].get("revisionHistoryLimit", 10)
        idle = [rs for rs in old_rs if not spec_replicas(rs) and not status_count(rs, "replicas")]
        idle.sort(key=lambda rs: int(rs["metadata"].get("annotations", {}).get(_REVISION, "0")))
        for rs in idle[: max(0, len(idle) - int(limit))]:
            with contextlib.suppress(NotFound):
                self.store.delete(
                    "apps/v1", "ReplicaSet", rs["metadata"]["name"], rs["metadata"]["namespace"]
                )

    def _write_status(
        self,
        deployment: dict[str, Any],
        new_rs: dict[str, Any] | None,
        all_rs: list[dict[str, Any]],
        desired: int,
        max_unavailable: int,
        created: bool,
    ) -> None:
        # Status counts come from the ReplicaSets as stored now (their status is the ReplicaSet controller's).
        fresh: list[dict[str, Any]] = []
        for rs in all_rs:
            with contextlib.suppress(NotFound):
                fresh.append(
                    self.store.get(
                        "apps/v1",
                        "ReplicaSet",
                        rs["metadata"]["name"],
                        rs["metadata"]["namespace"],
                        copy=False,
                    )
                )
        new_name = new_rs["metadata"]["name"] if new_rs is not None else ""
        new_fresh = next((rs for rs in fresh if rs["metadata"]["name"] == new_name), None)
        counts = {
            "replicas": sum(status_count(rs, "replicas") for rs in fresh),
            "updatedReplicas": status_count(new_fresh, "replicas") if new_fresh else 0,
            "readyReplicas": sum(status_count(rs, "readyReplicas") for rs in fresh),
            "availableReplicas": sum(status_count(rs, "availableReplicas") for rs in fresh),
        }
        previous = deployment.get("status") or {}
        old_total = sum(status_count(rs, "replicas") for rs in fresh if rs is not new_fresh)
        progressed = (
            counts["updatedReplicas"] > int(previous.get("updatedReplicas") or 0)
            or counts["readyReplicas"] > int(previous.get("readyReplicas") or 0)
            or counts["availableReplicas"] > int(previous.get("availableReplicas") or 0)
            or old_total < int(previous.get("replicas") or 0) - int(previous.get("updatedReplicas") or 0)
        )
        deadline = deployment["spec"].get("progressDeadlineSeconds", 600)
        now = self._clock()
        status: dict[str, Any] = {"observedGeneration": deployment["metadata"].get("generation", 1), **counts}
        unavailable = max(0, desired - counts["availableReplicas"])
        if unavailable:
            status["unavailableReplicas"] = unavailable
        status["conditions"] = deployment_conditions(
            list(previous.get("conditions") or []),
            desired=desired,
            max_unavailable=max_unavailable,
            status=counts,
            new_rs_name=new_name,
            created_new_rs=created,
            progressed=progressed,
            deadline_s=None if deployment["spec"].get("paused") else deadline,
            now=now,
        )
        if previous.get("collisionCount") is not None:
            status["collisionCount"] = previous["collisionCount"]
        if status != previous:
            # a status write takes only metadata and status from its body
            body = {**deployment, "status": status}
            self.store.update("apps/v1", "Deployment", body, subresource="status", copy=False)
        complete = all(counts[k] == desired for k in counts if k != "readyReplicas")
        if not complete and deadline is not None:
            key = ("Deployment", deployment["metadata"]["namespace"], deployment["metadata"]["name"])
            self._after(float(deadline) + 0.01, key)
