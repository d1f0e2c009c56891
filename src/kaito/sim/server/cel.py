"""``x-kubernetes-validations`` rules evaluated with cel-python (``celpy``), the way kube-apiserver does.

A rule is ``{"rule": expr, "message"?, "messageExpression"?, "fieldPath"?, "reason"?}`` on a schema node;
``self`` is the node's value and ``oldSelf`` its previous value on update. Like kube:

- a *transition rule* (one that mentions ``oldSelf``) is evaluated only when there is an old value
  (``optionalOldSelf`` is not supported, so rules using it are treated the same way);
- a rule that evaluates to false fails with its ``message``, else its ``messageExpression`` (evaluated), else
  ``failed rule: <rule>``; the error is ``Invalid value: "<type>": <message>`` at the node's path (extended by
  ``fieldPath``), with ``reason`` mapped to the cause reason;
- reading a field that is absent is an evaluation error and fails the rule, as in kube.

Where celpy is weaker than kube's CEL (kube-only library functions such as ``quantity()`` or ``isURL()``, a
rule that does not compile), the rule is skipped with one warning log per rule instead of rejecting objects
the real server would accept. Compiled programs are cached by expression.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import celpy
from celpy.adapter import json_to_cel

from kaito.sim.server.errors import FieldError

__all__ = ["evaluate_rules", "is_transition_rule", "type_name"]

log = logging.getLogger(__name__)

_ENV = celpy.Environment()
_PROGRAMS: dict[str, Any] = {}
_BROKEN: set[str] = set()
_REASONS = {
    "FieldValueInvalid": "FieldValueInvalid",
    "FieldValueForbidden": "FieldValueForbidden",
    "FieldValueRequired": "FieldValueRequired",
    "FieldValueDuplicate": "FieldValueDuplicate",
}


def is_transition_rule(rule: str) -> bool:
    return "oldSelf" in rule


def type_name(value: Any) -> str:
    """The CEL-ish type name kube prints as the Invalid value of a failed rule."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    return "string"


def _program(expr: str) -> Any | None:
    if expr in _BROKEN:
        return None
    program = _PROGRAMS.get(expr)
    if program is None:
        try:
            program = _ENV.program(_ENV.compile(expr))
        except Exception as e:  # celpy raises its own parse errors and, for some inputs, plain ones
            _BROKEN.add(expr)
            log.warning("skipping x-kubernetes-validations rule %r: celpy cannot compile it (%s)", expr, e)
            return None
        _PROGRAMS[expr] = program
    return program


class _Skip(Exception):
    pass


class _Failed(Exception):
    pass


def _run(expr: str, activation: dict[str, Any]) -> Any:
    program = _program(expr)
    if program is None:
        raise _Skip
    try:
        result = program.evaluate(activation)
    except Exception as e:
        result = e
    if isinstance(result, Exception):
        args = getattr(result, "args", ())
        text = str(args[0]) if args else str(result)
        missing = re.search(r"no such (?:member in mapping|key): '?([^']*)'?", text)
        if missing is not None:
            raise _Failed(f"no such key: {missing.group(1)} evaluating rule: {expr}") from None
        if expr not in _BROKEN:
            _BROKEN.add(expr)
            log.warning(
                "skipping x-kubernetes-validations rule %r: celpy cannot evaluate it (%s)", expr, text
            )
        raise _Skip
    return result


def evaluate_rules(
    rules: list[dict[str, Any]], value: Any, old_value: Any, path: str, *, has_old: bool
) -> list[FieldError]:
    """Evaluate a schema node's rules against ``value`` (and ``old_value`` when ``has_old``)."""
    errors: list[FieldError] = []
    activation: dict[str, Any] | None = None
    for rule in rules:
        expr = str(rule.get("rule", ""))
        if not expr:
            continue
        if is_transition_rule(expr) and not has_old:
            continue
        if activation is None:
            activation = {"self": json_to_cel(value)}
            if has_old:
                activation["oldSelf"] = json_to_cel(old_value)
        field_path = path + str(rule.get("fieldPath") or "")
        reason = _REASONS.get(str(rule.get("reason") or ""), "FieldValueInvalid")
        try:
            ok = _run(expr, activation)
        except _Skip:
            continue
        except _Failed as e:
            errors.append(FieldError(reason, field_path, str(e), type_name(value)))
            continue
        if bool(ok):
            continue
        message = rule.get("message")
        if not message and rule.get("messageExpression"):
            try:
                message = str(_run(str(rule["messageExpression"]), activation))
            except (_Skip, _Failed):
                message = None
        errors.append(
            FieldError(reason, field_path, str(message or f"failed rule: {expr}"), type_name(value))
        )
    return errors
