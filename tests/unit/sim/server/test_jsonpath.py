"""kube's JSONPath dialect: what selects what kubectl would select, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.server.jsonpath import JsonPathError, evaluate_jsonpath, jsonpath_text

OBJ: dict[str, Any] = {
    "metadata": {"name": "x", "labels": {"a.b/c": "d"}},
    "spec": {"containers": [{"name": "one", "image": "i1"}, {"name": "two", "image": "i2"}], "n": 3},
    "status": {
        "conditions": [
            {"type": "Ready", "status": "True", "n": 2},
            {"type": "Scheduled", "status": "False", "n": 5},
        ]
    },
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".spec.n", [3]),
        ("{.spec.n}", [3]),
        (".spec.missing", []),
        (".spec.containers[0].name", ["one"]),
        (".spec.containers[-1].image", ["i2"]),
        (".spec.containers[*].name", ["one", "two"]),
        (".spec.containers[5].name", []),
        (".metadata.labels['a.b/c']", ["d"]),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".status.conditions[?(@.type=='Scheduled')].status", ["False"]),
        ('.status.conditions[?(@.type!="Ready")].type', ["Scheduled"]),
        (".status.conditions[?(@.n>3)].type", ["Scheduled"]),
        (".status.conditions[?(@.missing)].type", []),
        ("..image", ["i1", "i2"]),
    ],
)
def test_jsonpath_selects_what_kubectl_would(path: str, expected: list[Any]) -> None:
    assert evaluate_jsonpath(OBJ, path) == expected


@pytest.mark.parametrize("path", [".spec.", ".spec[", ".spec[?(@.a=bare)]", ".spec[1:2]", "spec"])
def test_jsonpath_rejects_what_it_cannot_parse(path: str) -> None:
    with pytest.raises(JsonPathError, match="jsonPath"):
        evaluate_jsonpath(OBJ, path)


@pytest.mark.parametrize(
    ("value", "text"), [("plain", "plain"), (3, "3"), (True, "true"), ({"a": 1}, '{"a":1}')]
)
def test_jsonpath_text_renders_values_as_kubes_printer(value: Any, text: str) -> None:
    assert jsonpath_text(value) == text
