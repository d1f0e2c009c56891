"""Pure scheduling decisions: does a pod fit a node, which node is best, and why none fits.

This is the default kube-scheduler's filter and score phases, reduced to the plugins a GPU operator meets, as
pure functions of plain JSON dicts (the wire form); the async shell in :mod:`kaito.sim.workloads.simulator`
only lists, calls and binds.

Filters run per node in kube's default order, and a node reports the reasons of the *first* plugin that
rejects it (kube's framework stops there too):

1. NodeUnschedulable: ``spec.unschedulable`` unless the pod tolerates ``node.kubernetes.io/unschedulable``,
   ``node(s) were unschedulable``.
2. TaintToleration: the first ``NoSchedule``/``NoExecute`` taint no toleration matches,
   ``node(s) had untolerated taint {sku: gpu}``. A node whose ``Ready`` condition is not ``True`` carries the
   ``node.kubernetes.io/not-ready`` (``unreachable`` when ``Unknown``) ``NoSchedule`` taint, as kube's node
   lifecycle controller would add it.
3. NodeAffinity: ``spec.nodeSelector`` and required node affinity,
   ``node(s) didn't match Pod's node affinity/selector``.
4. NodeResourcesFit: ``Too many pods`` and ``Insufficient <resource>`` for each requested resource (cpu,
   memory, ``nvidia.com/gpu``, ...) whose request exceeds allocatable minus what bound, non-terminal pods
   already request.

The failure message is kube's ``FitError``: a histogram of reasons, each entry ``"<count> <reason>"``, sorted
as strings, e.g. ``0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) had untolerated taint
{sku: gpu}.``

Scoring is NodeResourcesLeastAllocated over cpu and memory (with kube's non-zero defaults of 100m and 200Mi
for pods that request nothing); ties go to the lexicographically smallest node name, so a choice is
deterministic.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "NO_NODES_MESSAGE",
    "ScheduleResult",
    "bound_usage",
    "candidate_nodes",
    "effective_taints",
    "filter_node",
    "fit_error_message",
    "node_allocatable",
    "node_is_ready",
    "node_matches_affinity",
    "parse_quantity",
    "pod_requests",
    "schedule",
    "tolerates",
]

NO_NODES_MESSAGE = "no nodes available to schedule pods"

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
}
_DECIMAL |= {"M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15)}
_DECIMAL |= {"E": Decimal(10**18)}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")

# kubelet's default --max-pods, for a node whose allocatable omits "pods" (hand-written test nodes often do).
_DEFAULT_MAX_PODS = Decimal(110)
# kube-scheduler's non-zero defaults for scoring pods that request nothing (scheduler/util/pod_resources.go).
_SCORE_DEFAULTS = {"cpu": Decimal("0.1"), "memory": Decimal(200 * 2**20)}
_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})

_UNSCHEDULABLE = "node(s) were unschedulable"
_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
_TOO_MANY_PODS = "Too many pods"


def parse_quantity(value: str | int | float) -> Decimal:
    """A Kubernetes resource quantity (``100m``, ``1Gi``, ``2``, ``1e3``) as an exact decimal.

    Raises ValueError naming the value when it is not a quantity kube would accept.
    """
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise ValueError(
            f"quantity {value!r} is not a Kubernetes quantity; expected a number with an optional suffix "
            "such as 500m, 2, 16Gi or 1e3"
        )
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = Decimal(number)
    except InvalidOperation as exc:
        raise ValueError(f"quantity {value!r} has a malformed number {number!r}") from exc
    if suffix in _BINARY:
        return base * _BINARY[suffix]
    if suffix in _DECIMAL:
        return base * _DECIMAL[suffix]
    return base * (Decimal(10) ** int(suffix[1:]))


def _container_requests(container: Mapping[str, Any]) -> dict[str, Decimal]:
    """Requests, defaulted from limits where a request is absent (the API server's defaulting)."""
    resources = container.get("resources") or {}
    merged = dict(resources.get("limits") or {})
    merged.update(resources.get("requests") or {})
    return {name: parse_quantity(amount) for name, amount in merged.items()}


def pod_requests(pod: Mapping[str, Any]) -> dict[str, Decimal]:
    """What the pod asks of a node: max(sum of containers, largest init container) per resource + overhead.

    Always includes ``pods: 1`` so that the pod-count limit is checked like any other resource.
    """
    spec = pod.get("spec") or {}
    total: dict[str, Decimal] = {}
    for container in spec.get("containers") or []:
        for name, amount in _container_requests(container).items():
            total[name] = total.get(name, Decimal(0)) + amount
    for container in spec.get("initContainers") or []:
        for name, amount in _container_requests(container).items():
            total[name] = max(total.get(name, Decimal(0)), amount)
    for name, amount in (spec.get("overhead") or {}).items():
        total[name] = total.get(name, Decimal(0)) + parse_quantity(amount)
    total["pods"] = Decimal(1)
    return total


def node_allocatable(node: Mapping[str, Any]) -> dict[str, Decimal]:
    """``status.allocatable`` (falling back to capacity), with ``pods`` defaulted to kubelet's 110."""
    status = node.get("status") or {}
    raw = status.get("allocatable") or status.get("capacity") or {}
    allocatable = {name: parse_quantity(amount) for name, amount in raw.items()}
    allocatable.setdefault("pods", _DEFAULT_MAX_PODS)
    return allocatable


def node_is_ready(node: Mapping[str, Any]) -> bool:
    """Whether the node's ``Ready`` condition is ``True``."""
    return _ready_status(node) == "True"


def _ready_status(node: Mapping[str, Any]) -> str:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("status", "Unknown"))
    return "Unknown"


