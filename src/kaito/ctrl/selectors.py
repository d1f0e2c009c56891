"""Label selectors in their string form ("app=web,tier!=db,env in (a,b),!legacy"), parsed and matched.

The cache-backed client filters cached objects with these, so a `list(kind, label_selector=...)` served
from the cache answers what the API server would. Grammar (kube's `labels.Parse`): requirements separated
by commas outside parentheses; each is `key`, `!key`, `key=value`, `key==value`, `key!=value`,
`key in (v1,v2)` or `key notin (v1,v2)`. An empty selector matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["LabelSelector", "parse_label_selector"]

_SET = re.compile(r"^(?P<key>[^\s!=()]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQ = re.compile(r"^(?P<key>[^\s!=()]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)$")
_EXISTS = re.compile(r"^(?P<neg>!?)\s*(?P<key>[^\s!=()]+)$")

Requirement = Callable[[Mapping[str, str]], bool]


@dataclass(frozen=True)
class LabelSelector:
    """A parsed selector: `matches(labels)` holds when every requirement does."""

    text: str
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        found = labels or {}
        return all(requirement(found) for requirement in self.requirements)


def _split(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return [part for part in parts if part]


def _requirement(part: str, text: str) -> Requirement:
    if match := _SET.match(part):
        key, values = match["key"], frozenset(v.strip() for v in match["values"].split(",") if v.strip())
        if match["op"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQ.match(part):
        key, value = match["key"], match["value"]
        if match["op"] == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: key in labels and labels[key] == value
    if match := _EXISTS.match(part):
        key = match["key"]
        if match["neg"]:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise ValueError(
        f"label selector {text!r}: requirement {part!r} is not understood; write key, !key, key=value, "
        "key!=value, 'key in (a,b)' or 'key notin (a,b)', separated by commas"
    )


def parse_label_selector(text: str | Mapping[str, str] | None) -> LabelSelector:
    """Parse a selector string (or a matchLabels mapping); ValueError names the requirement it cannot read."""
    if text is None:
        return LabelSelector("", ())
    if isinstance(text, Mapping):
        text = ",".join(f"{key}={value}" for key, value in text.items())
    return LabelSelector(text, tuple(_requirement(part, text) for part in _split(text)))
