"""validate(): each rejection of KAITO's webhook, with its field-named message; the samples pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito.api.errors import FieldError, InvalidObjectError
from kaito.api.validation import check_workspace, validate
from kaito.api.workspace import Workspace

ROOT = Path(__file__).parents[3]
INVALID = ROOT / "tests" / "data" / "invalid"
CASES: dict[str, dict[str, str]] = yaml.safe_load((INVALID / "cases.yaml").read_text())["cases"]
SAMPLES = sorted((ROOT / "manifests" / "samples").glob("workspace-*.yaml"))
# Stands in for the runtimes catalog, which lives in a layer above kaito.api.
KNOWN_PRESETS = frozenset({"phi-3-mini-4k-instruct", "llama-3.3-70b-instruct"})


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def test_every_invalid_file_has_a_case_and_every_case_a_file() -> None:
    files = {str(p.relative_to(INVALID)) for p in INVALID.glob("*/*.yaml")}
    assert files == set(CASES)
    assert {case["refusedBy"] for case in CASES.values()} == {"apiserver", "controller"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_invalid_workspace_is_refused_with_a_field_named_sentence(name: str) -> None:
    case = CASES[name]
    with pytest.raises(InvalidObjectError) as raised:
        check_workspace(load(INVALID / name), known_presets=KNOWN_PRESETS)
    matching = [e for e in raised.value.errors if e.field == case["field"] and case["message"] in e.message]
    assert matching, raised.value.sentences()
    sentence = str(matching[0])
    assert sentence.startswith(f"{case['field']}: ") and sentence.endswith(".")
    assert str(raised.value).startswith('Workspace "')


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c["refusedBy"] == "controller"))
def test_controller_cases_parse_and_only_validate_refuses_them(name: str) -> None:
    workspace = Workspace.model_validate(load(INVALID / name))
    assert validate(workspace, known_presets=KNOWN_PRESETS)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_samples_are_valid(path: Path) -> None:
    workspace = check_workspace(load(path), known_presets=KNOWN_PRESETS)
    assert validate(workspace, known_presets=KNOWN_PRESETS) == []


def test_preset_names_are_not_checked_without_a_catalog() -> None:
    workspace = Workspace.model_validate(load(INVALID / "controller" / "unknown-inference-preset.yaml"))
    assert validate(workspace) == []
    assert validate(workspace, known_presets=KNOWN_PRESETS) == [
        FieldError(
            "inference.preset.name",
            '"no-such-model-7b" is not a supported inference preset; '
            "supported presets: llama-3.3-70b-instruct, phi-3-mini-4k-instruct "
            "or a Hugging Face model id (org/model)",
        )
    ]


@pytest.mark.parametrize(
    ("name", "use", "accepted"),
    [
        ("Qwen/Qwen2.5-7B-Instruct", "inference", True),
        ("meta-llama/Llama-3.2-1B-Instruct", "inference", True),
        ("org/model/extra", "inference", False),
        ("/model", "inference", False),
        ("Qwen/Qwen2.5-7B-Instruct", "tuning", False),
    ],
)
def test_hugging_face_ids_are_inference_presets(name: str, use: str, accepted: bool) -> None:
    body = load(INVALID / "controller" / "unknown-inference-preset.yaml")
    if use == "tuning":
        body.pop("inference")
        body["tuning"] = {
            "preset": {"name": name},
            "method": "qlora",
            "input": {"urls": ["https://example.com/data.parquet"]},
            "output": {"image": "myregistry.azurecr.io/out:1", "imagePushSecret": "push"},
        }
    else:
        body["inference"]["preset"]["name"] = name
    errors = validate(Workspace.model_validate(body), known_presets=KNOWN_PRESETS)
    assert (errors == []) is accepted


def test_tuning_presets_can_be_narrower_than_the_catalog() -> None:
    workspace = Workspace.model_validate(load(ROOT / "manifests" / "samples" / "workspace-tuning-phi-3.yaml"))
    assert validate(workspace, known_presets=KNOWN_PRESETS) == []
    errors = validate(workspace, known_presets=KNOWN_PRESETS, tunable_presets={"falcon-7b"})
    assert [str(e) for e in errors] == [
        'tuning.preset.name: "phi-3-mini-4k-instruct" is not a supported tuning preset; '
        "supported presets: falcon-7b."
    ]


def test_every_problem_is_reported_at_once() -> None:
    data = load(SAMPLES[0])
    data["metadata"]["name"] = "Bad_Name"
    data["inference"]["adapters"] = [
        {"source": {"name": "a", "urls": ["https://x.io/a"]}, "strength": "2"},
    ]
    errors = validate(Workspace.model_validate(data), known_presets=KNOWN_PRESETS)
    assert [e.field for e in errors] == [
        "metadata.name",
        "inference.adapters[0].source",
        "inference.adapters[0].source.urls",
        "inference.adapters[0].strength",
    ]


def test_an_adapter_from_both_an_image_and_a_volume_is_refused() -> None:
    data = load(SAMPLES[0])
    data["inference"]["adapters"] = [
        {"source": {"name": "a", "image": "acr.io/a:1", "volumeSource": {"emptyDir": {}}}},
        {"source": {"name": "b", "volumeSource": {"persistentVolumeClaim": {"claimName": "b"}}}},
    ]
    errors = validate(Workspace.model_validate(data), known_presets=KNOWN_PRESETS)
    assert [str(e) for e in errors] == [
        "inference.adapters[0].source: an adapter source takes an image or a volumeSource, not both; found "
        'both (image "acr.io/a:1"); remove one.'
    ]


def test_check_workspace_accepts_a_model_and_returns_it() -> None:
    workspace = Workspace.model_validate(load(SAMPLES[0]))
    assert check_workspace(workspace) is workspace


def test_generate_name_stands_in_for_a_name() -> None:
    data = load(SAMPLES[0])
    data["metadata"] = {"generateName": "phi-"}
    assert validate(Workspace.model_validate(data)) == []
    data["metadata"] = {}
    assert validate(Workspace.model_validate(data)) == [
        FieldError("metadata.name", "required value is missing")
    ]


@pytest.mark.parametrize(
    ("image_field", "path"),
    [
        (("inference", "preset", "presetOptions", "image"), "inference.preset.presetOptions.image"),
        (("tuning", "input", "image"), "tuning.input.image"),
    ],
)
def test_every_image_field_is_checked(image_field: tuple[str, ...], path: str) -> None:
    if image_field[0] == "tuning":
        data = load(ROOT / "manifests" / "samples" / "workspace-tuning-phi-3.yaml")
        del data["tuning"]["input"]["urls"]
    else:
        data = load(SAMPLES[0])
    node = data
    for key in image_field[:-1]:
        node = node.setdefault(key, {})
    node[image_field[-1]] = "Not An Image"
    errors = validate(Workspace.model_validate(data))
    assert [e.field for e in errors] == [path]
    assert '"Not An Image" is not a valid image reference' in errors[0].message


def test_data_source_name_for_tuning_must_be_a_dns_subdomain() -> None:
    data = load(ROOT / "manifests" / "samples" / "workspace-tuning-phi-3.yaml")
    data["tuning"]["input"]["name"] = "Dolly Data"
    errors = validate(Workspace.model_validate(data))
    assert [e.field for e in errors] == ["tuning.input.name"]


def test_selector_exists_with_values_is_refused() -> None:
    data = load(SAMPLES[0])
    data["resource"]["labelSelector"] = {
        "matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]
    }
    errors = validate(Workspace.model_validate(data))
    assert errors == [
        FieldError(
            "resource.labelSelector.matchExpressions[0].values",
            "operator Exists takes no values; remove them",
        )
    ]


def test_output_with_both_destinations() -> None:
    data = load(ROOT / "manifests" / "samples" / "workspace-tuning-phi-3.yaml")
    data["tuning"]["output"]["volumeSource"] = {"emptyDir": {}}
    errors = validate(Workspace.model_validate(data))
    assert [str(e) for e in errors] == [
        "tuning.output: exactly one of image or volumeSource must be specified; found both."
    ]


def _partitioned(partition: dict[str, Any], **resource: Any) -> Workspace:
    return Workspace.model_validate(
        {
            "metadata": {"name": "ws", "namespace": "default"},
            "resource": {"labelSelector": {"matchLabels": {"a": "b"}}, "partition": partition, **resource},
            "inference": {"preset": {"name": "phi-4-mini-instruct"}},
        }
    )


@pytest.mark.parametrize(
    ("partition", "resource", "errors"),
    [
        ({"mode": "mig", "profile": "2g.24gb"}, {}, []),
        ({"mode": "accelerator", "count": 2}, {}, []),
        (
            {"mode": "mig", "profile": "2g.25gb"},
            {},
            [("resource.partition.profile", '"2g.25gb" is not a known MIG profile; use one of 1g.10gb, ')],
        ),
        (
            {"mode": "mig", "profile": "1g.10gb", "count": 1},
            {},
            [("resource.partition.count", "count is only valid for accelerator mode; remove it")],
        ),
        ({"mode": "accelerator"}, {}, [("resource.partition.count", "accelerator mode needs count")]),
        (
            {"mode": "accelerator", "count": 2, "profile": "1g.10gb"},
            {},
            [("resource.partition.profile", "profile is not valid for accelerator mode")],
        ),
        (
            {"mode": "mig", "profile": "1g.10gb"},
            {"instanceType": "Standard_NC24ads_A100_v4"},
            [
                (
                    "resource.partition",
                    "GPU partitioning needs bring-your-own nodes, but resource.instanceType is",
                )
            ],
        ),
    ],
)
def test_partitions_as_kaito_validates_them(
    partition: dict[str, Any], resource: dict[str, Any], errors: list[tuple[str, str]]
) -> None:
    found = validate(_partitioned(partition, **resource))
    assert [e.field for e in found] == [field for field, _ in errors]
    for error, (_, fragment) in zip(found, errors, strict=True):
        assert fragment in error.message


@pytest.mark.parametrize(
    ("family", "accepted"), [("ubuntu", True), (" AzureLinux ", True), ("CustomLinux", False)]
)
def test_node_image_family_annotation_as_kaito_accepts_it(family: str, accepted: bool) -> None:
    body = load(INVALID / "controller" / "unknown-inference-preset.yaml")
    body["metadata"]["annotations"] = {"kaito.sh/node-image-family": family}
    body["inference"]["preset"]["name"] = "phi-3-mini-4k-instruct"
    errors = validate(Workspace.model_validate(body), known_presets=KNOWN_PRESETS)
    if accepted:
        assert errors == []
    else:
        assert [str(e) for e in errors] == [
            'metadata.annotations["kaito.sh/node-image-family"]: unsupported node image family '
            '"CustomLinux"; supported values are azurelinux, ubuntu.'
        ]
