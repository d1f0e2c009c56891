"""ApiModel conventions and metav1.Time on the wire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from kaito.api.base import ApiModel, Quantity, Time, format_time, parse_time


class Sample(ApiModel):
    instance_type: str | None = None
    count: int | None = None
    when: Time | None = None
    size: Quantity | None = None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00.987654Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ],
)
def test_time_is_read_as_utc_whole_seconds(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected
    assert parse_time(text).tzinfo == UTC


@pytest.mark.parametrize("bad", ["yesterday", "2024-05-01T12:00:00", datetime(2024, 5, 1), 17])
def test_time_without_zone_or_not_a_time_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="2024-05-01T12:00:00Z"):
        parse_time(bad)


def test_time_is_written_like_the_api_server() -> None:
    moment = datetime(2024, 5, 1, 14, 0, 0, 500, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(moment) == "2024-05-01T12:00:00Z"
    assert Sample(when=moment).to_wire() == {"when": "2024-05-01T12:00:00Z"}


def test_fields_are_camel_case_on_the_wire_and_either_spelling_is_read() -> None:
    assert Sample.model_validate({"instanceType": "a"}) == Sample.model_validate({"instance_type": "a"})
    assert Sample(instance_type="a").to_wire() == {"instanceType": "a"}
    assert Sample(instance_type="a").model_dump() == {
        "instanceType": "a",
        "count": None,
        "when": None,
        "size": None,
    }


def test_unset_fields_are_left_out_of_the_wire_form() -> None:
    assert Sample().to_wire() == {}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"instanceType": 6}, "instanceType"),
        ({"count": "1"}, "count"),
        ({"count": 1.5}, "count"),
        ({"instancetype": "a"}, "instancetype"),
    ],
)
def test_types_are_strict_and_unknown_fields_refused(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Sample.model_validate(data)
    assert raised.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize("size", [4, "80Gi"])
def test_quantity_is_int_or_string(size: Quantity) -> None:
    assert Sample(size=size).to_wire() == {"size": size}


def test_from_wire_parses_wire_data() -> None:
    assert Sample.from_wire({"count": 2}).count == 2
