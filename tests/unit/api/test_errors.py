"""Field-named error sentences, from pydantic's errors and from validate()."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.api.errors import FieldError, InvalidObjectError, parse_object, render_value
from kaito.api.machine import Machine
from kaito.api.workspace import Workspace


def workspace(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "ws"},
        "resource": {"instanceType": "Standard_NC6s_v3", "labelSelector": {"matchLabels": {"apps": "x"}}},
        "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}},
    }
    data.update(changes)
    return data


def errors_of(data: Any, model: type[Workspace] | type[Machine] = Workspace) -> list[str]:
    with pytest.raises(InvalidObjectError) as raised:
        parse_object(model, data)
    return raised.value.sentences()


def test_field_error_is_one_sentence() -> None:
    assert (
        str(FieldError("tuning.input", "required value is missing"))
        == "tuning.input: required value is missing."
    )
    assert str(FieldError("", "something is wrong.")) == "something is wrong."


def test_invalid_object_error_names_the_object_and_lists_every_error() -> None:
    error = InvalidObjectError("Workspace", "ws", [FieldError("a", "first"), FieldError("b", "second")])
    assert str(error) == 'Workspace "ws" is invalid: a: first. b: second.'
    assert isinstance(error, ValueError)
    assert str(InvalidObjectError("Machine", None, [FieldError("a", "x")])) == "Machine is invalid: a: x."


@pytest.mark.parametrize(
    ("data", "sentence"),
    [
        (workspace(resource={"instanceType": "x"}), "resource.labelSelector: required value is missing."),
        (
            workspace(tuning={"preset": {"name": "p"}, "method": "sft", "input": {}, "output": {}}),
            "tuning.method: \"sft\" is not supported; use 'lora' or 'qlora'.",
        ),
        (
            workspace(resource={"instancetype": "x", "labelSelector": {}}),
            "resource.instancetype: unknown field; known fields here are: count, instanceType, "
            "labelSelector, partition, preferredNodes.",
        ),
        (
            workspace(inference={"adapters": [{"source": {"nmae": "a"}}]}),
            "inference.adapters[0].source.nmae: unknown field; known fields here are: image, "
            "imagePullSecrets, name, urls, volumeSource.",
        ),
        (workspace(resource={"count": "2", "labelSelector": {}}), 'resource.count: "2" is not an integer.'),
        (
            workspace(resource={"count": 0, "labelSelector": {}}),
            "resource.count: 0 is not accepted: input should",
        ),
        (workspace(apiVersion="kaito.sh/v1alpha1"), 'apiVersion: "kaito.sh/v1alpha1" is not supported; use'),
        (workspace(inference="phi-3"), 'inference: "phi-3" is not a mapping.'),
        (workspace(metadata={"name": "ws", "creationTimestamp": "never"}), "metadata.creationTimestamp: "),
    ],
)
def test_parse_errors_become_field_named_sentences(data: Any, sentence: str) -> None:
    sentences = errors_of(data)
    assert any(s.startswith(sentence) for s in sentences), sentences


def test_union_alternatives_are_merged_into_one_sentence() -> None:
    data = {
        "metadata": {"name": "m"},
        "spec": {"instanceType": "Standard_NC6s_v3"},
        "status": {"capacity": {"nvidia.com/gpu": 1.5}},
    }
    assert errors_of(data, Machine) == ["status.capacity.nvidia.com/gpu: 1.5 is not an integer or a string."]


def test_parse_error_carries_the_object_name() -> None:
    with pytest.raises(
        InvalidObjectError, match=r'^Workspace "ws" is invalid: resource: required value is missing'
    ):
        parse_object(Workspace, {"metadata": {"name": "ws"}, "inference": {}})


def test_parse_of_a_non_mapping_names_no_object() -> None:
    with pytest.raises(InvalidObjectError, match=r"^Workspace is invalid: "):
        parse_object(Workspace, ["not", "a", "mapping"])


@pytest.mark.parametrize(
    ("value", "text"),
    [("a", '"a"'), (1.5, "1.5"), (None, "null"), ({"k": 1}, '{"k": 1}'), ("x" * 100, '"' + "x" * 76 + "...")],
)
def test_values_are_shown_as_in_yaml_or_json(value: object, text: str) -> None:
    assert render_value(value) == text
