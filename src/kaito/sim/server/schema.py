"""Structural-schema admission of custom objects: prune, default, validate, then CEL — kube's order.

:func:`admit_custom_object` is what the store calls for every create and update of a custom resource. It
mutates the object in place (pruning and defaulting are part of admission in kube too) and returns the field
errors, which the store raises as one 422 Invalid.

- Pruning drops fields the schema does not declare, except under ``x-kubernetes-preserve-unknown-fields`` or
  ``x-kubernetes-int-or-string``; ``apiVersion``, ``kind`` and ``metadata`` at the root (and in
  ``x-kubernetes-embedded-resource`` objects) are always kept. ``null`` for a non-nullable field is pruned
  before defaulting, so a default can replace it. :func:`unknown_fields` names what pruning would drop, in
  kube's path form (``spec.ports[0].unknownNested``, sorted), for strict field validation
  (:mod:`kaito.sim.server.fieldvalidation`); a dropped null is not an unknown field.
- Defaulting fills absent properties from ``default`` (recursively, so a defaulted object gets its own
  property defaults).
- Validation covers type (``integer`` is not ``number``; booleans are neither), ``nullable``,
  ``x-kubernetes-int-or-string``, ``required``, ``enum``, ``pattern``, ``format`` (a few),
  ``minimum``/``maximum`` (and exclusive), ``multipleOf``, ``minLength``/``maxLength``,
  ``minItems``/``maxItems``, ``uniqueItems``, ``minProperties``/``maxProperties``, ``additionalProperties``
  maps, ``x-kubernetes-list-type`` set/map uniqueness, ``allOf``/``anyOf``/``oneOf``/``not``; messages are
  kube-openapi's (``spec.count in body should be greater than or equal to 1``).
- ``x-kubernetes-validations`` run through :mod:`kaito.sim.server.cel` with ``oldSelf`` correlated by object
  key and by list-map key, as kube correlates.
"""

from __future__ import annotations

import re
from typing import Any

from kaito.sim.server.cel import evaluate_rules
from kaito.sim.server.errors import FieldError
from kaito.sim.server.objects import clone
from kaito.sim.server.resources import ResourceType

__all__ = ["admit_custom_object", "apply_defaults", "prune", "unknown_fields", "validate"]

