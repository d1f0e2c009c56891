"""The generated CRDs: checked in unchanged, structural, and refusing what they should with their messages.

`admit()` below is a small stand-in for the API server's admission of a custom resource: it applies
the CRD's OpenAPI schema (types, required, enum, pattern, lengths, minimum, and unknown fields as kubectl's
strict field validation does) and evaluates every `x-kubernetes-validations` rule with cel-python, reporting
errors in kube-apiserver's words. Transition rules (using oldSelf) apply on update only, as in Kubernetes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml

from kaito.api.crd import MACHINE_CRD, WORKSPACE_CRD, all_crds, crd_filename, openapi_schema, render_yaml

ROOT = Path(__file__).parents[3]
CRD_DIR = ROOT / "manifests" / "crd"
INVALID = ROOT / "tests" / "data" / "invalid"
CASES: dict[str, dict[str, str]] = yaml.safe_load((INVALID / "cases.yaml").read_text())["cases"]
SAMPLES = sorted((ROOT / "manifests" / "samples").glob("workspace-*.yaml"))
_CEL = celpy.Environment()
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}

Error = tuple[str, str]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _cel_holds(rule: str, value: Any, old: Any) -> bool:
    activation = {"self": celpy.json_to_cel(value)}
    if old is not None:
        activation["oldSelf"] = celpy.json_to_cel(old)
    result = _CEL.program(_CEL.compile(rule)).evaluate(activation)
    assert not isinstance(result, celpy.CELEvalError), f"rule {rule!r} failed to evaluate: {result}"
    return bool(result)


def admit(value: Any, schema: dict[str, Any], path: str = "", old: Any = None) -> list[Error]:
    """The errors the API server would report for `value` under `schema` (empty when admitted)."""
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            return [(path, f"Invalid value: {value!r}: must be an integer or a string")]
        return []
    kind = schema.get("type")
    if kind is not None:
        wanted = _JSON_TYPES[kind]
        if not isinstance(value, wanted) or (isinstance(value, bool) and kind != "boolean"):
            return [(path, f'Invalid value: "{type(value).__name__}": {path} in body must be of type {kind}')]
    errors: list[Error] = []
    if isinstance(value, str):
        if "enum" in schema and value not in schema["enum"]:
            supported = ", ".join(f'"{v}"' for v in schema["enum"])
            errors.append((path, f'Unsupported value: "{value}": supported values: {supported}'))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(
                (path, f"Invalid value: \"{value}\": {path} in body should match '{schema['pattern']}'")
            )
        if len(value) > schema.get("maxLength", len(value)):
            errors.append((path, f"Too long: may not be longer than {schema['maxLength']}"))
        if len(value) < schema.get("minLength", 0):
            errors.append(
                (
                    path,
                    f'Invalid value: "{value}": {path} in body should be at least '
                    f"{schema['minLength']} chars long",
                )
            )
    if isinstance(value, int) and not isinstance(value, bool) and value < schema.get("minimum", value):
        errors.append(
            (
                path,
                f"Invalid value: {value}: {path} in body should be greater than or equal to "
                f"{schema['minimum']}",
            )
        )
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            errors.append((path, f"Too many: {len(value)}: must have at most {schema['maxItems']} items"))
        for index, item in enumerate(value):
            old_item = old[index] if isinstance(old, list) and index < len(old) else None
            errors += admit(item, schema["items"], f"{path}[{index}]", old_item)
    if isinstance(value, dict) and path != "metadata":
        properties = schema.get("properties")
        for key in schema.get("required", []):
            if key not in value:
                errors.append((_join(path, key), "Required value"))
        for key, item in value.items():
            old_item = old.get(key) if isinstance(old, dict) else None
            if properties is not None and key in properties:
                errors += admit(item, properties[key], _join(path, key), old_item)
            elif "additionalProperties" in schema:
                errors += admit(item, schema["additionalProperties"], _join(path, key), old_item)
            elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                errors.append((path, f'unknown field "{_join(path, key)}"'))
    if not errors:
        for validation in schema.get("x-kubernetes-validations", []):
            if "oldSelf" in validation["rule"] and old is None:
                continue
            if not _cel_holds(validation["rule"], value, old):
                errors.append((path, validation["message"]))
    return errors


def schema_of(kind: str) -> dict[str, Any]:
    definition = {"Workspace": WORKSPACE_CRD, "Machine": MACHINE_CRD}[kind]
    return openapi_schema(definition.model)


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


# --- checked in = generated ---------------------------------------------------------------------------------


def test_checked_in_crds_equal_the_generator_output() -> None:
    expected = {crd_filename(crd): render_yaml(crd) for crd in all_crds()}
    actual = {path.name: path.read_text() for path in CRD_DIR.glob("kaito.sh_*.yaml")}
    assert set(actual) == set(expected), (
        "run `make manifests` (kaito manifests crds) and commit manifests/crd/"
    )
    for name, text in expected.items():
        assert actual[name] == text, (
            f"manifests/crd/{name} drifted: run `make manifests` and commit the result"
        )


def test_rendering_is_stable_and_parses_back() -> None:
    for crd in all_crds():
        assert render_yaml(crd) == render_yaml(crd)
        assert yaml.safe_load(render_yaml(crd)) == crd
        assert "&id" not in render_yaml(crd)


# --- structural ---------------------------------------------------------------------------------------------


def structural_problems(schema: dict[str, Any], path: str = "<root>") -> list[str]:
    problems = [
        f"{path}: {key} is not allowed"
        for key in ("$ref", "anyOf", "oneOf", "allOf", "not", "nullable")
        if key in schema
    ]
    special = schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("x-kubernetes-int-or-string")
    if "type" not in schema and not special:
        problems.append(f"{path}: no type")
    if schema.get("x-kubernetes-preserve-unknown-fields") and schema.get("type") not in (None, "object"):
        problems.append(f"{path}: preserve-unknown-fields on a {schema['type']}")
    if "properties" in schema and "additionalProperties" in schema:
        problems.append(f"{path}: both properties and additionalProperties")
    if schema.get("type") == "array" and not isinstance(schema.get("items"), dict):
        problems.append(f"{path}: an array needs one items schema")
    for key, sub in (schema.get("properties") or {}).items():
        problems += structural_problems(sub, f"{path}.{key}")
    if isinstance(schema.get("additionalProperties"), dict):
        problems += structural_problems(schema["additionalProperties"], f"{path}.*")
    if isinstance(schema.get("items"), dict):
        problems += structural_problems(schema["items"], f"{path}[*]")
    for validation in schema.get("x-kubernetes-validations", []):
        if set(validation) != {"rule", "message"}:
            problems.append(f"{path}: validation needs a rule and a message")
        try:
            _CEL.compile(validation["rule"])
        except celpy.CELParseError as error:
            problems.append(f"{path}: rule {validation['rule']!r} does not compile: {error}")
    return problems


@pytest.mark.parametrize("crd", all_crds(), ids=crd_filename)
def test_crd_schema_is_structural(crd: dict[str, Any]) -> None:
    for version in crd["spec"]["versions"]:
        schema = version["schema"]["openAPIV3Schema"]
        assert structural_problems(schema) == [], version["name"]
        assert schema["properties"]["metadata"] == {"type": "object"}


def test_structural_check_catches_what_kubernetes_refuses() -> None:
    bad = {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}, "b": {"description": "x"}}}
    assert structural_problems(bad) == [
        "<root>.a: anyOf is not allowed",
        "<root>.a: no type",
        "<root>.b: no type",
    ]


@pytest.mark.parametrize("crd", all_crds(), ids=crd_filename)
def test_crd_serves_v1beta1_with_a_status_subresource(crd: dict[str, Any]) -> None:
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["spec"]["group"] == "kaito.sh"
    (version,) = [v for v in crd["spec"]["versions"] if v["storage"]]
    assert (version["name"], version["served"], version["storage"]) == ("v1beta1", True, True)
    assert version["subresources"] == {"status": {}}


def _version(crd: dict[str, Any], name: str) -> dict[str, Any]:
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == name]
    return dict(version)


def test_workspace_crd_serves_v1alpha1_converted_by_the_operators_webhook() -> None:
    crd = all_crds()[0]
    alpha = _version(crd, "v1alpha1")
    assert (alpha["served"], alpha["storage"]) == (True, False)
    assert [c["name"].upper() for c in alpha["additionalPrinterColumns"] if not c.get("priority")] == [
        "INSTANCE",
        "RESOURCEREADY",
        "INFERENCEREADY",
        "WORKSPACEREADY",
        "AGE",
    ]
    ready = alpha["additionalPrinterColumns"][3]
    assert ready["jsonPath"] == '.status.conditions[?(@.type=="WorkspaceSucceeded")].status'
    properties = alpha["schema"]["openAPIV3Schema"]["properties"]
    assert "targetNodeCount" not in properties["status"]["properties"]
    conversion = crd["spec"]["conversion"]
    assert conversion["strategy"] == "Webhook"
    assert conversion["webhook"]["conversionReviewVersions"] == ["v1"]
    assert conversion["webhook"]["clientConfig"]["service"] == {
        "name": "kaito-webhook-service",
        "namespace": "kaito-system",
        "path": "/convert",
        "port": 443,
    }
    assert "conversion" not in all_crds()[1]["spec"]
    assert crd["metadata"]["name"] == f"{crd['spec']['names']['plural']}.kaito.sh"


def test_workspace_crd_names_and_columns_match_kaito() -> None:
    crd = all_crds()[0]
    names = crd["spec"]["names"]
    assert crd["spec"]["scope"] == "Namespaced"
    assert (names["kind"], names["listKind"], names["plural"]) == ("Workspace", "WorkspaceList", "workspaces")
    assert {"ws", "wk", "wks", "wrksp"} <= set(names["shortNames"])
    assert "workspace" in names["categories"]
    columns = _version(crd, "v1beta1")["additionalPrinterColumns"]
    assert [c["name"].upper() for c in columns] == [
        "INSTANCE",
        "RESOURCEREADY",
        "INFERENCEREADY",
        "JOBSTARTED",
        "WORKSPACESUCCEEDED",
        "AGE",
    ]
    assert columns[0]["jsonPath"] == ".resource.instanceType"
    assert columns[1]["jsonPath"] == '.status.conditions[?(@.type=="ResourceReady")].status'
    assert columns[-1] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def test_machine_crd_is_cluster_scoped_with_its_columns() -> None:
    crd = all_crds()[1]
    assert crd["spec"]["scope"] == "Cluster"
    columns = crd["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"].upper() for c in columns] == ["INSTANCETYPE", "PROVISIONER", "NODE", "READY", "AGE"]
    assert columns[3]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'


def test_schema_marks_free_form_and_int_or_string_fields() -> None:
    workspace = schema_of("Workspace")["properties"]
    template = workspace["inference"]["properties"]["template"]
    assert template["type"] == "object" and template["x-kubernetes-preserve-unknown-fields"] is True
    machine = schema_of("Machine")["properties"]
    capacity = machine["status"]["properties"]["capacity"]
    assert capacity["additionalProperties"] == {"x-kubernetes-int-or-string": True}
    selector = workspace["resource"]["properties"]["labelSelector"]
    assert selector["x-kubernetes-map-type"] == "atomic"


# --- what the API server refuses ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_api_server_admits_every_sample(path: Path) -> None:
    assert admit(load(path), schema_of("Workspace")) == []


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c["refusedBy"] == "controller"))
def test_api_server_admits_what_only_the_controller_refuses(name: str) -> None:
    assert admit(load(INVALID / name), schema_of("Workspace")) == []


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c["refusedBy"] == "apiserver"))
def test_api_server_refuses_with_the_message(name: str) -> None:
    case = CASES[name]
    errors = admit(load(INVALID / name), schema_of("Workspace"))
    assert any(
        path == case["apiServerField"] and case["apiServerMessage"] in message for path, message in errors
    ), errors


def test_machine_spec_is_immutable_on_update_only() -> None:
    machine = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Machine",
        "metadata": {"name": "m"},
        "spec": {"instanceType": "Standard_NC6s_v3", "provisioner": "aks"},
    }
    schema = schema_of("Machine")
    assert admit(machine, schema) == []
    assert admit(machine, schema, old=machine) == []
    changed = {**machine, "spec": {"instanceType": "Standard_NC12s_v3", "provisioner": "aks"}}
    assert admit(changed, schema, old=machine) == [
        ("spec", "spec is immutable; delete the Machine and create a new one")
    ]
    with_status = {**machine, "status": {"nodeName": "n", "capacity": {"nvidia.com/gpu": 1, "memory": "1Gi"}}}
    assert admit(with_status, schema, old=machine) == []


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"instanceType": "x", "provisioner": "gke"}, ("spec.provisioner", 'Unsupported value: "gke"')),
        ({"provisioner": "aks"}, ("spec.instanceType", "Required value")),
        ({"instanceType": "x", "osDiskSizeGB": 0}, ("spec.osDiskSizeGB", "greater than or equal to 1")),
    ],
)
def test_api_server_refuses_bad_machines(spec: dict[str, Any], error: Error) -> None:
    machine = {"apiVersion": "kaito.sh/v1beta1", "kind": "Machine", "metadata": {"name": "m"}, "spec": spec}
    errors = admit(machine, schema_of("Machine"))
    assert any(path == error[0] and error[1] in message for path, message in errors), errors


def test_api_server_refuses_bad_conditions() -> None:
    workspace = load(SAMPLES[0])
    workspace["status"] = {
        "conditions": [
            {
                "type": "Ready",
                "status": "Yes",
                "lastTransitionTime": "2024-05-01T12:00:00Z",
                "reason": "bad reason",
                "message": "",
            }
        ]
    }
    errors = admit(workspace, schema_of("Workspace"))
    assert [path for path, _ in errors] == ["status.conditions[0].status", "status.conditions[0].reason"]
