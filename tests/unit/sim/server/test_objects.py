"""Object helpers: deep copies that share nothing, kube timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from kaito.sim.server.objects import clone, format_time, meta, parse_time


def test_clone_shares_nothing() -> None:
    original = {"a": [{"b": 1}], "c": {"d": None}}
    copy = clone(original)
    copy["a"][0]["b"] = 2
    copy["c"]["d"] = "x"
    assert original == {"a": [{"b": 1}], "c": {"d": None}}


def test_time_format_is_kube_rfc3339() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(moment) == "2026-01-02T01:04:05Z"
    assert parse_time("2026-01-02T01:04:05Z") == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)


def test_time_format_of_moments_asked_for_in_any_order() -> None:
    """The last second formatted is remembered; each moment still gets its own second's text."""
    base = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    offsets = [0.0, 0.999, 1.0, 0.5, -0.001, 3600.25, 1.0, -86400.0]
    for offset in offsets:
        moment = base + timedelta(seconds=offset)
        assert format_time(moment) == moment.strftime("%Y-%m-%dT%H:%M:%SZ"), offset
    east = datetime(2026, 1, 2, 5, 4, 5, 900000, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(east) == "2026-01-02T03:04:05Z"


def test_meta_creates_metadata() -> None:
    obj: dict[str, object] = {}
    meta(obj)["name"] = "x"  # type: ignore[arg-type]
    assert obj == {"metadata": {"name": "x"}}
