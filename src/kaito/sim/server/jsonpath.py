"""kube's JSONPath dialect: what CRD ``additionalPrinterColumns``, a scale subresource's paths and
``kubectl -o jsonpath`` evaluate.

Supported: ``.a.b``, ``['a.b']``, ``[0]``, ``[*]``, ``..x`` (recursive descent), and filters such as
``[?(@.type=="Ready")]`` with ``== != < <= > >=`` or a bare existence test; a path may be wrapped in ``{}``.
Pure functions of plain JSON values: :func:`parse_jsonpath` turns a path into steps (raising
:class:`JsonPathError`, a sentence naming the path, for one it cannot read), :func:`evaluate_jsonpath` walks
an object with them, :func:`jsonpath_text` renders one result as kube's printer does.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["JsonPathError", "evaluate_jsonpath", "jsonpath_text", "parse_jsonpath"]


class JsonPathError(ValueError):
    """A printer column's jsonPath that kube's JSONPath dialect cannot parse."""


_Step = tuple[
    str, Any
]  # ("field", name) | ("index", int) | ("wild", None) | ("recurse", name) | ("filter", ...)
_FILTER = re.compile(r"^\?\(\s*@((?:\.[\w.-]+|\['[^']*'\])*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*\)$")


def parse_jsonpath(path: str) -> list[_Step]:
    """Parse ``.status.conditions[?(@.type=="Ready")].status`` (optionally wrapped in ``{}``) into steps."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    steps: list[_Step] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if text.startswith("..", i):
            m = re.match(r"[\w-]+", text[i + 2 :])
            if not m:
                raise JsonPathError(f'jsonPath "{path}" has ".." without a field name after it at offset {i}')
            steps.append(("recurse", m.group(0)))
            i += 2 + m.end()
        elif ch == ".":
            m = re.match(r"[\w-]+|\*", text[i + 1 :])
            if not m:
                if i + 1 == len(text) and not steps:  # "." alone is the whole object
                    i += 1
                    continue
                raise JsonPathError(f'jsonPath "{path}" has "." without a field name after it at offset {i}')
            token = m.group(0)
            steps.append(("wild", None) if token == "*" else ("field", token))
            i += 1 + m.end()
        elif ch == "[":
            end = _closing_bracket(text, i, path)
            steps.append(_bracket_step(text[i + 1 : end].strip(), path))
            i = end + 1
        elif ch == "@" and i == 0:
            i += 1
        else:
            raise JsonPathError(f'jsonPath "{path}" has an unexpected "{ch}" at offset {i}')
    return steps


def _closing_bracket(text: str, start: int, path: str) -> int:
    depth, quote = 0, ""
    for j in range(start, len(text)):
        c = text[j]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j
    raise JsonPathError(f'jsonPath "{path}" has an unclosed "[" at offset {start}')


def _bracket_step(inner: str, path: str) -> _Step:
    if inner == "*":
        return ("wild", None)
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return ("field", inner[1:-1])
    if re.fullmatch(r"-?\d+", inner):
        return ("index", int(inner))
    m = _FILTER.match(inner)
    if m:
        sub = parse_jsonpath(m.group(1)) if m.group(1) else []
        operand = _literal(m.group(3), path) if m.group(3) is not None else None
        return ("filter", (sub, m.group(2), operand))
    raise JsonPathError(f'jsonPath "{path}" has an unsupported subscript "[{inner}]"')


def _literal(token: str, path: str) -> Any:
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        return token[1:-1]
    try:
        return json.loads(token)
    except ValueError:
        raise JsonPathError(
            f'jsonPath "{path}" compares with "{token}", which is not a string or number'
        ) from None


def evaluate_jsonpath(obj: Any, path: str | list[_Step]) -> list[Any]:
    """Every value ``path`` selects in ``obj`` (missing fields select nothing)."""
    steps = parse_jsonpath(path) if isinstance(path, str) else path
    current = [obj]
    for kind, arg in steps:
        nxt: list[Any] = []
        for value in current:
            nxt.extend(_apply(kind, arg, value))
        current = nxt
    return current


def _apply(kind: str, arg: Any, value: Any) -> list[Any]:
    if kind == "field":
        return [value[arg]] if isinstance(value, dict) and arg in value else []
    if kind == "index":
        if isinstance(value, list) and -len(value) <= arg < len(value):
            return [value[arg]]
        return []
    if kind == "wild":
        if isinstance(value, dict):
            return list(value.values())
        return list(value) if isinstance(value, list) else []
    if kind == "recurse":
        found: list[Any] = []
        _recurse(value, arg, found)
        return found
    sub, op, operand = arg
    items = value if isinstance(value, list) else []
    return [item for item in items if _filter_matches(item, sub, op, operand)]


def _recurse(value: Any, name: str, found: list[Any]) -> None:
    if isinstance(value, dict):
        if name in value:
            found.append(value[name])
        for child in value.values():
            _recurse(child, name, found)
    elif isinstance(value, list):
        for child in value:
            _recurse(child, name, found)


def _filter_matches(item: Any, sub: list[_Step], op: str | None, operand: Any) -> bool:
    results = evaluate_jsonpath(item, sub)
    if op is None:
        return bool(results)
    if not results:
        return False
    left = results[0]
    try:
        if op == "==":
            return bool(left == operand)
        if op == "!=":
            return bool(left != operand)
        if op == "<":
            return bool(left < operand)
        if op == ">":
            return bool(left > operand)
        if op == "<=":
            return bool(left <= operand)
        return bool(left >= operand)
    except TypeError:
        return False


def jsonpath_text(value: Any) -> str:
    """How kube's JSONPath printer renders one value: strings raw, scalars in JSON, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))
