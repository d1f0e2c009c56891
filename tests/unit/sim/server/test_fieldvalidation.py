"""The fieldValidation directive on its own: parsing, duplicate keys, settling, the Warning header form."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from kaito.sim.server.errors import ApiError, BadRequest, Invalid
from kaito.sim.server.fieldvalidation import FieldValidation, decode_refusal, patch_refusal, warning_header


@pytest.mark.parametrize(
    ("value", "directive"), [(None, "Warn"), ("", "Warn"), ("Strict", "Strict"), ("Ignore", "Ignore")]
)
def test_absent_directive_is_warn_as_in_kube(value: str | None, directive: str) -> None:
    assert FieldValidation.from_query(value).directive == directive


def test_unknown_directive_is_a_bad_request_naming_the_choices() -> None:
    with pytest.raises(BadRequest, match='fieldValidation is "Loose"; use one of Ignore, Warn or Strict'):
        FieldValidation.from_query("Loose")


def test_loads_notes_each_twice_set_key_once_at_any_depth_innermost_first() -> None:
    validation = FieldValidation("Strict")
    body = validation.loads('{"b": 1, "a": {"x": 1, "x": 2}, "b": 3, "b": 4, "l": [{"a": 1, "a": 2}]}')
    assert body == {"b": 4, "a": {"x": 2}, "l": [{"a": 2}]}
    assert validation.duplicates == ["x", "a", "b"]


def _refuse(error: str) -> ApiError:
    return BadRequest(error)


@pytest.mark.parametrize(
    ("directive", "raised", "warnings"),
    [
        ("Strict", 'strict decoding error: duplicate field "d", unknown field "spec.u"', []),
        ("Warn", None, ['duplicate field "d"', 'unknown field "spec.u"']),
        ("Ignore", None, []),
    ],
)
def test_settle_follows_the_directive(directive: str, raised: str | None, warnings: list[str]) -> None:
    validation = FieldValidation(directive, duplicates=["d"])
    if raised is None:
        validation.settle(["spec.u"], _refuse)
        validation.settle(["spec.u"], _refuse)  # a second look at the same body adds nothing
    else:
        with pytest.raises(BadRequest) as err:
            validation.settle(["spec.u"], _refuse)
        assert err.value.message == raised
    assert validation.warnings == warnings


def test_settle_without_problems_or_without_duplicates_passes_strict() -> None:
    # no exception is the outcome (a refusal raises), and nothing is said as a warning either
    clean = FieldValidation("Strict")
    clean.settle([], _refuse)
    duplicates_ignored = FieldValidation("Strict", duplicates=["d"])
    duplicates_ignored.settle([], _refuse, duplicates=False)
    assert clean.warnings == [] and duplicates_ignored.warnings == []


def test_refusals_read_like_kube() -> None:
    create = decode_refusal("Workspace", "v1beta1")('strict decoding error: unknown field "a"')
    assert (create.code, create.message) == (
        400,
        'Workspace in version "v1beta1" cannot be handled as a Workspace: strict decoding error: '
        'unknown field "a"',
    )
    patched: dict[str, Any] = {"spec": {"a": 1}, "kind": "K"}
    patch = patch_refusal(patched)('strict decoding error: unknown field "spec.a"')
    assert isinstance(patch, Invalid) and patch.code == 422
    assert patch.message == (
        ' "" is invalid: patch: Invalid value: "{\\"kind\\":\\"K\\",\\"spec\\":{\\"a\\":1}}": '
        'strict decoding error: unknown field "spec.a"'
    )
    assert patch.details == {"causes": [patch.causes[0]]} and patch.causes[0]["field"] == "patch"


def test_warning_headers_quote_the_text_and_repeat_per_warning() -> None:
    assert warning_header('unknown field "spec.a\\b"') == '299 - "unknown field \\"spec.a\\\\b\\""'
    response = web.Response()
    FieldValidation("Warn", warnings=['unknown field "a"', 'unknown field "b"']).add_warning_headers(response)
    assert response.headers.getall("Warning") == [
        '299 - "unknown field \\"a\\""',
        '299 - "unknown field \\"b\\""',
    ]
