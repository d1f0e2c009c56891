"""`validate()`: everything KAITO's admission webhook refuses in a Workspace, as a list of field-named errors.

The Workspace controller runs it on every reconcile and reports the result as a condition; the CLI runs it on
files. It re-checks the rules the CRD also enforces (in case the object never went through an API server, or
the server cannot evaluate CEL) and adds those a CRD cannot express:

- the preset name must be in the catalog: the catalog lives in `kaito.runtimes`, a layer above this one, so
  the caller passes the known names (`known_presets`); with None the name is not checked. An inference
  preset may also be a Hugging Face model id (`org/model`), as in KAITO: the controller sizes it from the
  hub's metadata;
- adapter source names unique and DNS subdomains; the Workspace name a DNS label (it names Services and pods);
- data URLs public http(s); image references parseable; label selector operators given the right values.

Messages reuse the CRD rules' wording (`kaito.api.rules`) and add the offending value and what is accepted.
Rules never stop at the first problem: the user gets every error at once. `check_workspace` is the convenience
for untrusted data: parse, then validate, raising InvalidObjectError if anything is wrong.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from kaito.api import names, rules
from kaito.api.errors import FieldError, InvalidObjectError, parse_object, render_value
from kaito.api.formats import (
    data_url_problem,
    dns_label_problem,
    dns_subdomain_problem,
    image_reference_problem,
    is_hf_model_id,
    is_strength,
)
from kaito.api.meta import LabelSelector
from kaito.api.partition import KNOWN_MIG_PROFILES, mig_profile_memory_gb
from kaito.api.workspace import (
    AdapterSpec,
    DataDestination,
    DataSource,
    InferenceSpec,
    PresetSpec,
    ResourceSpec,
    TuningSpec,
    Workspace,
)

__all__ = ["check_workspace", "validate"]

_EXAMPLE_IMAGE = "mcr.microsoft.com/aks/kaito/kaito-base:0.1.0"


def validate(
    workspace: Workspace,
    *,
    known_presets: Collection[str] | None = None,
    tunable_presets: Collection[str] | None = None,
) -> list[FieldError]:
    """Every reason the Workspace is invalid, in field order; empty when it is valid.

    `known_presets` are the preset names the operator can run (from `kaito.runtimes`); None skips that check.
    `tunable_presets` are those that can be fine-tuned; None means every known preset.
    """
    errors: list[FieldError] = []
    errors += _check_name(workspace)
    if workspace.inference is None and workspace.tuning is None:
        errors.append(FieldError("inference", rules.WORKSPACE_NOT_NEITHER.message))
    if workspace.inference is not None and workspace.tuning is not None:
        errors.append(FieldError("tuning", rules.WORKSPACE_NOT_BOTH.message))
    errors += _check_annotations(workspace)
    errors += _check_resource(workspace.resource, tuning=workspace.tuning is not None)
    if workspace.inference is not None:
        errors += _check_inference(workspace.inference, known_presets)
    if workspace.tuning is not None:
        tunable = tunable_presets if tunable_presets is not None else known_presets
        errors += _check_tuning(workspace.tuning, tunable)
    return errors


def check_workspace(
    data: Mapping[str, Any] | Workspace,
    *,
    known_presets: Collection[str] | None = None,
    tunable_presets: Collection[str] | None = None,
) -> Workspace:
    """Parse (when given wire data) and validate a Workspace; raises InvalidObjectError listing every
    problem."""
    workspace = data if isinstance(data, Workspace) else parse_object(Workspace, data)
    errors = validate(workspace, known_presets=known_presets, tunable_presets=tunable_presets)
    if errors:
        raise InvalidObjectError("Workspace", workspace.metadata.name, errors)
    return workspace


def _check_name(workspace: Workspace) -> list[FieldError]:
    name = workspace.metadata.name
    if name is None:
        if workspace.metadata.generate_name:
            return []
        return [FieldError("metadata.name", "required value is missing")]
    problem = dns_label_problem(name)
    if problem:
        return [
            FieldError(
                "metadata.name",
                f"{render_value(name)} is not a valid Workspace name: {problem} (it names Services and pods)",
            )
        ]
    return []


def _check_annotations(workspace: Workspace) -> list[FieldError]:
    family = (workspace.metadata.annotations or {}).get(names.ANNOTATION_NODE_IMAGE_FAMILY)
    if family is None or family.strip().lower() in names.NODE_IMAGE_FAMILIES:
        return []
    return [
        FieldError(
            f'metadata.annotations["{names.ANNOTATION_NODE_IMAGE_FAMILY}"]',
            f"unsupported node image family {render_value(family)}; supported values are "
            f"{', '.join(names.NODE_IMAGE_FAMILIES)}",
        )
    ]


def _check_resource(resource: ResourceSpec, *, tuning: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    selects_nodes = bool(resource.preferred_nodes) or not resource.label_selector.is_empty
    if not resource.instance_type and not selects_nodes:
        errors.append(FieldError("resource.instanceType", rules.INSTANCE_TYPE_OR_BYO.message))
    if tuning and resource.count is not None and resource.count != 1:
        errors.append(
            FieldError(
                "resource.count", f"{resource.count} nodes requested; {rules.TUNING_SINGLE_NODE.message}"
            )
        )
    errors += _check_selector("resource.labelSelector", resource.label_selector)
    if resource.partition is not None:
        errors += _check_partition(resource, tuning=tuning)
    return errors


def _check_partition(resource: ResourceSpec, *, tuning: bool) -> list[FieldError]:
    partition = resource.partition
    assert partition is not None
    path = "resource.partition"
    errors: list[FieldError] = []
    if tuning:
        errors.append(
            FieldError(path, "GPU partitioning is not supported for tuning; remove resource.partition")
        )
    if resource.instance_type:
        errors.append(
            FieldError(
                path,
                f"GPU partitioning needs bring-your-own nodes, but resource.instanceType is "
                f"{render_value(resource.instance_type)}; remove instanceType and select partitioned nodes "
                "with labelSelector",
            )
        )
    if partition.mode == "mig":
        if partition.count is not None:
            errors.append(FieldError(f"{path}.count", "count is only valid for accelerator mode; remove it"))
        if not partition.profile:
            errors.append(FieldError(f"{path}.profile", 'mig mode needs a profile such as "1g.10gb"'))
        elif partition.profile not in KNOWN_MIG_PROFILES or mig_profile_memory_gb(partition.profile) is None:
            errors.append(
                FieldError(
                    f"{path}.profile",
                    f"{render_value(partition.profile)} is not a known MIG profile; use one of "
                    f"{', '.join(sorted(KNOWN_MIG_PROFILES))}",
                )
            )
    else:
        if partition.profile:
            errors.append(
                FieldError(f"{path}.profile", "profile is not valid for accelerator mode; remove it")
            )
        if partition.count is None:
            errors.append(FieldError(f"{path}.count", "accelerator mode needs count, the whole GPUs to use"))
    return errors


def _check_selector(path: str, selector: LabelSelector) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, requirement in enumerate(selector.match_expressions or []):
        where = f"{path}.matchExpressions[{index}].values"
        if requirement.operator in ("In", "NotIn") and not requirement.values:
            errors.append(FieldError(where, f"operator {requirement.operator} needs at least one value"))
        if requirement.operator in ("Exists", "DoesNotExist") and requirement.values:
            errors.append(FieldError(where, f"operator {requirement.operator} takes no values; remove them"))
    return errors


def _check_preset(
    path: str, preset: PresetSpec, known_presets: Collection[str] | None, use: str
) -> list[FieldError]:
    errors: list[FieldError] = []
    hub_model = use == "inference" and is_hf_model_id(preset.name)
    if known_presets is not None and preset.name not in known_presets and not hub_model:
        supported = ", ".join(sorted(known_presets)) or "none"
        also = " or a Hugging Face model id (org/model)" if use == "inference" else ""
        errors.append(
            FieldError(
                f"{path}.name",
                f"{render_value(preset.name)} is not a supported {use} preset; "
                f"supported presets: {supported}{also}",
            )
        )
    if preset.preset_options is not None and preset.preset_options.image is not None:
        errors += _check_image(f"{path}.presetOptions.image", preset.preset_options.image)
    return errors


def _check_image(path: str, image: str) -> list[FieldError]:
    problem = image_reference_problem(image)
    if problem is None:
        return []
    return [
        FieldError(
            path,
            f"{render_value(image)} is not a valid image reference: {problem}; "
            f"write it like {_EXAMPLE_IMAGE}",
        )
    ]


def _check_inference(inference: InferenceSpec, known_presets: Collection[str] | None) -> list[FieldError]:
    errors: list[FieldError] = []
    if inference.preset is None and inference.template is None:
        errors.append(FieldError("inference", rules.INFERENCE_PRESET_OR_TEMPLATE.message))
    if inference.preset is not None and inference.template is not None:
        errors.append(FieldError("inference.template", rules.INFERENCE_NOT_BOTH.message))
    if inference.preset is not None:
        errors += _check_preset("inference.preset", inference.preset, known_presets, "inference")
    seen: dict[str, int] = {}
    for index, adapter in enumerate(inference.adapters or []):
        path = f"inference.adapters[{index}]"
        errors += _check_adapter(path, adapter)
        name = adapter.source.name
        if name:
            if name in seen:
                errors.append(
                    FieldError(
                        f"{path}.source.name",
                        f"{render_value(name)} is already the name of adapter {seen[name]}; "
                        "adapter names must be unique",
                    )
                )
            seen.setdefault(name, index)
    return errors


def _check_adapter(path: str, adapter: AdapterSpec) -> list[FieldError]:
    errors: list[FieldError] = []
    source = adapter.source
    if not source.name:
        errors.append(FieldError(f"{path}.source.name", rules.ADAPTER_NEEDS_NAME.message))
    else:
        problem = dns_subdomain_problem(source.name)
        if problem:
            errors.append(
                FieldError(
                    f"{path}.source.name",
                    f"{render_value(source.name)} is not a valid adapter name: {problem}",
                )
            )
    if not source.image and source.volume_source is None:
        errors.append(FieldError(f"{path}.source", rules.ADAPTER_NEEDS_IMAGE_OR_VOLUME.message))
    if source.image and source.volume_source is not None:
        errors.append(
            FieldError(
                f"{path}.source",
                "an adapter source takes an image or a volumeSource, not both; found both "
                f"(image {render_value(source.image)}); remove one",
            )
        )
    if source.urls:
        errors.append(FieldError(f"{path}.source.urls", rules.ADAPTER_NO_URLS.message))
    if source.image:
        errors += _check_image(f"{path}.source.image", source.image)
    if adapter.strength is not None and not is_strength(adapter.strength):
        errors.append(
            FieldError(
                f"{path}.strength",
                f"{render_value(adapter.strength)} is not a decimal number between 0 and 1; "
                'write one such as "0.5"',
            )
        )
    return errors


def _check_tuning(tuning: TuningSpec, known_presets: Collection[str] | None) -> list[FieldError]:
    errors = _check_preset("tuning.preset", tuning.preset, known_presets, "tuning")
    errors += _check_input(tuning.input)
    errors += _check_output(tuning.output)
    return errors


def _check_input(source: DataSource) -> list[FieldError]:
    errors: list[FieldError] = []
    given = [name for name, present in _input_sources(source).items() if present]
    if len(given) != 1:
        found = f"found {' and '.join(given)}" if given else "found none"
        errors.append(FieldError("tuning.input", f"{rules.TUNING_INPUT_ONE_SOURCE.message}; {found}"))
    for index, url in enumerate(source.urls or []):
        problem = data_url_problem(url)
        if problem:
            errors.append(
                FieldError(
                    f"tuning.input.urls[{index}]", f"{render_value(url)} is not a usable data URL: {problem}"
                )
            )
    if source.image:
        errors += _check_image("tuning.input.image", source.image)
    if source.name:
        problem = dns_subdomain_problem(source.name)
        if problem:
            errors.append(
                FieldError("tuning.input.name", f"{render_value(source.name)} is not a valid name: {problem}")
            )
    return errors


def _input_sources(source: DataSource) -> dict[str, bool]:
    return {
        "urls": bool(source.urls),
        "image": bool(source.image),
        "volumeSource": source.volume_source is not None,
    }


def _check_output(destination: DataDestination) -> list[FieldError]:
    errors: list[FieldError] = []
    has_image = bool(destination.image)
    if has_image == (destination.volume_source is not None):
        found = "found both" if has_image else "found neither"
        errors.append(FieldError("tuning.output", f"{rules.TUNING_OUTPUT_ONE_DESTINATION.message}; {found}"))
    if destination.image:
        errors += _check_image("tuning.output.image", destination.image)
        if not destination.image_push_secret:
            errors.append(
                FieldError("tuning.output.imagePushSecret", rules.TUNING_OUTPUT_NEEDS_PUSH_SECRET.message)
            )
    return errors
