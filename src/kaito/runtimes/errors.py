"""Errors raised by kaito.runtimes, all in one hierarchy so callers can catch the family or one kind.

    RuntimesError                    base; str(error) is a sentence a user can act on
    ├── UnknownPresetError           preset name not in the catalog (with "did you mean")
    ├── UnknownSkuError              instance type not in the SKU catalog (with "did you mean")
    ├── NodeLabelError               a BYO node lacks (or garbles) an NVIDIA GPU feature-discovery label
    ├── InferenceConfigError         the user's inference_config.yaml is wrong: unknown, conflicting or
    │                                ill-typed keys, each reported by name (`problems` lists them all)
    ├── UnsizableModelError          a Hugging Face model's metadata lacks what sizing needs (named)
    ├── UnsupportedRequestError      the chosen runtime cannot do what the workspace asks (adapters on a
    │                                model without LoRA, a gated model without an access secret, ...)
    └── SizingRefusal                the model cannot be served on this instance type as asked
        ├── UnsupportedDtypeError    the GPU lacks every dtype the model may be served in
        ├── GpuTooSmallError         even one layer's share plus the fixed overhead does not fit a GPU
        ├── CannotSplitError         the model needs several nodes but cannot be split across nodes
        └── NotEnoughNodesError      the model needs more nodes than the caller allows

Refusals carry the figures they were computed from (`needed_gib`, `min_nodes`, `suggestion`) so a caller
(status conditions, `kaito plan`) can show them without parsing the sentence.
"""

from __future__ import annotations

__all__ = [
    "CannotSplitError",
    "GpuTooSmallError",
    "InferenceConfigError",
    "NodeLabelError",
    "NotEnoughNodesError",
    "RuntimesError",
    "SizingRefusal",
    "UnknownPresetError",
    "UnknownSkuError",
    "UnsizableModelError",
    "UnsupportedDtypeError",
    "UnsupportedRequestError",
]


class RuntimesError(Exception):
    """Base of every error kaito.runtimes raises; the message is a complete sentence."""


class UnknownPresetError(RuntimesError, LookupError):
    """The preset name is not in the catalog."""

    def __init__(self, message: str, name: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.name = name
        self.suggestions = suggestions


class UnknownSkuError(RuntimesError, LookupError):
    """The instance type is not in the SKU catalog."""

    def __init__(self, message: str, name: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.name = name
        self.suggestions = suggestions


class NodeLabelError(RuntimesError, ValueError):
    """A node's GPU feature-discovery labels are missing or malformed."""


class InferenceConfigError(RuntimesError, ValueError):
    """The user's inference configuration is invalid; `problems` holds one sentence per bad key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


class UnsizableModelError(RuntimesError, ValueError):
    """A Hugging Face model's config.json or weight listing lacks a figure sizing needs."""


class UnsupportedRequestError(RuntimesError, ValueError):
    """The runtime cannot serve the workspace as asked."""


class SizingRefusal(RuntimesError):
    """The model cannot be served on this instance type as asked."""

    def __init__(
        self,
        message: str,
        *,
        needed_gib: float | None = None,
        min_nodes: int | None = None,
        suggestion: str | None = None,
    ) -> None:
        super().__init__(message)
        self.needed_gib = needed_gib
        self.min_nodes = min_nodes
        self.suggestion = suggestion


class UnsupportedDtypeError(SizingRefusal):
    """The GPU supports none of the dtypes the model may be served in."""


class GpuTooSmallError(SizingRefusal):
    """The GPU cannot hold even the smallest share of the model plus the fixed overhead."""


class CannotSplitError(SizingRefusal):
    """The model does not fit one node and cannot be split across nodes."""


class NotEnoughNodesError(SizingRefusal):
    """The model needs more nodes than the caller allows."""
