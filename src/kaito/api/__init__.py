"""kaito.api: the typed API of kaito-py, the Workspace and Machine kinds (kaito.sh/v1beta1).

Modules, lowest first (each imports only those above it):

- `names`: group, version, kinds, condition types, labels and finalizers, spelt as KAITO spells them.
- `base`: `ApiModel` (camelCase wire, snake_case Python, strict, unknown fields refused) and `Time`.
- `meta`: ObjectMeta, OwnerReference, ListMeta, LabelSelector.
- `conditions`: metav1.Condition and the set/find/remove helpers.
- `formats`: image references, DNS names, adapter strengths, data URLs.
- `rules`: the CEL rules the CRDs carry, with their messages.
- `errors`: FieldError and InvalidObjectError; parsing with field-named errors.
- `partition`: GPU partitions (MIG profiles, whole-GPU accelerator counts) a Workspace may ask for.
- `workspace`, `machine`: the two kinds; `inferenceset`: replicas of a Workspace template (v1alpha1/v1beta1);
  `multiroleinference`: prefill/decode roles, each an InferenceSet.
- `validation`: `validate()`, what the controller checks before acting on a Workspace.
- `v1alpha1`: the Workspace as KAITO first served it (served, converted, never stored).
- `conversion`: v1alpha1 <-> v1beta1, lossless both ways (the `/convert` webhook's logic).
- `crd`: CustomResourceDefinitions generated from the models.

Every public name of every module is re-exported here (each defined in its module's `__all__`), loaded on
first use: `import kaito.api` imports no module; `kaito.api.Workspace` imports `workspace` and what it needs.
This package imports nothing from the rest of kaito: runtimes, provisioners and controllers build on it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see; at run time each name loads from its module on first use
    from kaito.api.base import *  # noqa: F403
    from kaito.api.conditions import *  # noqa: F403
    from kaito.api.conversion import *  # noqa: F403
    from kaito.api.crd import *  # noqa: F403
    from kaito.api.errors import *  # noqa: F403
    from kaito.api.formats import *  # noqa: F403
    from kaito.api.inferenceset import *  # noqa: F403
    from kaito.api.machine import *  # noqa: F403
    from kaito.api.meta import *  # noqa: F403
    from kaito.api.multiroleinference import *  # noqa: F403
    from kaito.api.names import *  # noqa: F403
    from kaito.api.partition import *  # noqa: F403
    from kaito.api.rules import *  # noqa: F403
    from kaito.api.v1alpha1 import *  # noqa: F403
    from kaito.api.validation import *  # noqa: F403
    from kaito.api.workspace import *  # noqa: F403

# Each public name and the module that defines it (its module's `__all__` is the source of truth; a test
# checks the two agree). `import kaito.api` loads none of them; `kaito.api.Name` loads one module.
_EXPORTS = {
    "ADAPTER_NEEDS_IMAGE_OR_VOLUME": "rules",
    "ADAPTER_NEEDS_NAME": "rules",
    "ADAPTER_NO_URLS": "rules",
    "ANNOTATION_BYPASS_RESOURCE_CHECKS": "names",
    "ANNOTATION_ENABLE_LB": "names",
    "ANNOTATION_NODE_IMAGE_FAMILY": "names",
    "ANNOTATION_RUNTIME": "names",
    "API_GROUP": "names",
    "API_VERSION": "names",
    "AdapterSpec": "workspace",
    "ApiModel": "base",
    "CONDITION_FALSE": "conditions",
    "CONDITION_INFERENCE_READY": "names",
    "CONDITION_JOB_STARTED": "names",
    "CONDITION_NODE_CLAIM_READY": "names",
    "CONDITION_RESOURCE_READY": "names",
    "CONDITION_TRUE": "conditions",
    "CONDITION_UNKNOWN": "conditions",
    "CONDITION_WORKSPACE_DELETING": "names",
    "CONDITION_WORKSPACE_SUCCEEDED": "names",
    "CONVERSION_ANNOTATION": "conversion",
    "CelRule": "rules",
    "Condition": "conditions",
    "ConditionStatus": "conditions",
    "ConversionError": "conversion",
    "ConversionWebhook": "crd",
    "CrdDefinition": "crd",
    "DNS_LABEL_PATTERN": "formats",
    "DNS_SUBDOMAIN_PATTERN": "formats",
    "DataDestination": "workspace",
    "DataSource": "workspace",
    "FINALIZER_MACHINE_CLEANUP": "names",
    "FINALIZER_WORKSPACE_CLEANUP": "names",
    "FieldError": "errors",
    "FreeForm": "base",
    "GPU_TAINT_EFFECT": "names",
    "GPU_TAINT_KEY": "names",
    "GPU_TAINT_VALUE": "names",
    "HF_MODEL_ID_PATTERN": "formats",
    "IMAGE_REFERENCE": "rules",
    "IMAGE_REFERENCE_PATTERN": "formats",
    "INFERENCESET_API_VERSIONS": "inferenceset",
    "INFERENCESET_CRD": "crd",
    "INFERENCESET_STORAGE_VERSION": "inferenceset",
    "INFERENCE_NOT_BOTH": "rules",
    "INFERENCE_PRESET_OR_TEMPLATE": "rules",
    "INSTANCE_TYPE_OR_BYO": "rules",
    "InferenceSet": "inferenceset",
    "InferenceSetList": "inferenceset",
    "InferenceSetResource": "inferenceset",
    "InferenceSetSpec": "inferenceset",
    "InferenceSetStatus": "inferenceset",
    "InferenceSetTemplate": "inferenceset",
    "InferenceSpec": "workspace",
    "InvalidObjectError": "errors",
    "KEDA_ANNOTATION_AUTO_PROVISION": "inferenceset",
    "KEDA_ANNOTATION_MAX_REPLICAS": "inferenceset",
    "KEDA_ANNOTATION_METRIC_NAME": "inferenceset",
    "KEDA_ANNOTATION_MIN_REPLICAS": "inferenceset",
    "KEDA_ANNOTATION_THRESHOLD": "inferenceset",
    "KIND_INFERENCESET": "inferenceset",
    "KIND_MACHINE": "names",
    "KIND_MULTIROLEINFERENCE": "multiroleinference",
    "KIND_WORKSPACE": "names",
    "KNOWN_MIG_PROFILES": "partition",
    "LABEL_INFERENCESET": "inferenceset",
    "LABEL_MACHINE": "names",
    "LABEL_MACHINE_TYPE": "names",
    "LABEL_WORKSPACE": "names",
    "LABEL_WORKSPACE_NAMESPACE": "names",
    "LabelSelector": "meta",
    "LabelSelectorRequirement": "meta",
    "ListMeta": "meta",
    "MACHINE_CONDITION_INITIALIZED": "names",
    "MACHINE_CONDITION_LAUNCHED": "names",
    "MACHINE_CONDITION_READY": "names",
    "MACHINE_CONDITION_REGISTERED": "names",
    "MACHINE_CONDITION_TYPES": "names",
    "MACHINE_CRD": "crd",
    "MACHINE_SPEC_IMMUTABLE": "rules",
    "MAX_ADAPTERS": "workspace",
    "MIG_RESOURCE_PREFIX": "partition",
    "MULTIROLEINFERENCE_CRD": "crd",
    "Machine": "machine",
    "MachineList": "machine",
    "MachineSpec": "machine",
    "MachineStatus": "machine",
    "MultiRoleInference": "multiroleinference",
    "MultiRoleInferenceList": "multiroleinference",
    "MultiRoleInferenceModel": "multiroleinference",
    "MultiRoleInferenceRole": "multiroleinference",
    "MultiRoleInferenceSpec": "multiroleinference",
    "MultiRoleInferenceStatus": "multiroleinference",
    "NODE_IMAGE_FAMILIES": "names",
    "OPERATOR_NAMESPACE": "names",
    "ObjectMeta": "meta",
    "OwnerReference": "meta",
    "PLURAL_INFERENCESETS": "inferenceset",
    "PLURAL_MACHINES": "names",
    "PLURAL_MULTIROLEINFERENCES": "multiroleinference",
    "PLURAL_WORKSPACES": "names",
    "PROVISIONER_AKS": "names",
    "PROVISIONER_KARPENTER": "names",
    "PartitionMode": "partition",
    "PartitionSpec": "partition",
    "PresetOptions": "workspace",
    "PresetSpec": "workspace",
    "PrinterColumn": "crd",
    "ProvisionerName": "machine",
    "Quantity": "base",
    "REASON_AWAITING_RECONCILIATION": "names",
    "ResourceSpec": "workspace",
    "STATE_FAILED": "names",
    "STATE_NOT_READY": "names",
    "STATE_PENDING": "names",
    "STATE_READY": "names",
    "STATE_RUNNING": "names",
    "STATE_SUCCEEDED": "names",
    "STRENGTH_PATTERN": "formats",
    "STRENGTH_RANGE": "rules",
    "ServedVersion": "crd",
    "TUNING_INPUT_ONE_SOURCE": "rules",
    "TUNING_OUTPUT_NEEDS_PUSH_SECRET": "rules",
    "TUNING_OUTPUT_ONE_DESTINATION": "rules",
    "TUNING_SINGLE_NODE": "rules",
    "Taint": "machine",
    "Time": "base",
    "TuningMethod": "workspace",
    "TuningSpec": "workspace",
    "V1ALPHA1": "v1alpha1",
    "V1ALPHA1_API_VERSION": "v1alpha1",
    "V1Alpha1InferenceSpec": "v1alpha1",
    "V1Alpha1PresetOptions": "v1alpha1",
    "V1Alpha1PresetSpec": "v1alpha1",
    "V1Alpha1TuningSpec": "v1alpha1",
    "V1Alpha1Workspace": "v1alpha1",
    "V1Alpha1WorkspaceStatus": "v1alpha1",
    "V1BETA1_ONLY_FIELDS": "conversion",
    "VERSION": "names",
    "WEBHOOK_CERT_SECRET": "names",
    "WEBHOOK_CONFIGURATION": "names",
    "WEBHOOK_CONVERT_PATH": "names",
    "WEBHOOK_SERVICE_NAME": "names",
    "WEBHOOK_VALIDATE_PATH": "names",
    "WORKSPACE_CONDITION_TYPES": "names",
    "WORKSPACE_CRD": "crd",
    "WORKSPACE_NOT_BOTH": "rules",
    "WORKSPACE_NOT_NEITHER": "rules",
    "Workspace": "workspace",
    "WorkspaceList": "workspace",
    "WorkspaceReference": "machine",
    "WorkspaceState": "workspace",
    "WorkspaceStatus": "workspace",
    "all_crds": "crd",
    "check_workspace": "validation",
    "condition_status": "conditions",
    "controller_reference": "meta",
    "convert_workspace": "conversion",
    "crd_filename": "crd",
    "custom_resource_definition": "crd",
    "data_url_problem": "formats",
    "dns_label_problem": "formats",
    "dns_subdomain_problem": "formats",
    "field_errors_from_pydantic": "errors",
    "find_condition": "conditions",
    "format_time": "base",
    "image_reference_problem": "formats",
    "is_condition_true": "conditions",
    "is_hf_model_id": "formats",
    "is_image_reference": "formats",
    "is_strength": "formats",
    "mig_profile_memory_gb": "partition",
    "openapi_schema": "crd",
    "parse_object": "errors",
    "parse_time": "base",
    "remove_condition": "conditions",
    "render_value": "errors",
    "render_yaml": "crd",
    "set_condition": "conditions",
    "to_v1alpha1": "conversion",
    "to_v1beta1": "conversion",
    "validate": "validation",
    "validations": "rules",
    "write_crds": "crd",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562) and keep it in the package namespace."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