def effective_taints(node: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The node's taints plus the NoSchedule taint the node lifecycle controller puts on a node not Ready."""
    taints: list[dict[str, Any]] = list((node.get("spec") or {}).get("taints") or [])
    ready = _ready_status(node)
    if ready != "True":
        key = "node.kubernetes.io/unreachable" if ready == "Unknown" else "node.kubernetes.io/not-ready"
        if not any(t.get("key") == key and t.get("effect") == "NoSchedule" for t in taints):
            taints.append({"key": key, "effect": "NoSchedule"})
    return taints


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """core/v1 ``Toleration.ToleratesTaint``: effect and key must match when set; Equal compares values."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def _untolerated_taint(pod: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any] | None:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in effective_taints(node):
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def _requirement_matches(requirement: Mapping[str, Any], values_by_key: Mapping[str, str]) -> bool:
    key = requirement.get("key", "")
    operator = requirement.get("operator", "")
    values = [str(v) for v in requirement.get("values") or []]
    present = key in values_by_key
    actual = values_by_key.get(key, "")
    if operator == "In":
        return present and actual in values
    if operator == "NotIn":
        return not present or actual not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(values) == 1:
        try:
            left, right = int(actual), int(values[0])
        except ValueError:
            return False
        return left > right if operator == "Gt" else left < right
    return False


def _term_matches(term: Mapping[str, Any], labels: Mapping[str, str], fields: Mapping[str, str]) -> bool:
    expressions = term.get("matchExpressions") or []
    field_expressions = term.get("matchFields") or []
    if not expressions and not field_expressions:
        return False  # an empty term matches no objects (kube's NodeSelectorTerm semantics)
    return all(_requirement_matches(r, labels) for r in expressions) and all(
        _requirement_matches(r, fields) for r in field_expressions
    )


def node_matches_affinity(pod: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """``spec.nodeSelector`` (all labels equal) and required node affinity (any term matches)."""
    spec = pod.get("spec") or {}
    metadata = node.get("metadata") or {}
    labels: Mapping[str, str] = metadata.get("labels") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if required is None:
        return True
    fields = {"metadata.name": str(metadata.get("name", ""))}
    return any(_term_matches(term, labels, fields) for term in required.get("nodeSelectorTerms") or [])


def _resource_reasons(
    requests: Mapping[str, Decimal], allocatable: Mapping[str, Decimal], used: Mapping[str, Decimal]
) -> list[str]:
    reasons: list[str] = []
    free = {name: allocatable.get(name, Decimal(0)) - used.get(name, Decimal(0)) for name in requests}
    if requests.get("pods", Decimal(0)) > free.get("pods", Decimal(0)):
        reasons.append(_TOO_MANY_PODS)
    first = ["cpu", "memory", "ephemeral-storage"]
    ordered = [*first, *sorted(set(requests) - {"pods", *first})]
    for name in ordered:
        amount = requests.get(name, Decimal(0))
        if amount > 0 and amount > free.get(name, Decimal(0)):
            reasons.append(f"Insufficient {name}")
    return reasons


def filter_node(
    pod: Mapping[str, Any], node: Mapping[str, Any], used: Mapping[str, Decimal] | None = None
) -> list[str]:
    """Why ``pod`` cannot run on ``node`` (empty when it can); ``used`` is what bound pods already request."""
    return _filter(pod, node, pod_requests(pod), None, used or {})


def _filter(
    pod: Mapping[str, Any],
    node: Mapping[str, Any],
    requests: Mapping[str, Decimal],
    allocatable: Mapping[str, Decimal] | None,
    used: Mapping[str, Decimal],
) -> list[str]:
    """:func:`filter_node` with the pod's requests (and the node's allocatable, when known) computed once."""
    spec = node.get("spec") or {}
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    if spec.get("unschedulable"):
        unschedulable_taint = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
        if not any(tolerates(t, unschedulable_taint) for t in tolerations):
            return [_UNSCHEDULABLE]
    taint = _untolerated_taint(pod, node)
    if taint is not None:
        return [f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value') or ''}}}"]
    if not node_matches_affinity(pod, node):
        return [_AFFINITY]
    return _resource_reasons(requests, node_allocatable(node) if allocatable is None else allocatable, used)


def candidate_nodes(pod: Mapping[str, Any]) -> frozenset[str] | None:
    """The only node names ``pod``'s required node affinity can match, or None when it does not pin names.

    A pod whose every ``nodeSelectorTerm`` carries a ``metadata.name In [...]`` field requirement (how
    KAITO, and the DaemonSet controller, pin pods to nodes) can run on no other node; a scheduler may then
    filter those nodes first and the rest only to explain a failure.
    """
    spec = pod.get("spec") or {}
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    terms = (required or {}).get("nodeSelectorTerms") or []
    if not terms:
        return None
    names: set[str] = set()
    for term in terms:
        pinned = [
            r
            for r in term.get("matchFields") or []
            if r.get("key") == "metadata.name" and r.get("operator") == "In"
        ]
        if not pinned:
            return None
        # every requirement of a term must hold, so the first pin bounds the term's nodes
        names.update(str(v) for v in pinned[0].get("values") or [])
    return frozenset(names)


def bound_usage(pods: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Decimal]]:
    """Per node name, the summed requests of the non-terminal pods bound to it."""
    usage: dict[str, dict[str, Decimal]] = {}
    for pod in pods:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name or (pod.get("status") or {}).get("phase") in _TERMINAL_PHASES:
            continue
        node_usage = usage.setdefault(node_name, {})
        for name, amount in pod_requests(pod).items():
            node_usage[name] = node_usage.get(name, Decimal(0)) + amount
    return usage


def fit_error_message(num_nodes: int, reasons: Counter[str]) -> str:
    """kube's ``FitError.Error()``, e.g. ``0/3 nodes are available: 1 Insufficient cpu, 2 Too many pods.``"""
    if num_nodes == 0:
        return NO_NODES_MESSAGE
    histogram = sorted(f"{count} {reason}" for reason, count in reasons.items())
    return f"0/{num_nodes} nodes are available: {', '.join(histogram)}."


