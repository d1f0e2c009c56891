"""Status conditions as kube's workload controllers write them (SetDeploymentCondition, SetJobCondition).

A condition list holds at most one condition per ``type``; :func:`set_condition` replaces it in place or
appends it. ``lastTransitionTime`` records when the *status* last changed, so it is carried over while the
status stays the same, whatever happens to the reason and message.
"""

from __future__ import annotations

from typing import Any

__all__ = ["set_condition"]


def set_condition(
    conditions: list[dict[str, Any]],
    kind: str,
    status: str,
    reason: str,
    message: str,
    now: str,
    *,
    update_time: bool = False,
    touch: bool = False,
) -> None:
    """kube's SetDeploymentCondition/SetJobCondition, in place.

    An unchanged (status, reason, message) leaves the condition alone unless ``touch`` (progress was made);
    ``lastTransitionTime`` moves only when the status changes; ``update_time`` adds ``lastUpdateTime``
    (Deployment conditions carry it).
    """
    index = next((i for i, c in enumerate(conditions) if c.get("type") == kind), None)
    existing = conditions[index] if index is not None else None
    same_status = existing is not None and existing.get("status") == status
    unchanged = (
        existing is not None and existing.get("reason") == reason and existing.get("message") == message
    )
    if same_status and unchanged and not touch:
        return
    condition = {"type": kind, "status": status, "reason": reason, "message": message}
    if update_time:
        condition["lastUpdateTime"] = now
    condition["lastTransitionTime"] = (
        existing.get("lastTransitionTime", now) if same_status and existing else now
    )
    if index is None:
        conditions.append(condition)
    else:
        conditions[index] = condition
