"""The API server's JSON codec: compact output like json.dumps, wide integers kept, JSON-first YAML."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kaito.sim.server.codec import dumps, load_yaml


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, None, True], "b": {"c": "d"}},
        {"wide": 2**70},  # orjson refuses it; json encodes it exactly
        {"text": "é ü 😀"},
        [],
    ],
)
def test_dumps_is_compact_json_of_the_same_value(value: Any) -> None:
    out = dumps(value)
    assert isinstance(out, bytes)
    assert json.loads(out) == value
    assert b", " not in out and b": " not in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1, "b": [true, null]}', {"a": 1, "b": [True, None]}),
        ('  {"n": 123456789012345678901234567890}', {"n": 123456789012345678901234567890}),
        ("a: 1\nb: [x, y]\n", {"a": 1, "b": ["x", "y"]}),  # YAML
        ("{a: 1, b: yes}", {"a": 1, "b": True}),  # YAML flow style, not JSON
        ('{"a": NaN}', {"a": "NaN"}),  # not JSON: YAML reads it (a string)
        ("", None),
    ],
)
def test_load_yaml_reads_json_with_json_and_the_rest_with_yaml(text: str, expected: Any) -> None:
    assert load_yaml(text) == expected


def test_load_yaml_errors_are_yaml_errors() -> None:
    import yaml

    with pytest.raises(yaml.YAMLError):
        load_yaml("{a: [}")
