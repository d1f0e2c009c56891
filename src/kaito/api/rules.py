"""The cross-field rules the API server enforces through the CRDs' `x-kubernetes-validations` (CEL).

Each rule is written once, here, with the message the API server returns when it fails. The models attach them
to their CRD schema (`CelRule.schema`), and `kaito.api.validation` reports the same message for the same
mistake, so a user sees one wording whether the API server or the controller catches it.

Rules are written for the CEL subset that both kube-apiserver and cel-python evaluate: `has()`, `size()`,
`matches()`, comparisons, `?:`. Regexes come from `kaito.api.formats` and contain no backslashes. Every rule
guards its optional fields with `has()`, so it never fails with "no such key" on a valid object. String fields
checked with `matches()` carry a `maxLength`, which keeps the API server's CEL cost estimate within budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import JsonValue

from kaito.api.formats import IMAGE_REFERENCE_PATTERN, STRENGTH_PATTERN

__all__ = [
    "ADAPTER_NEEDS_IMAGE_OR_VOLUME",
    "ADAPTER_NEEDS_NAME",
    "ADAPTER_NO_URLS",
    "IMAGE_REFERENCE",
    "INFERENCE_NOT_BOTH",
    "INFERENCE_PRESET_OR_TEMPLATE",
    "INSTANCE_TYPE_OR_BYO",
    "MACHINE_SPEC_IMMUTABLE",
    "STRENGTH_RANGE",
    "TUNING_INPUT_ONE_SOURCE",
    "TUNING_OUTPUT_NEEDS_PUSH_SECRET",
    "TUNING_OUTPUT_ONE_DESTINATION",
    "TUNING_SINGLE_NODE",
    "WORKSPACE_NOT_BOTH",
    "WORKSPACE_NOT_NEITHER",
    "CelRule",
    "validations",
]


JsonDict = dict[str, JsonValue]


@dataclass(frozen=True)
class CelRule:
    """A CEL validation rule and the message the API server returns when it evaluates to false."""

    rule: str
    message: str

    def schema(self) -> JsonDict:
        """The rule as an entry of `x-kubernetes-validations`."""
        return {"rule": self.rule, "message": self.message}


def validations(*items: CelRule) -> JsonDict:
    """The `json_schema_extra` that attaches `items` to a model or a field of the CRD schema."""
    entries: list[JsonValue] = [item.schema() for item in items]
    return {"x-kubernetes-validations": entries}


def _non_empty(path: str) -> str:
    return f"(has(self.{path}) && size(self.{path}) > 0)"


# On the Workspace root.
WORKSPACE_NOT_NEITHER = CelRule(
    "has(self.inference) || has(self.tuning)",
    "either inference or tuning must be specified, not neither",
)
WORKSPACE_NOT_BOTH = CelRule(
    "!(has(self.inference) && has(self.tuning))",
    "either inference or tuning must be specified, but not both",
)
TUNING_SINGLE_NODE = CelRule(
    "!has(self.tuning) || !has(self.resource) || !has(self.resource.count) || self.resource.count == 1",
    "tuning runs on a single node; set resource.count to 1 or leave it out",
)

# On `resource`.
INSTANCE_TYPE_OR_BYO = CelRule(
    f"{_non_empty('instanceType')} || {_non_empty('preferredNodes')} || (has(self.labelSelector) && "
    f"({_non_empty('labelSelector.matchLabels')} || {_non_empty('labelSelector.matchExpressions')}))",
    "instanceType is required unless labelSelector or preferredNodes select existing nodes (bring your own); "
    "set it to a GPU SKU such as Standard_NC6s_v3",
)

# On `inference`.
INFERENCE_PRESET_OR_TEMPLATE = CelRule(
    "has(self.preset) || has(self.template)",
    "preset or template must be specified",
)
INFERENCE_NOT_BOTH = CelRule(
    "!(has(self.preset) && has(self.template))",
    "preset and template cannot be set at the same time",
)

# On each item of `inference.adapters`.
ADAPTER_NEEDS_NAME = CelRule(
    _non_empty("source.name"),
    "an adapter source needs a name",
)
ADAPTER_NEEDS_IMAGE_OR_VOLUME = CelRule(
    f"{_non_empty('source.image')} || has(self.source.volumeSource)",
    "an adapter source needs an image or a volumeSource",
)
ADAPTER_NO_URLS = CelRule(
    "!has(self.source.urls) || size(self.source.urls) == 0",
    "urls are not supported as an adapter source; use an image or a volumeSource",
)

# On `tuning.input` and `tuning.output`.
TUNING_INPUT_ONE_SOURCE = CelRule(
    f"({_non_empty('urls')} ? 1 : 0) + ({_non_empty('image')} ? 1 : 0) "
    "+ (has(self.volumeSource) ? 1 : 0) == 1",
    "exactly one of urls, image or volumeSource must be specified",
)
TUNING_OUTPUT_ONE_DESTINATION = CelRule(
    f"{_non_empty('image')} != has(self.volumeSource)",
    "exactly one of image or volumeSource must be specified",
)
TUNING_OUTPUT_NEEDS_PUSH_SECRET = CelRule(
    f"!{_non_empty('image')} || {_non_empty('imagePushSecret')}",
    "an output image needs imagePushSecret, the secret used to push it",
)

# On string fields.
IMAGE_REFERENCE = CelRule(
    f"self.matches('{IMAGE_REFERENCE_PATTERN}')",
    "must be an image reference such as mcr.microsoft.com/aks/kaito/kaito-base:0.1.0 "
    "(lowercase repository, optional :tag or @digest)",
)
STRENGTH_RANGE = CelRule(
    f"self.matches('{STRENGTH_PATTERN}')",
    'strength must be a decimal number between 0 and 1, such as "0.5"',
)

# On the Machine's spec: a Machine is one node request; changing it means asking for another node.
MACHINE_SPEC_IMMUTABLE = CelRule(
    "self == oldSelf",
    "spec is immutable; delete the Machine and create a new one",
)
