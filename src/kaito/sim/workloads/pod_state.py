"""What a workload controller reads from its pods' state: terminal, active, Ready.

The controllers count pods by these predicates alone, so they agree with each other on what "active" means:
a pod is *active* from its creation until it reaches a terminal phase (Succeeded or Failed) or is marked for
deletion; it is *Ready* when its ``Ready`` condition is True and it is not being deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["TERMINAL_PHASES", "pod_is_active", "pod_is_ready"]

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


def pod_is_ready(pod: Mapping[str, Any]) -> bool:
    """The pod's ``Ready`` condition is True (and it is not being deleted)."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def pod_is_active(pod: Mapping[str, Any]) -> bool:
    """The pod is neither in a terminal phase nor being deleted."""
    return (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES and not (
        pod.get("metadata") or {}
    ).get("deletionTimestamp")