_ROOT_KEEP = ("apiVersion", "kind", "metadata")
_MISSING = object()
_FORMATS: dict[str, re.Pattern[str]] = {
    "date-time": re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "uuid": re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --------------------------------------------------------------------------------------------- pruning
def prune(
    value: Any, schema: dict[str, Any], *, root: bool = False, path: str = "", pruned: list[str] | None = None
) -> Any:
    """Drop undeclared fields from ``value`` in place (returns it for convenience).

    ``pruned``, when given, collects the path of every undeclared field dropped (``path`` is where ``value``
    sits); nulls dropped for non-nullable fields are not undeclared and are not collected.
    """
    if isinstance(value, dict):
        if schema.get("x-kubernetes-int-or-string"):
            return value
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        keep_meta = root or bool(schema.get("x-kubernetes-embedded-resource"))
        for key in list(value):
            if keep_meta and key in _ROOT_KEEP:
                continue
            child = value[key]
            if properties is not None and key in properties:
                sub = properties[key]
                if child is None and not sub.get("nullable"):
                    del value[key]
                    continue
                prune(child, sub, path=_join(path, key), pruned=pruned)
            elif isinstance(additional, dict):
                prune(child, additional, path=_join(path, key), pruned=pruned)
            elif not preserve and additional is not True:
                del value[key]
                if pruned is not None:
                    pruned.append(_join(path, key))
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, element in enumerate(value):
                prune(element, items, path=f"{path}[{i}]", pruned=pruned)
    return value


def unknown_fields(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """The paths of the fields in ``obj`` (a whole object) that ``schema`` does not declare, sorted as kube
    reports them (``spec.ports[0].unknownNested``, ``spec.unknown1``); ``obj`` is left as it is."""
    pruned: list[str] = []
    prune(clone(obj), schema, root=True, pruned=pruned)
    return sorted(pruned)


# --------------------------------------------------------------------------------------------- defaults
def apply_defaults(value: Any, schema: dict[str, Any]) -> Any:
    """Fill absent properties from their ``default`` in place, recursively."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, sub in properties.items():
            if key not in value and "default" in sub:
                value[key] = clone(sub["default"])
            if key in value:
                apply_defaults(value[key], sub)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key in value:
                if key not in properties:
                    apply_defaults(value[key], additional)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for element in value:
                apply_defaults(element, items)
    return value


# --------------------------------------------------------------------------------------------- validation
def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(value: Any, expected: str) -> bool:
    actual = _type_of(value)
    return actual == expected or (expected == "number" and actual == "integer")


def _render(value: Any) -> str:
    return f"{value!r}" if not isinstance(value, str) else value


def _number_errors(value: float, schema: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None:
        if schema.get("exclusiveMinimum") and value <= low:
            errors.append(
                FieldError("FieldValueInvalid", path, f"{path} in body should be greater than {low}", value)
            )
        elif value < low:
            errors.append(
                FieldError(
                    "FieldValueInvalid",
                    path,
                    f"{path} in body should be greater than or equal to {low}",
                    value,
                )
            )
    if high is not None:
        if schema.get("exclusiveMaximum") and value >= high:
            errors.append(
                FieldError("FieldValueInvalid", path, f"{path} in body should be less than {high}", value)
            )
        elif value > high:
            errors.append(
                FieldError(
                    "FieldValueInvalid", path, f"{path} in body should be less than or equal to {high}", value
                )
            )
    step = schema.get("multipleOf")
    if step and (value / step) != int(value / step):
        errors.append(
            FieldError("FieldValueInvalid", path, f"{path} in body should be a multiple of {step}", value)
        )
    return errors


def _string_errors(value: str, schema: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    min_length, max_length = schema.get("minLength"), schema.get("maxLength")
    if min_length is not None and len(value) < min_length:
        errors.append(
            FieldError(
                "FieldValueInvalid", path, f"{path} in body should be at least {min_length} chars long", value
            )
        )
    if max_length is not None and len(value) > max_length:
        errors.append(
            FieldError("FieldValueTooLong", path, f"may not be more than {max_length} bytes", value)
        )
    pattern = schema.get("pattern")
    if pattern is not None and re.search(pattern, value) is None:
        errors.append(
            FieldError("FieldValueInvalid", path, f"{path} in body should match '{pattern}'", value)
        )
    fmt = schema.get("format")
    if fmt in _FORMATS and not _FORMATS[fmt].match(value):
        errors.append(
            FieldError("FieldValueInvalid", path, f"{path} in body must be of type {fmt}: {value!r}", value)
        )
    return errors


def _count_errors(count: int, schema: dict[str, Any], what: str, path: str) -> list[FieldError]:
    """``min<what>``/``max<what>`` for ``what`` "Items" or "Properties", worded as kube words them (its
    too-many message says "items" for both)."""
    errors: list[FieldError] = []
    minimum, maximum = schema.get(f"min{what}"), schema.get(f"max{what}")
    if minimum is not None and count < minimum:
        message = f"{path} in body should have at least {minimum} {what.lower()}"
        errors.append(FieldError("FieldValueInvalid", path, message, count))
    if maximum is not None and count > maximum:
        errors.append(FieldError("FieldValueTooMany", path, f"must have at most {maximum} items", count))
    return errors


def _list_errors(value: list[Any], schema: dict[str, Any], path: str) -> list[FieldError]:
    errors = _count_errors(len(value), schema, "Items", path)
    list_type = schema.get("x-kubernetes-list-type")
    if schema.get("uniqueItems") or list_type == "set":
        seen: list[Any] = []
        for i, element in enumerate(value):
            if element in seen:
                errors.append(FieldError("FieldValueDuplicate", f"{path}[{i}]", value=element))
            else:
                seen.append(element)
    elif list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen_keys: list[tuple[Any, ...]] = []
        for i, element in enumerate(value):
            if not isinstance(element, dict):
                continue
            ident = tuple(element.get(k) for k in keys)
            if ident in seen_keys:
                shown = {k: element.get(k) for k in keys}
                errors.append(FieldError("FieldValueDuplicate", f"{path}[{i}]", value=shown))
            else:
                seen_keys.append(ident)
    return errors


def _old_element(old: Any, element: Any, schema: dict[str, Any]) -> Any:
    """The old list element correlated with ``element`` (only list-type map lists correlate, as in kube)."""
    if (
        not isinstance(old, list)
        or schema.get("x-kubernetes-list-type") != "map"
        or not isinstance(element, dict)
    ):
        return _MISSING
    keys = schema.get("x-kubernetes-list-map-keys") or []
    for candidate in old:
        if isinstance(candidate, dict) and all(candidate.get(k) == element.get(k) for k in keys):
            return candidate
    return _MISSING


def validate(value: Any, schema: dict[str, Any], path: str = "", old: Any = _MISSING) -> list[FieldError]:
    """Every schema violation in ``value`` (``old``: the previous value here, for transition rules)."""
    errors: list[FieldError] = []
    if value is None:
        if schema.get("nullable") or (
            not schema.get("type") and not schema.get("x-kubernetes-int-or-string")
        ):
            return errors
        expected = schema.get("type", "string")
        return [
            FieldError(
                "FieldValueTypeInvalid", path, f'{path} in body must be of type {expected}: "null"', "null"
            )
        ]
    if schema.get("x-kubernetes-int-or-string"):
        if _type_of(value) not in ("integer", "string"):
            actual = _type_of(value)
            errors.append(
                FieldError(
                    "FieldValueTypeInvalid",
                    path,
                    f'{path} in body must be of type integer,string: "{actual}"',
                    actual,
                )
            )
            return errors
    elif "type" in schema and not _type_ok(value, schema["type"]):
        actual = _type_of(value)
        return [
            FieldError(
                "FieldValueTypeInvalid",
                path,
                f'{path} in body must be of type {schema["type"]}: "{actual}"',
                actual,
            )
        ]
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(f'"{v}"' if isinstance(v, str) else _render(v) for v in schema["enum"])
        errors.append(FieldError("FieldValueNotSupported", path, f"supported values: {supported}", value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        errors.extend(_number_errors(value, schema, path))
    elif isinstance(value, str):
        errors.extend(_string_errors(value, schema, path))
    elif isinstance(value, list):
        errors.extend(_list_errors(value, schema, path))
        items = schema.get("items")
        if isinstance(items, dict):
            for i, element in enumerate(value):
                errors.extend(validate(element, items, f"{path}[{i}]", _old_element(old, element, schema)))
    elif isinstance(value, dict):
        errors.extend(_object_errors(value, schema, path, old))
    for combinator in ("allOf", "anyOf", "oneOf"):
        branches = schema.get(combinator)
        if not branches:
            continue
        results = [validate(value, branch, path) for branch in branches]
        passed = sum(1 for r in results if not r)
        if combinator == "allOf":
            errors.extend(e for r in results for e in r)
        elif combinator == "anyOf" and passed == 0:
            errors.append(
                FieldError(
                    "FieldValueInvalid",
                    path,
                    f"{path} in body must validate at least one schema (anyOf)",
                    value,
                )
            )
        elif combinator == "oneOf" and passed != 1:
            errors.append(
                FieldError(
                    "FieldValueInvalid",
                    path,
                    f"{path} in body must validate one and only one schema (oneOf)",
                    value,
                )
            )
    if isinstance(schema.get("not"), dict) and not validate(value, schema["not"], path):
        errors.append(
            FieldError(
                "FieldValueInvalid", path, f"{path} in body should not validate the schema (not)", value
            )
        )
    rules = schema.get("x-kubernetes-validations")
    if rules and not errors:
        errors.extend(
            evaluate_rules(rules, value, None if old is _MISSING else old, path, has_old=old is not _MISSING)
        )
    return errors


def _object_errors(value: dict[str, Any], schema: dict[str, Any], path: str, old: Any) -> list[FieldError]:
    errors: list[FieldError] = []
    for key in schema.get("required") or []:
        if key not in value:
            errors.append(FieldError("FieldValueRequired", _join(path, key)))
    errors.extend(_count_errors(len(value), schema, "Properties", path))
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    old_map = old if isinstance(old, dict) else {}
    for key, child in value.items():
        sub = properties.get(key)
        if sub is None and isinstance(additional, dict):
            sub = additional
        if sub is None:
            continue
        child_path = f"{path}[{key}]" if key not in properties else _join(path, key)
        errors.extend(validate(child, sub, child_path, old_map.get(key, _MISSING)))
    return errors


# --------------------------------------------------------------------------------------------- admission
def _cel_view(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as root rules see it: metadata reduced to name and generateName, as in kube."""
    view = dict(obj)
    md = obj.get("metadata") or {}
    view["metadata"] = {k: md[k] for k in ("name", "generateName") if k in md}
    return view


def admit_custom_object(
    rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
) -> list[FieldError]:
    """Prune and default ``obj`` in place against ``rt.schema``, then return its validation errors."""
    schema = rt.schema
    if not schema:
        return []
    prune(obj, schema, root=True)
    apply_defaults(obj, schema)
    body = _cel_view(obj)
    old_body: Any = _MISSING if old is None else _cel_view(old)
    root = {k: v for k, v in schema.items() if k != "properties"}
    root["properties"] = {k: v for k, v in (schema.get("properties") or {}).items() if k not in _ROOT_KEEP}
    if "required" in root:
        root["required"] = [k for k in root["required"] if k not in _ROOT_KEEP]
    return validate(body, root, "", old_body)
