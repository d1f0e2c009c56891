"""Replica counts as a workload object states them: ``spec.replicas`` and the counters of its status.

Both read the wire form as the API server stores it, where absent means kube's default: ``spec.replicas``
defaults to 1 (the defaulter sets it on create, but objects built in memory may lack it), and a status
counter that is absent or null counts 0 (kube omits zero counters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["spec_replicas", "status_count"]


def spec_replicas(obj: Mapping[str, Any]) -> int:
    """``spec.replicas``, 1 when unset."""
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_count(obj: Mapping[str, Any], name: str) -> int:
    """The integer ``status.<name>``, 0 when unset."""
    return int((obj.get("status") or {}).get(name) or 0)
