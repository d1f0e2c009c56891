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

celpy interprets a parse tree, a few milliseconds a rule, and a status write to a Workspace runs its root
rules again (the root's value changed). So a rule that only reads ``self`` through field paths
(``has(self.tuning)``, ``self.resource.count == 1``, ``size(self.instanceType)``) is evaluated on the part of
``self`` those paths reach (:func:`rule_view`), and its outcome is remembered by that part: CEL has no side
effects and no clock, so the same part gives the same outcome. A rule that reads ``self`` whole (``self ==
oldSelf``, ``size(self)``), or a field whose name CEL escapes (``__dash__``), is evaluated on all of it,
every time.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import celpy
import orjson
from celpy.adapter import json_to_cel

from kaito.sim.server.errors import FieldError

__all__ = ["evaluate_rules", "is_transition_rule", "rule_paths", "rule_view", "type_name"]

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


# a path from self: `self.a.b` (a trailing `(` makes the last name a method: `self.a.matches(...)`)
_SELF_PATH = re.compile(r"\bself((?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)(\s*\()?")
_HAS_PATH = re.compile(r"\bhas\(\s*self((?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)+)\s*\)")
_OUTCOMES: dict[tuple[str, bytes], bool | str | None] = {}
_OUTCOMES_MAX = 8192
_PRESENT = True  # what a path only tested with has() holds in a rule's view: any value would do
_ABSENT = object()


def is_transition_rule(rule: str) -> bool:
    return "oldSelf" in rule


def _names(chain: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in chain.split(".") if part.strip())


def rule_paths(expr: str) -> tuple[frozenset[tuple[str, ...]], frozenset[tuple[str, ...]]] | None:
    """(paths whose values the rule reads, paths it only tests with ``has()``), or None when it may read
    ``self`` otherwise (whole, or by an escaped field name)."""
    tested = {_names(m.group(1)) for m in _HAS_PATH.finditer(expr)}
    read: set[tuple[str, ...]] = set()
    for match in _SELF_PATH.finditer(expr):
        names = _names(match.group(1))
        if match.group(2) is not None:
            names = names[:-1]  # self.a.b(...): b is a method of self.a
        if not names:
            return None
        if any("__" in name for name in names):
            return None
        end = match.end()
        inside_has = match.start() >= 4 and expr[: match.start()].rstrip().endswith("has(")
        if inside_has and expr[end:].lstrip().startswith(")") and names in tested:
            continue
        read.add(names)
    return frozenset(read), frozenset(tested - read)


def rule_view(value: Any, read: frozenset[tuple[str, ...]], tested: frozenset[tuple[str, ...]]) -> Any:
    """The part of ``value`` a rule reaching it only through ``read`` and ``tested`` paths can see: along
    each path the objects it passes through, holding only the keys on the paths; at the end of a read path
    (or where a path meets something not an object) the value whole; at the end of a tested path a
    placeholder."""
    if not isinstance(value, dict):
        return value
    view: dict[str, Any] = {}
    for path in read:
        _copy_path(value, view, path, whole=True)
    for path in tested:
        _copy_path(value, view, path, whole=False)
    return view


def _copy_path(value: dict[str, Any], view: dict[str, Any], path: tuple[str, ...], *, whole: bool) -> None:
    source: dict[str, Any] = value
    target = view
    for i, name in enumerate(path):
        if name not in source:
            return
        child = source[name]
        have = target.get(name, _ABSENT)
        if have is child:
            return  # already there whole
        last = i == len(path) - 1
        if not last and isinstance(child, dict):
            if not isinstance(have, dict):
                have = target[name] = {}
            source, target = child, have
            continue
        if whole or not last:
            target[name] = child  # read, or a has() through something not an object: CEL sees it whole
        elif have is _ABSENT:
            target[name] = _PRESENT
        return


def _view_key(view: Any) -> bytes | None:
    try:
        return orjson.dumps(view, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        try:
            return json.dumps(view, sort_keys=True).encode()
        except (TypeError, ValueError):
            return None


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


def _run_whole(expr: str, activation: dict[str, Any]) -> bool | str | None:
    """True (passed), False (failed), the message of an evaluation error, or None (skipped)."""
    try:
        return bool(_run(expr, activation))
    except _Skip:
        return None
    except _Failed as e:
        return str(e)


def _outcome(expr: str, value: Any, whole: Any) -> bool | str | None:
    """:func:`_run_whole` of a rule that does not read ``oldSelf``, remembered by the part of ``value`` it
    reads when it reads only some."""
    paths = _paths(expr)
    if paths is None:
        return _run_whole(expr, whole())
    view = rule_view(value, *paths)
    key = _view_key(view)
    if key is None:
        return _run_whole(expr, whole())
    memo = (expr, key)
    if memo in _OUTCOMES:
        return _OUTCOMES[memo]
    outcome = _run_whole(expr, {"self": json_to_cel(view)})
    if len(_OUTCOMES) >= _OUTCOMES_MAX:
        _OUTCOMES.clear()
    _OUTCOMES[memo] = outcome
    return outcome


_PATHS: dict[str, tuple[frozenset[tuple[str, ...]], frozenset[tuple[str, ...]]] | None] = {}


def _paths(expr: str) -> tuple[frozenset[tuple[str, ...]], frozenset[tuple[str, ...]]] | None:
    if expr not in _PATHS:
        _PATHS[expr] = rule_paths(expr)
    return _PATHS[expr]


def evaluate_rules(
    rules: list[dict[str, Any]], value: Any, old_value: Any, path: str, *, has_old: bool
) -> list[FieldError]:
    """Evaluate a schema node's rules against ``value`` (and ``old_value`` when ``has_old``)."""
    errors: list[FieldError] = []
    if has_old and value == old_value:
        # validation ratcheting (kube 1.30+, on by default): errors of a value an update left unchanged are
        # not reported, so its rules need no evaluation; a status write then runs only the rules on the
        # nodes that hold what it changed
        return errors
    activation: dict[str, Any] | None = None

    def whole() -> dict[str, Any]:
        nonlocal activation
        if activation is None:
            activation = {"self": json_to_cel(value)}
            if has_old:
                activation["oldSelf"] = json_to_cel(old_value)
        return activation

    for rule in rules:
        expr = str(rule.get("rule", ""))
        if not expr:
            continue
        transition = is_transition_rule(expr)
        if transition and not has_old:
            continue
        field_path = path + str(rule.get("fieldPath") or "")
        reason = _REASONS.get(str(rule.get("reason") or ""), "FieldValueInvalid")
        outcome = _run_whole(expr, whole()) if transition else _outcome(expr, value, whole)
        if outcome is None or outcome is True:
            continue
        if isinstance(outcome, str):
            errors.append(FieldError(reason, field_path, outcome, type_name(value)))
            continue
        message = rule.get("message")
        if not message and rule.get("messageExpression"):
            try:
                message = str(_run(str(rule["messageExpression"]), whole()))
            except (_Skip, _Failed):
                message = None
        errors.append(
            FieldError(reason, field_path, str(message or f"failed rule: {expr}"), type_name(value))
        )
    return errors
