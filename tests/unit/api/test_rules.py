"""Each CEL rule, evaluated with cel-python on the values it guards: true where valid, false where not."""

from __future__ import annotations

from typing import Any

import celpy
import pytest

from kaito.api import rules

_ENV = celpy.Environment()


def evaluate(rule: rules.CelRule, value: Any, old: Any = None) -> bool:
    activation = {"self": celpy.json_to_cel(value)}
    if old is not None:
        activation["oldSelf"] = celpy.json_to_cel(old)
    result = _ENV.program(_ENV.compile(rule.rule)).evaluate(activation)
    assert not isinstance(result, celpy.CELEvalError), f"{rule.rule} failed on {value!r}: {result}"
    return bool(result)


IMAGE = "myregistry.azurecr.io/adapters/phi-3-adapter:0.0.1"
VOLUME = {"persistentVolumeClaim": {"claimName": "data"}}
CASES: list[tuple[rules.CelRule, Any, bool]] = [
    (rules.WORKSPACE_NOT_NEITHER, {"inference": {}}, True),
    (rules.WORKSPACE_NOT_NEITHER, {"tuning": {}}, True),
    (rules.WORKSPACE_NOT_NEITHER, {"resource": {}}, False),
    (rules.WORKSPACE_NOT_BOTH, {"inference": {}}, True),
    (rules.WORKSPACE_NOT_BOTH, {"inference": {}, "tuning": {}}, False),
    (rules.TUNING_SINGLE_NODE, {"tuning": {}, "resource": {"count": 1}}, True),
    (rules.TUNING_SINGLE_NODE, {"tuning": {}, "resource": {}}, True),
    (rules.TUNING_SINGLE_NODE, {"inference": {}, "resource": {"count": 3}}, True),
    (rules.TUNING_SINGLE_NODE, {"tuning": {}, "resource": {"count": 2}}, False),
    (rules.INSTANCE_TYPE_OR_BYO, {"instanceType": "Standard_NC6s_v3", "labelSelector": {}}, True),
    (rules.INSTANCE_TYPE_OR_BYO, {"labelSelector": {"matchLabels": {"apps": "x"}}}, True),
    (
        rules.INSTANCE_TYPE_OR_BYO,
        {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}},
        True,
    ),
    (rules.INSTANCE_TYPE_OR_BYO, {"labelSelector": {}, "preferredNodes": ["n0"]}, True),
    (rules.INSTANCE_TYPE_OR_BYO, {"labelSelector": {}}, False),
    (rules.INSTANCE_TYPE_OR_BYO, {"instanceType": "", "labelSelector": {"matchLabels": {}}}, False),
    (rules.INSTANCE_TYPE_OR_BYO, {"labelSelector": {}, "preferredNodes": []}, False),
    (rules.INFERENCE_PRESET_OR_TEMPLATE, {"preset": {"name": "p"}}, True),
    (rules.INFERENCE_PRESET_OR_TEMPLATE, {"template": {}}, True),
    (rules.INFERENCE_PRESET_OR_TEMPLATE, {"config": "c"}, False),
    (rules.INFERENCE_NOT_BOTH, {"preset": {"name": "p"}, "template": {}}, False),
    (rules.ADAPTER_NEEDS_NAME, {"source": {"name": "a"}}, True),
    (rules.ADAPTER_NEEDS_NAME, {"source": {"name": ""}}, False),
    (rules.ADAPTER_NEEDS_NAME, {"source": {}}, False),
    (rules.ADAPTER_NEEDS_IMAGE_OR_VOLUME, {"source": {"image": IMAGE}}, True),
    (rules.ADAPTER_NEEDS_IMAGE_OR_VOLUME, {"source": {"volumeSource": VOLUME}}, True),
    (rules.ADAPTER_NEEDS_IMAGE_OR_VOLUME, {"source": {"name": "a"}}, False),
    (rules.ADAPTER_NO_URLS, {"source": {"urls": []}}, True),
    (rules.ADAPTER_NO_URLS, {"source": {"urls": ["https://x.io/a"]}}, False),
    (rules.TUNING_INPUT_ONE_SOURCE, {"urls": ["https://x.io/a"]}, True),
    (rules.TUNING_INPUT_ONE_SOURCE, {"image": IMAGE}, True),
    (rules.TUNING_INPUT_ONE_SOURCE, {"volumeSource": VOLUME}, True),
    (rules.TUNING_INPUT_ONE_SOURCE, {"urls": [], "image": IMAGE}, True),
    (rules.TUNING_INPUT_ONE_SOURCE, {}, False),
    (rules.TUNING_INPUT_ONE_SOURCE, {"urls": ["https://x.io/a"], "volumeSource": VOLUME}, False),
    (rules.TUNING_OUTPUT_ONE_DESTINATION, {"image": IMAGE}, True),
    (rules.TUNING_OUTPUT_ONE_DESTINATION, {"volumeSource": VOLUME}, True),
    (rules.TUNING_OUTPUT_ONE_DESTINATION, {}, False),
    (rules.TUNING_OUTPUT_ONE_DESTINATION, {"image": IMAGE, "volumeSource": VOLUME}, False),
    (rules.TUNING_OUTPUT_NEEDS_PUSH_SECRET, {"image": IMAGE, "imagePushSecret": "s"}, True),
    (rules.TUNING_OUTPUT_NEEDS_PUSH_SECRET, {"volumeSource": VOLUME}, True),
    (rules.TUNING_OUTPUT_NEEDS_PUSH_SECRET, {"image": IMAGE}, False),
    (rules.TUNING_OUTPUT_NEEDS_PUSH_SECRET, {"image": IMAGE, "imagePushSecret": ""}, False),
    (rules.IMAGE_REFERENCE, IMAGE, True),
    (rules.IMAGE_REFERENCE, "registry.io/model@sha256:" + "a" * 64, True),
    (rules.IMAGE_REFERENCE, "registry.io/Model:1", False),
    (rules.IMAGE_REFERENCE, "phi 3", False),
    (rules.STRENGTH_RANGE, "0.5", True),
    (rules.STRENGTH_RANGE, "1", True),
    (rules.STRENGTH_RANGE, "1.5", False),
    (rules.STRENGTH_RANGE, "strong", False),
]


@pytest.mark.parametrize(("rule", "value", "holds"), CASES)
def test_rule_holds_exactly_on_valid_values(rule: rules.CelRule, value: Any, holds: bool) -> None:
    assert evaluate(rule, value) is holds


def test_machine_spec_cannot_change() -> None:
    spec = {"instanceType": "Standard_NC6s_v3", "nodeLabels": {"a": "b"}}
    assert evaluate(rules.MACHINE_SPEC_IMMUTABLE, spec, old=dict(spec))
    assert not evaluate(rules.MACHINE_SPEC_IMMUTABLE, {**spec, "instanceType": "Standard_NC12s_v3"}, old=spec)


def test_every_rule_is_tested_and_written_as_a_sentence() -> None:
    every_rule = {value for value in vars(rules).values() if isinstance(value, rules.CelRule)}
    tested = {rule for rule, _, _ in CASES} | {rules.MACHINE_SPEC_IMMUTABLE}
    assert every_rule == tested
    for rule in every_rule:
        assert rule.message[0].islower() and not rule.message.endswith(".")
        assert "\\" not in rule.rule


def test_validations_builds_the_schema_extension() -> None:
    assert rules.validations(rules.WORKSPACE_NOT_BOTH) == {
        "x-kubernetes-validations": [
            {"rule": rules.WORKSPACE_NOT_BOTH.rule, "message": rules.WORKSPACE_NOT_BOTH.message}
        ]
    }