def _score(
    requests: Mapping[str, Decimal], allocatable: Mapping[str, Decimal], used: Mapping[str, Decimal]
) -> Decimal:
    """LeastAllocated: mean fraction of cpu and memory left free after placing the pod (higher is better)."""
    total = Decimal(0)
    for name, default in _SCORE_DEFAULTS.items():
        capacity = allocatable.get(name, Decimal(0))
        if capacity <= 0:
            continue
        wanted = requests.get(name) or default
        total += max(Decimal(0), capacity - used.get(name, Decimal(0)) - wanted) / capacity
    return total / len(_SCORE_DEFAULTS)


@dataclass(frozen=True)
class ScheduleResult:
    """The chosen node, or None with kube's FitError message explaining why no node fits."""

    node_name: str | None
    message: str = ""


def schedule(
    pod: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    usage: Mapping[str, Mapping[str, Decimal]],
    allocatable: Mapping[str, Mapping[str, Decimal]] | None = None,
) -> ScheduleResult:
    """Pick the best node for ``pod`` among ``nodes`` given per-node ``usage`` (see :func:`bound_usage`).

    ``allocatable``, when given, holds each node's :func:`node_allocatable` by name (parsed once by a cache
    rather than once per pod and node).
    """
    reasons: Counter[str] = Counter()
    best: tuple[Decimal, str] | None = None
    requests = pod_requests(pod)
    for node in nodes:
        name = str((node.get("metadata") or {}).get("name", ""))
        used = usage.get(name, {})
        parsed = allocatable.get(name) if allocatable is not None else None
        if parsed is None:
            parsed = node_allocatable(node)
        failures = _filter(pod, node, requests, parsed, used)
        if failures:
            reasons.update(failures)
            continue
        score = _score(requests, parsed, used)
        # Highest score wins; among equal scores the smallest name, so the choice is deterministic.
        if best is None or score > best[0] or (score == best[0] and name < best[1]):
            best = (score, name)
    if best is not None:
        return ScheduleResult(best[1])
    return ScheduleResult(None, fit_error_message(len(nodes), reasons))
