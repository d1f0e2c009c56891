"""Label and field selectors, parsed once and matched many times (list filtering and every watch event).

Label selector grammar (kube's ``labels.Parse``): comma-separated requirements, each one of
``key=value``, ``key==value``, ``key!=value``, ``key in (a,b)``, ``key notin (a,b)``, ``key`` (exists) and
``!key`` (does not exist). ``!=`` and ``notin`` match objects without the key, as in kube.

Field selector grammar (``fields.ParseSelector``): comma-separated ``path=value``, ``path==value`` or
``path!=value``; the path must be one the resource type supports, otherwise kube answers
``field label not supported: <path>`` (400), and so does :func:`parse_field_selector`.

:class:`LabelSelector` also builds from the structured ``metav1.LabelSelector`` (``matchLabels`` /
``matchExpressions``) that Deployments, ReplicaSets and Services use, so the workload simulator shares the
matching rules with list and watch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kaito.sim.server.errors import BadRequest
from kaito.sim.server.resources import ResourceType

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelRequirement",
    "LabelSelector",
    "field_value",
    "parse_field_selector",
    "parse_label_selector",
]

_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


@dataclass(frozen=True)
class LabelRequirement:
    """One requirement: ``key <op> values``; op is one of =, !=, in, notin, exists, !."""

    key: str
    op: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        if self.op in ("!=", "notin"):
            return not present or labels[self.key] not in self.values
        if self.op == "exists":
            return present
        return not present  # "!"


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of label requirements; the empty selector matches everything."""

    requirements: tuple[LabelRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def matches_object(self, obj: Mapping[str, Any]) -> bool:
        return self.matches((obj.get("metadata") or {}).get("labels"))

    @property
    def empty(self) -> bool:
        return not self.requirements

    @classmethod
    def from_dict(cls, selector: Mapping[str, Any] | None) -> LabelSelector:
        """From a ``metav1.LabelSelector`` (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist)."""
        if not selector:
            return cls()
        reqs = [
            LabelRequirement(k, "=", frozenset({str(v)}))
            for k, v in (selector.get("matchLabels") or {}).items()
        ]
        ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
        for expr in selector.get("matchExpressions") or []:
            operator = expr.get("operator", "")
            if operator not in ops:
                raise BadRequest(
                    f'"{operator}" is not a valid label selector operator; '
                    "accepted: In, NotIn, Exists, DoesNotExist"
                )
            reqs.append(LabelRequirement(expr["key"], ops[operator], frozenset(expr.get("values") or ())))
        return cls(tuple(reqs))


def _bad_label(selector: str, why: str) -> BadRequest:
    return BadRequest(f"unable to parse requirement: {why} (label selector {selector!r})")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


_SET_RE = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQ_RE = re.compile(r"^(?P<key>[^=!\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>\S*)$")


def _check_key(selector: str, key: str) -> str:
    if not _KEY.match(key) or len(key.rpartition("/")[2]) > 63:
        raise _bad_label(
            selector,
            f"invalid label key {key!r}: name part must consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character",
        )
    return key


def _check_value(selector: str, value: str) -> str:
    if not _VALUE.match(value) or len(value) > 63:
        raise _bad_label(
            selector,
            f"invalid label value {value!r}: a valid label must be an empty string or consist of "
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        )
    return value


def parse_label_selector(selector: str | None) -> LabelSelector:
    """Parse a label selector string; malformed input raises BadRequest naming the requirement."""
    if selector is None or not selector.strip():
        return LabelSelector()
    reqs: list[LabelRequirement] = []
    for raw in _split_top_level(selector):
        part = raw.strip()
        if not part:
            raise _bad_label(selector, "found empty requirement")
        if m := _SET_RE.match(part):
            values = frozenset(_check_value(selector, v.strip()) for v in m["values"].split(",") if v.strip())
            if not values:
                raise _bad_label(
                    selector, f"for 'in', 'notin' operators, values set can't be empty: {part!r}"
                )
            reqs.append(LabelRequirement(_check_key(selector, m["key"]), m["op"], values))
        elif m := _EQ_RE.match(part):
            op = "!=" if m["op"] == "!=" else "="
            reqs.append(
                LabelRequirement(
                    _check_key(selector, m["key"]), op, frozenset({_check_value(selector, m["value"])})
                )
            )
        elif part.startswith("!"):
            reqs.append(LabelRequirement(_check_key(selector, part[1:].strip()), "!"))
        elif " " not in part:
            reqs.append(LabelRequirement(_check_key(selector, part), "exists"))
        else:
            raise _bad_label(
                selector, f"unable to parse {part!r}: expected one of =, ==, !=, in, notin, or a key"
            )
    return LabelSelector(tuple(reqs))


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    op: str  # "=" or "!="
    value: str


@dataclass(frozen=True)
class FieldSelector:
    """A conjunction of field requirements over an object's fields (values compared as strings)."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for req in self.requirements:
            equal = field_value(obj, req.path) == req.value
            if equal != (req.op == "="):
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.requirements

    def value_of(self, path: str) -> str | None:
        """The value an ``=`` requirement pins ``path`` to, if any (lets list narrow by namespace/name)."""
        for req in self.requirements:
            if req.path == path and req.op == "=":
                return req.value
        return None


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string kube compares a field selector against (missing -> "", booleans -> "true"/"false")."""
    if path == "source":  # Event's "source" selector is source.component
        path = "source.component"
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


_UNESCAPE = {"\\,": ",", "\\=": "=", "\\\\": "\\"}


def parse_field_selector(selector: str | None, rt: ResourceType | None = None) -> FieldSelector:
    """Parse a field selector; a path ``rt`` does not support raises ``field label not supported: <path>``."""
    if selector is None or not selector.strip():
        return FieldSelector()
    reqs: list[FieldRequirement] = []
    for raw in re.split(r"(?<!\\),", selector):
        part = raw.strip()
        if not part:
            continue
        m = re.match(r"^(?P<path>[^=!]+?)\s*(?P<op>==|=|!=)\s*(?P<value>.*)$", part)
        if m is None:
            raise BadRequest(f"invalid selector: '{selector}'; can't understand '{part}'")
        path = m["path"].strip()
        value = re.sub(r"\\[,=\\]", lambda e: _UNESCAPE[e.group(0)], m["value"].strip())
        if rt is not None and not _field_supported(rt, path):
            raise BadRequest(f"field label not supported: {path}")
        reqs.append(FieldRequirement(path, "!=" if m["op"] == "!=" else "=", value))
    return FieldSelector(tuple(reqs))


def _field_supported(rt: ResourceType, path: str) -> bool:
    if rt.supports_field(path):
        return True
    # kube serves any metadata.* path for custom resources and several built-ins; accept it for every kind
    return path.startswith("metadata.") and path.count(".") == 1
