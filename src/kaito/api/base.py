"""The base every kaito-py API model shares: camelCase on the wire, snake_case in Python, nothing unknown.

`ApiModel` fixes the conventions once:

- Field names are snake_case in Python and camelCase on the wire (`alias_generator=to_camel`); either spelling
  is accepted on input, and dumps use the wire spelling by default.
- Unknown fields are refused (`extra="forbid"`), so a misspelt key is an error naming that key instead of
  being silently dropped. The API server prunes unknown fields anyway (structural CRD schema), so objects read
  back from a cluster never carry any.
- Types are strict, as the API server's schema is: `"1"` is not an integer and `1` is not a string.
- Optional fields default to `None` and are left out of `to_wire()`; no field has a non-`None` default except
  the fixed `apiVersion`/`kind`. That is what makes the round trip exact: YAML -> model -> `to_wire()` gives
  back the same mapping, with no defaults added.

`Time` is metav1.Time: an aware datetime on the Python side, RFC 3339 in UTC with whole seconds on the wire
(`2024-05-01T12:00:00Z`). Sub-second parts are dropped on input, so a model holds exactly what the wire can
hold.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel

__all__ = ["ApiModel", "FreeForm", "Quantity", "Time", "format_time", "parse_time"]

FreeForm = dict[str, Any]
"""A nested Kubernetes object kept as plain data (a PodTemplateSpec, a VolumeSource)."""

Quantity = int | str
"""A resource quantity as Kubernetes writes it: `4`, `"80Gi"`, `"500m"` (int-or-string on the wire)."""


def parse_time(value: object) -> datetime:
    """Read a metav1.Time: an RFC 3339 string or an aware datetime; sub-second parts are dropped."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not an RFC 3339 time; write it like '2024-05-01T12:00:00Z'"
            ) from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise ValueError(f"{value!r} is not a time; write it like '2024-05-01T12:00:00Z'")
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no time zone; write it in UTC like '2024-05-01T12:00:00Z'")
    return parsed.astimezone(UTC).replace(microsecond=0)


def format_time(value: datetime) -> str:
    """Write a metav1.Time the way the API server does: UTC, whole seconds, a trailing Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Time = Annotated[datetime, BeforeValidator(parse_time), PlainSerializer(format_time, return_type=str)]


class ApiModel(BaseModel):
    """Base of every wire model: camelCase aliases, strict types, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        strict=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as stored by the API server: camelCase keys, unset fields left out, JSON values."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def from_wire(cls, data: object) -> Self:
        """Parse wire data (a mapping from YAML or JSON); raises pydantic's ValidationError on a mismatch.

        Use `kaito.api.errors.parse_object` for errors rendered as field-named sentences.
        """
        return cls.model_validate(data)
