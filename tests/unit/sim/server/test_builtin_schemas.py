"""Built-in schemas from the compact table."""

from __future__ import annotations

import pytest

from kaito.sim.server.builtin_schemas import FIELDS, builtin_definitions, builtin_schema


def test_a_table_row_becomes_a_nested_typed_schema() -> None:
    schema = builtin_schema("networking.k8s.io", "Ingress")
    rules = schema["properties"]["spec"]["properties"]["rules"]
    assert rules["type"] == "array"
    paths = rules["items"]["properties"]["http"]["properties"]["paths"]
    port = paths["items"]["properties"]["backend"]["properties"]["service"]["properties"]["port"]
    assert port["properties"]["number"] == {
        "type": "integer",
        "description": "Ingress.spec.rules.http.paths.backend.service.port.number",
    }


def test_quantities_are_int_or_string_and_objects_keep_unlisted_fields() -> None:
    spec = builtin_schema("", "PersistentVolumeClaim")["properties"]["spec"]
    assert spec["x-kubernetes-preserve-unknown-fields"] is True
    requests = spec["properties"]["resources"]["properties"]["requests"]
    assert requests["additionalProperties"]["x-kubernetes-int-or-string"] is True


@pytest.mark.parametrize(("group", "kind"), sorted(FIELDS))
def test_every_node_of_every_table_schema_is_typed(group: str, kind: str) -> None:
    def walk(node: dict[str, object], where: str) -> None:
        assert "type" in node or node.get("x-kubernetes-int-or-string"), where
        for name, child in (node.get("properties") or {}).items():  # type: ignore[attr-defined]
            walk(child, f"{where}.{name}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                walk(node[key], f"{where}[{key}]")  # type: ignore[arg-type]

    walk(builtin_schema(group, kind), kind)


def test_kinds_without_a_row_get_a_skeleton_and_v2_has_no_any_of() -> None:
    assert set(builtin_schema("apps", "Deployment")["properties"]) == {
        "apiVersion",
        "kind",
        "metadata",
        "spec",
        "status",
    }
    (definition,) = builtin_definitions([("policy", "v1", "PodDisruptionBudget")]).values()
    assert definition["properties"]["spec"]["properties"]["minAvailable"]["format"] == "int-or-string"
    assert "anyOf" not in str(definition)
