"""Small helpers over objects in their wire form (plain JSON dicts): copying, metadata access, timestamps.

Invariant shared with the store: an object held by the store is never mutated after it is stored; every write
builds a new dict. So readers inside the store may share references, and only what leaves the store is copied,
with :func:`clone` — a recursive dict/list copy about twice as fast as ``copy.deepcopy`` or a JSON round trip
on a typical Pod (measured: 9 us against 21 us and 17 us).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, TypeVar

__all__ = ["clone", "format_time", "meta", "parse_time", "utcnow"]

T = TypeVar("T")


def clone(value: T) -> T:
    """A deep copy of a JSON value (dicts, lists and scalars only)."""
    kind = type(value)
    if kind is dict:
        return _clone_dict(value)  # type: ignore[arg-type, return-value]
    if kind is list:
        return _clone_list(value)  # type: ignore[arg-type, return-value]
    return value


def _clone_dict(value: dict[str, Any]) -> dict[str, Any]:
    # scalars are tested inline: most values of an object are strings, and a call per leaf is most of the cost
    return {
        k: _clone_dict(v) if type(v) is dict else _clone_list(v) if type(v) is list else v
        for k, v in value.items()
    }


def _clone_list(value: list[Any]) -> list[Any]:
    return [_clone_dict(v) if type(v) is dict else _clone_list(v) if type(v) is list else v for v in value]


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj["metadata"]``, created empty when missing."""
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = {}
        obj["metadata"] = m
    return m


def utcnow() -> datetime:
    """The default clock of the simulator: timezone-aware UTC now."""
    return datetime.now(UTC)


_last_formatted: tuple[int, str] = (-1, "")


def format_time(moment: datetime) -> str:
    """RFC 3339 with second precision and a ``Z`` suffix, as kube serialises ``metav1.Time``.

    The text of the latest second asked for is remembered: writes ask for "now" many times a second.
    """
    global _last_formatted
    second = math.floor(moment.timestamp())
    if _last_formatted[0] == second:
        return _last_formatted[1]
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _last_formatted = (second, text)
    return text


def parse_time(text: str) -> datetime:
    """The inverse of :func:`format_time` (also accepts fractional seconds and offsets)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
