"""Custom objects admitted against their CRD's structural schema: pruning, defaults, messages, CEL."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.server.errors import BadRequest, Invalid, NotFound, UnsupportedMediaType
from kaito.sim.server.fieldvalidation import FieldValidation
from kaito.sim.server.schema import apply_defaults, prune, unknown_fields, validate
from kaito.sim.server.store import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, Store

SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["mode"],
    "properties": {
        "mode": {"type": "string", "enum": ["a", "b"]},
        "count": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
        "ratio": {"type": "number"},
        "name": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 5},
        "port": {"x-kubernetes-int-or-string": True},
        "tags": {
            "type": "array",
            "items": {"type": "string"},
            "maxItems": 2,
            "x-kubernetes-list-type": "set",
        },
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "note": {"type": "string", "nullable": True},
        "resource": {
            "type": "object",
            "default": {},
            "properties": {"instanceType": {"type": "string", "default": "Standard_NC24ads_A100_v4"}},
            "x-kubernetes-validations": [
                {"rule": "self.instanceType == oldSelf.instanceType", "message": "instanceType is immutable"}
            ],
        },
    },
    "x-kubernetes-validations": [
        {"rule": "!has(self.ratio) || self.mode == 'b'", "message": "ratio needs mode b"},
        {
            "rule": "self.count <= 5 || self.mode == 'b'",
            "messageExpression": "'count ' + string(self.count) + ' too big'",
        },
        {"rule": "self.mode.quantityIsNotACelpyFunction()", "message": "never reported"},
    ],
}

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "workspaces.kaito.sh"},
    "spec": {
        "group": "kaito.sh",
        "scope": "Namespaced",
        "names": {"kind": "Workspace", "plural": "workspaces", "singular": "workspace", "shortNames": ["wk"]},
        "versions": [
            {
                "name": "v1beta1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [{"name": "Mode", "type": "string", "jsonPath": ".spec.mode"}],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                            "metadata": {"type": "object"},
                            "spec": SPEC_SCHEMA,
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            },
            {
                "name": "v1alpha1",
                "served": True,
                "storage": False,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            },
        ],
    },
}
AV = "kaito.sh/v1beta1"


@pytest.fixture
def store() -> Store:
    s = Store()
    s.create("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD)
    return s


def ws(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": AV, "kind": "Workspace", "metadata": {"name": "x"}, "spec": {"mode": "a", **spec}}


def test_crd_is_served_and_established_at_once(store: Store) -> None:
    rt = store.registry.by_kind(AV, "Workspace")
    assert rt is not None and rt.namespaced and rt.has_status and rt.short_names == ("wk",)
    assert store.registry.by_kind("kaito.sh/v1alpha1", "Workspace") is not None
    crd = store.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "workspaces.kaito.sh")
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["acceptedNames"]["kind"] == "Workspace"
    assert crd["status"]["storedVersions"] == ["v1beta1"]


def test_defaults_and_pruning_on_create(store: Store) -> None:
    body = ws(unknown="dropped", free={"anything": {"goes": 1}})
    body["extra"] = "dropped too"
    out = store.create(AV, "Workspace", body)
    assert out["spec"] == {
        "mode": "a",
        "count": 1,
        "free": {"anything": {"goes": 1}},
        "resource": {"instanceType": "Standard_NC24ads_A100_v4"},
    }
    assert "extra" not in out


@pytest.mark.parametrize(
    ("spec", "message", "cause"),
    [
        (
            {"mode": "bar"},
            'Workspace.kaito.sh "x" is invalid: spec.mode: Unsupported value: "bar": '
            'supported values: "a", "b"',
            {"reason": "FieldValueNotSupported", "field": "spec.mode"},
        ),
        (
            {"count": "3"},
            'Workspace.kaito.sh "x" is invalid: spec.count: Invalid value: "string": '
            'spec.count in body must be of type integer: "string"',
            {"reason": "FieldValueTypeInvalid", "field": "spec.count"},
        ),
        (
            {"count": 2.5},
            'Workspace.kaito.sh "x" is invalid: spec.count: Invalid value: "number": '
            'spec.count in body must be of type integer: "number"',
            {"reason": "FieldValueTypeInvalid", "field": "spec.count"},
        ),
        (
            {"count": 0},
            'Workspace.kaito.sh "x" is invalid: spec.count: Invalid value: 0: '
            "spec.count in body should be greater than or equal to 1",
            {"reason": "FieldValueInvalid", "field": "spec.count"},
        ),
        (
            {"name": "Abc"},
            'Workspace.kaito.sh "x" is invalid: spec.name: Invalid value: "Abc": '
            "spec.name in body should match '^[a-z]+$'",
            {"reason": "FieldValueInvalid", "field": "spec.name"},
        ),
        (
            {"name": "abcdefg"},
            'Workspace.kaito.sh "x" is invalid: spec.name: Too long: may not be more than 5 bytes',
            {"reason": "FieldValueTooLong", "field": "spec.name"},
        ),
        (
            {"tags": ["a", "a"]},
            'Workspace.kaito.sh "x" is invalid: spec.tags[1]: Duplicate value: "a"',
            {"reason": "FieldValueDuplicate", "field": "spec.tags[1]"},
        ),
        (
            {"labels": {"k": 1}},
            'Workspace.kaito.sh "x" is invalid: spec.labels[k]: Invalid value: "integer": '
            'spec.labels[k] in body must be of type string: "integer"',
            {"reason": "FieldValueTypeInvalid", "field": "spec.labels[k]"},
        ),
        (
            {"ratio": 0.5},
            'Workspace.kaito.sh "x" is invalid: spec: Invalid value: "object": ratio needs mode b',
            {"reason": "FieldValueInvalid", "field": "spec"},
        ),
        (
            {"count": 7},
            'Workspace.kaito.sh "x" is invalid: spec: Invalid value: "object": count 7 too big',
            {"reason": "FieldValueInvalid", "field": "spec"},
        ),
    ],
)
def test_invalid_custom_objects(
    store: Store, spec: dict[str, Any], message: str, cause: dict[str, str]
) -> None:
    with pytest.raises(Invalid) as err:
        store.create(AV, "Workspace", ws(**spec))
    assert err.value.message == message
    status = err.value.to_status()
    assert status["code"] == 422 and status["reason"] == "Invalid"
    [actual] = status["details"]["causes"]
    assert {k: actual[k] for k in cause} == cause


def test_required_and_several_errors_are_bracketed(store: Store) -> None:
    body = ws(count=20)
    del body["spec"]["mode"]
    with pytest.raises(Invalid) as err:
        store.create(AV, "Workspace", body)
    assert err.value.message == (
        'Workspace.kaito.sh "x" is invalid: [spec.mode: Required value, spec.count: Invalid value: 20: '
        "spec.count in body should be less than or equal to 10]"
    )


def test_valid_values_pass(store: Store) -> None:
    out = store.create(
        AV, "Workspace", ws(mode="b", ratio=1, port="http", note=None, tags=["x"], labels={"a": "b"})
    )
    assert out["spec"]["port"] == "http" and out["spec"]["note"] is None


def test_transition_rule_uses_old_self(store: Store) -> None:
    store.create(AV, "Workspace", ws())
    patch = {"spec": {"resource": {"instanceType": "Standard_NC96ads_A100_v4"}}}
    with pytest.raises(Invalid, match=r'spec.resource: Invalid value: "object": instanceType is immutable'):
        store.patch(AV, "Workspace", "x", patch, MERGE_PATCH, "default")
    out = store.patch(AV, "Workspace", "x", {"spec": {"count": 2}}, MERGE_PATCH, "default")
    assert out["spec"]["count"] == 2 and out["metadata"]["generation"] == 2


def test_strategic_merge_patch_is_refused_for_custom_resources(store: Store) -> None:
    store.create(AV, "Workspace", ws())
    with pytest.raises(UnsupportedMediaType) as err:
        store.patch(AV, "Workspace", "x", {"spec": {"count": 2}}, STRATEGIC_MERGE_PATCH)
    assert err.value.code == 415
    assert err.value.message.startswith("strategic merge patch is not supported for Workspace.kaito.sh")


def test_versions_share_storage(store: Store) -> None:
    store.create(AV, "Workspace", ws())
    other = store.get("kaito.sh/v1alpha1", "Workspace", "x", "default")
    assert other["apiVersion"] == "kaito.sh/v1alpha1" and other["spec"]["mode"] == "a"


def test_deleting_the_crd_unserves_it_and_deletes_its_objects(store: Store) -> None:
    store.create(AV, "Workspace", ws())
    watch = store.watch(AV, "Workspace", resource_version=str(store.resource_version))
    store.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", "workspaces.kaito.sh")
    assert [e.type for e in watch.drain()] == ["DELETED"]
    with pytest.raises(NotFound):
        store.list(AV, "Workspace")


def test_invalid_crd_is_rejected() -> None:
    store = Store()
    bad = {**CRD, "metadata": {"name": "wrong.kaito.sh"}}
    with pytest.raises(Invalid, match=r'metadata.name: Invalid value: "wrong.kaito.sh"'):
        store.create("apiextensions.k8s.io/v1", "CustomResourceDefinition", bad)


# strict field validation (fieldValidation=Strict/Warn/Ignore) against the schema
STRICT_BODY_ERROR = (
    'Workspace in version "v1beta1" cannot be handled as a Workspace: strict decoding error: '
    'unknown field "extra", unknown field "spec.resource.instancetype", unknown field "spec.tags2"'
)


def strict_body() -> dict[str, Any]:
    body = ws(tags2=["x"], free={"anything": 1}, resource={"instancetype": "Standard_NC6s_v3"})
    body["extra"] = "x"
    return body


def test_strict_create_refuses_undeclared_fields_and_stores_nothing(store: Store) -> None:
    with pytest.raises(BadRequest) as err:
        store.create(AV, "Workspace", strict_body(), field_validation=FieldValidation("Strict"))
    assert (err.value.code, err.value.message) == (400, STRICT_BODY_ERROR)
    assert store.list(AV, "Workspace")[0] == []


@pytest.mark.parametrize(("directive", "warnings"), [("Warn", 3), ("Ignore", 0)])
def test_warn_and_ignore_prune_and_differ_only_in_warnings(
    store: Store, directive: str, warnings: int
) -> None:
    validation = FieldValidation(directive)
    out = store.create(AV, "Workspace", strict_body(), field_validation=validation)
    assert "extra" not in out and "tags2" not in out["spec"] and out["spec"]["free"] == {"anything": 1}
    assert len(validation.warnings) == warnings
    assert (
        validation.warnings == STRICT_BODY_ERROR.split(": strict decoding error: ")[1].split(", ")[:warnings]
    )


def test_strict_update_refuses_and_a_preserved_subtree_accepts_anything(store: Store) -> None:
    created = store.create(AV, "Workspace", ws(free={"a": 1}))
    created["spec"]["free"] = {"any": {"thing": [1]}}
    created["status"] = {"whatever": True}
    out = store.update(AV, "Workspace", created, field_validation=FieldValidation("Strict"))
    assert out["spec"]["free"] == {"any": {"thing": [1]}}
    out["spec"]["modes"] = "typo"
    with pytest.raises(BadRequest, match=r'strict decoding error: unknown field "spec.modes"$'):
        store.update(AV, "Workspace", out, field_validation=FieldValidation("Strict"))


@pytest.mark.parametrize(
    ("patch", "patch_type"),
    [
        ({"spec": {"cuont": 2}}, MERGE_PATCH),
        ([{"op": "add", "path": "/spec/cuont", "value": 2}], JSON_PATCH),
    ],
)
def test_strict_patch_is_invalid_on_the_patch_field(store: Store, patch: Any, patch_type: str) -> None:
    store.create(AV, "Workspace", ws())
    with pytest.raises(Invalid) as err:
        store.patch(AV, "Workspace", "x", patch, patch_type, field_validation=FieldValidation("Strict"))
    assert err.value.code == 422
    assert err.value.message.startswith(' "" is invalid: patch: Invalid value: "{')
    assert err.value.message.endswith('": strict decoding error: unknown field "spec.cuont"')
    assert [c["field"] for c in err.value.causes] == ["patch"]
    assert "cuont" not in store.get(AV, "Workspace", "x")["spec"]


def test_duplicate_keys_come_first_and_json_patch_leaves_them_out(store: Store) -> None:
    validation = FieldValidation("Warn")
    body = validation.loads(
        '{"apiVersion": "kaito.sh/v1beta1", "kind": "Workspace", "metadata": {"name": "x"},'
        ' "spec": {"mode": "a", "mode": "b", "cuont": 1}}'
    )
    store.create(AV, "Workspace", body, field_validation=validation)
    assert validation.warnings == ['duplicate field "mode"', 'unknown field "spec.cuont"']
    ops = FieldValidation("Strict")
    ops.loads('[{"op": "add", "path": "/spec/count", "path": "/spec/count", "value": 3}]')
    out = store.patch(
        AV,
        "Workspace",
        "x",
        [{"op": "add", "path": "/spec/count", "value": 3}],
        JSON_PATCH,
        field_validation=ops,
    )
    assert out["spec"]["count"] == 3


def test_server_side_apply_prunes_whatever_the_directive(store: Store) -> None:
    config = {**ws(cuont=1), "metadata": {"name": "x", "namespace": "default"}}
    out = store.patch(
        AV,
        "Workspace",
        "x",
        config,
        APPLY_PATCH,
        "default",
        field_manager="m",
        field_validation=FieldValidation("Strict"),
    )
    assert "cuont" not in out["spec"]


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        ({"type": "object", "properties": {"a": {"type": "string"}}}, {"a": None, "b": 1}, ["b"]),
        (
            {"type": "object", "properties": {"l": {"type": "array", "items": {"type": "object"}}}},
            {"l": [{}, {"x": 1}]},
            ["l[1].x"],
        ),
        ({"type": "object", "properties": {"p": {"x-kubernetes-int-or-string": True}}}, {"p": {"x": 1}}, []),
        ({"type": "object", "additionalProperties": True}, {"anything": 1}, []),
        (
            {"type": "object", "additionalProperties": {"type": "object", "properties": {}}},
            {"k": {"x": 1}},
            ["k.x"],
        ),
        (
            {"type": "object", "properties": {}},
            {"apiVersion": "v", "kind": "K", "metadata": {}, "b": 1, "a": 2},
            ["a", "b"],
        ),
    ],
)
def test_unknown_fields(schema: dict[str, Any], value: dict[str, Any], expected: list[str]) -> None:
    before = repr(value)
    assert unknown_fields(value, schema) == expected
    assert repr(value) == before  # the object is not pruned


# pure functions, for the cases the store tests above do not reach
@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        ({"type": "object", "properties": {"a": {"type": "string"}}}, {"a": "x", "b": 1}, {"a": "x"}),
        (
            {"type": "object", "additionalProperties": {"type": "object", "properties": {}}},
            {"k": {"x": 1}},
            {"k": {}},
        ),
        ({"type": "array", "items": {"type": "object", "properties": {}}}, [{"x": 1}], [{}]),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, {"a": None}, {}),
        (
            {"type": "object", "properties": {"a": {"type": "string", "nullable": True}}},
            {"a": None},
            {"a": None},
        ),
    ],
)
def test_prune(schema: dict[str, Any], value: Any, expected: Any) -> None:
    assert prune(value, schema) == expected


def test_defaults_recurse_into_defaulted_objects() -> None:
    schema = {
        "type": "object",
        "properties": {
            "o": {"type": "object", "default": {}, "properties": {"n": {"type": "integer", "default": 3}}}
        },
    }
    assert apply_defaults({}, schema) == {"o": {"n": 3}}


@pytest.mark.parametrize(
    ("schema", "value", "ok"),
    [
        ({"type": "integer"}, True, False),
        ({"type": "number"}, 3, True),
        ({"type": "boolean"}, "true", False),
        ({"x-kubernetes-int-or-string": True}, 3, True),
        ({"x-kubernetes-int-or-string": True}, 3.5, False),
        ({"type": "array", "minItems": 1}, [], False),
        ({"type": "string", "format": "date-time"}, "2026-01-02T03:04:05Z", True),
        ({"type": "integer", "exclusiveMinimum": True, "minimum": 1}, 1, False),
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, [], False),
        (
            {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["n"],
                "items": {"type": "object"},
            },
            [{"n": 1}, {"n": 1}],
            False,
        ),
    ],
)
def test_validate_table(schema: dict[str, Any], value: Any, ok: bool) -> None:
    assert (validate(value, schema, "f") == []) is ok


@pytest.mark.parametrize(
    ("schema", "value", "message"),
    [
        (
            {"type": "array", "minItems": 2},
            [1],
            "f: Invalid value: 1: f in body should have at least 2 items",
        ),
        ({"type": "array", "maxItems": 1}, [1, 2], "f: Too many: must have at most 1 items"),
        (
            {"type": "object", "minProperties": 2},
            {"a": 1},
            "f: Invalid value: 1: f in body should have at least 2 properties",
        ),
        ({"type": "object", "maxProperties": 1}, {"a": 1, "b": 2}, "f: Too many: must have at most 1 items"),
    ],
    ids=["min-items", "max-items", "min-properties", "max-properties"],
)
def test_size_bounds_are_worded_as_kube_words_them(schema: dict[str, Any], value: Any, message: str) -> None:
    assert [e.message() for e in validate(value, schema, "f")] == [message]


def test_a_restored_snapshot_serves_its_custom_kinds(store: Store) -> None:
    store.create(AV, "Workspace", ws())
    restored = Store.from_snapshot(store.snapshot())
    assert restored.get(AV, "Workspace", "x", "default")["spec"]["mode"] == "a"
    with pytest.raises(Invalid):
        restored.create(AV, "Workspace", {**ws(), "metadata": {"name": "y"}, "spec": {"mode": "zzz"}})
