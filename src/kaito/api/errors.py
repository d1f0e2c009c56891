"""Errors about an object's content, as a user should read them: one sentence per problem, naming the field.

    FieldError            one problem: the wire path (`inference.adapters[0].strength`) and a message
    InvalidObjectError    ValueError carrying every FieldError of one object; one sentence per error

Both parse errors (a field of the wrong type, a misspelt key, a missing required field: what the CRD schema
refuses) and semantic errors from `kaito.api.validation.validate` come out as FieldErrors, so the controller
can put either kind in a condition message and the CLI can print either kind the same way. `parse_object` is
the one place where pydantic's ValidationError is turned into FieldErrors.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

__all__ = ["FieldError", "InvalidObjectError", "field_errors_from_pydantic", "parse_object", "render_value"]

M = TypeVar("M", bound=BaseModel)

_MAX_VALUE_CHARS = 80
# Location parts pydantic adds for union members and validators; they are not field names.
_UNION_TAGS = frozenset({"str", "int", "float", "bool", "dict", "list", "none", "datetime"})


@dataclass(frozen=True)
class FieldError:
    """One problem with one field. `field` is the wire path; `message` completes the sentence after it."""

    field: str
    message: str

    def __str__(self) -> str:
        sentence = f"{self.field}: {self.message}" if self.field else self.message
        return sentence if sentence.endswith(".") else f"{sentence}."


class InvalidObjectError(ValueError):
    """An object that the API would refuse, with every reason found."""

    def __init__(self, kind: str, name: str | None, errors: Sequence[FieldError]) -> None:
        self.kind = kind
        self.name = name
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__(self.render())

    def sentences(self) -> list[str]:
        """One sentence per problem, e.g. `tuning.method: "sft" is not supported; use 'lora' or 'qlora'.`"""
        return [str(error) for error in self.errors]

    def render(self) -> str:
        """The whole error on one line, suitable for a condition message or an Event."""
        subject = f'{self.kind} "{self.name}"' if self.name else self.kind
        return f"{subject} is invalid: " + " ".join(self.sentences())


def render_value(value: object) -> str:
    """A value as it would appear in YAML or JSON, shortened for a message."""
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def parse_object(model: type[M], data: object) -> M:
    """Parse wire data into `model`; raises InvalidObjectError with field-named sentences on a mismatch."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        kind = model.__name__
        name = None
        if isinstance(data, dict):
            metadata = data.get("metadata")
            if isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
                name = metadata["name"]
        raise InvalidObjectError(kind, name, field_errors_from_pydantic(model, error)) from None


def field_errors_from_pydantic(model: type[BaseModel], error: ValidationError) -> list[FieldError]:
    """pydantic's errors as FieldErrors with wire paths; alternatives of one union are merged into one."""
    by_field: dict[str, list[ErrorDetails]] = {}
    for detail in error.errors():
        path = _wire_path(detail["loc"])
        by_field.setdefault(path, []).append(detail)
    result: list[FieldError] = []
    for path, details in by_field.items():
        if len(details) > 1 and all(detail["type"].endswith("_type") for detail in details):
            expected = " or ".join(_type_name(detail) for detail in details)
            result.append(FieldError(path, f"{render_value(details[0]['input'])} is not {expected}"))
            continue
        for detail in details:
            result.append(FieldError(path, _message(model, detail)))
    return result


def _wire_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in _UNION_TAGS or "[" in part:
            continue
        else:
            path += f".{part}" if path else part
    return path


def _type_name(detail: ErrorDetails) -> str:
    names = {
        "string_type": "a string",
        "int_type": "an integer",
        "bool_type": "a boolean",
        "float_type": "a number",
        "dict_type": "a mapping",
        "list_type": "a list",
        "model_type": "a mapping",
        "datetime_type": "a time",
    }
    return names.get(detail["type"], detail["msg"].removeprefix("Input should be ").rstrip("."))


def _message(model: type[BaseModel], detail: ErrorDetails) -> str:
    kind = detail["type"]
    value = render_value(detail["input"])
    if kind == "missing":
        return "required value is missing"
    if kind == "extra_forbidden":
        known = _known_fields(model, detail["loc"][:-1])
        hint = f"; known fields here are: {', '.join(known)}" if known else ""
        return f"unknown field{hint}"
    if kind == "literal_error":
        expected = str((detail.get("ctx") or {}).get("expected", ""))
        return f"{value} is not supported; use {expected}"
    if kind.endswith("_type"):
        return f"{value} is not {_type_name(detail)}"
    message = detail["msg"]
    if message.startswith("Value error, "):
        return message.removeprefix("Value error, ")
    return f"{value} is not accepted: {message[0].lower()}{message[1:]}"


def _known_fields(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The wire names of the fields of the model found at `loc` below `model` (empty if it is not a model)."""
    current: Any = model
    for part in loc:
        current = _strip_optional(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[-1] if args else None
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = next(
            (f for name, f in current.model_fields.items() if part in (name, f.alias)),
            None,
        )
        if field is None:
            return []
        current = field.annotation
    current = _strip_optional(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(field.alias or name for name, field in current.model_fields.items())
    return []


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation
