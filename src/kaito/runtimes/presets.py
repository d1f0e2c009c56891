"""The preset catalog: what each servable model is, read from the packaged `data/presets.yaml`.

A `Preset` holds only figures copied from the model's Hugging Face config; everything derived from them
(head dim, KV-cache bytes per token, disk requirement, readiness timeout) is a computed property, so the
data file cannot disagree with the formulas:

* KV bytes per token = 2 (K and V) x layers x kv_heads x head_dim x 2 bytes (fp16/bf16 cache);
  MLA models cache one latent per layer instead: (kv_lora_rank + qk_rope_head_dim) x layers x 2 bytes.
* disk = weights + 80 GiB (image layers, Python environment, logs), rounded up to a whole GiB.
* readiness timeout = clamp(15 min + 18 s per GiB of weights, 30 min, 180 min): downloading and loading
  weights dominates start-up and grows with size (KAITO issue 2325 measured ~966 s for a 27B model).

Lookup is case-insensitive by preset name or Hugging Face repo id; an unknown name raises
`UnknownPresetError` naming the closest presets.
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Mapping
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from kaito.runtimes.errors import UnknownPresetError

__all__ = [
    "BASE_IMAGE",
    "IMAGE_REGISTRY",
    "ORAS_IMAGE",
    "Dtype",
    "Preset",
    "RuntimeName",
    "get_preset",
    "list_presets",
    "load_presets",
]

Dtype = Literal["bfloat16", "float16", "float32"]
RuntimeName = Literal["vllm", "transformers"]

IMAGE_REGISTRY = "mcr.microsoft.com/aks/kaito"
# KAITO's base image (vLLM + transformers[serving] + Ray, no weights), the tag KAITO v0.12's catalog lists
# (supported_models.yaml `base`); every preset runs it, and presets without hosted weights download them
# from Hugging Face when the pod starts.
BASE_IMAGE = f"{IMAGE_REGISTRY}/kaito-base:0.5.0"
# KAITO v0.12 publishes hosted presets' weights as OCI artifacts (not runnable images) and pulls them with
# ORAS in an init container into a volume the base image reads.
ORAS_IMAGE = "mcr.microsoft.com/oss/v2/oras-project/oras:v1.2.3"

_GIB = 1024**3
_SYSTEM_DISK_GIB = 80
_READINESS_BASE_S = 15 * 60
_READINESS_PER_GIB_S = 18
_READINESS_MIN_S = 30 * 60
_READINESS_MAX_S = 180 * 60


class Preset(BaseModel):
    """One servable model and the figures sizing and the workload builders need."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    hf_repo: str
    architecture: str
    weights_gib: float = Field(gt=0)
    layers: int = Field(gt=0)
    attention_heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    head_dim: int | None = Field(default=None, gt=0)
    kv_lora_rank: int | None = Field(default=None, gt=0)
    qk_rope_head_dim: int | None = Field(default=None, ge=0)
    context_limit: int = Field(gt=0)
    quant_method: str | None = None
    source: str | None = None
    dtypes: tuple[Dtype, ...] = ("bfloat16", "float16")
    tool_call_parser: str | None = None
    reasoning_parser: str | None = None
    chat_template: str | None = None
    license: str
    hostable_image: bool = False
    image_tag: str | None = None
    gated: bool = False
    distributed: bool = True
    supports_lora: bool = True
    runtime: RuntimeName = "vllm"
    vllm_args: Mapping[str, str] = Field(default_factory=dict)
    # Test presets (tiny generated models for kaito's own end-to-end tests): hidden from `kaito presets`
    # unless asked; `image_name` names their image in full (the process runtime maps it to a local venv).
    test_only: bool = False
    image_name: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Preset:
        if self.hostable_image and not self.image_tag:
            raise ValueError(f"preset {self.name}: hostable_image needs an image_tag")
        if not self.hostable_image and self.image_tag:
            raise ValueError(f"preset {self.name}: image_tag is set but the licence forbids a hosted image")
        if self.attention_heads % self.kv_heads:
            raise ValueError(f"preset {self.name}: attention_heads must be a multiple of kv_heads")
        if (self.kv_lora_rank is None) != (self.qk_rope_head_dim is None):
            raise ValueError(f"preset {self.name}: MLA needs both kv_lora_rank and qk_rope_head_dim")
        if not self.dtypes:
            raise ValueError(f"preset {self.name}: dtypes must not be empty")
        return self

    @property
    def effective_head_dim(self) -> int:
        """head_dim from config.json, else hidden_size / attention_heads."""
        return self.head_dim if self.head_dim is not None else self.hidden_size // self.attention_heads

    @property
    def is_mla(self) -> bool:
        """Multi-head latent attention: the KV cache holds one compressed latent per layer."""
        return self.kv_lora_rank is not None

    @property
    def kv_bytes_per_token(self) -> int:
        """Bytes of KV cache one token occupies across the whole model (16-bit cache)."""
        if self.kv_lora_rank is not None and self.qk_rope_head_dim is not None:
            return (self.kv_lora_rank + self.qk_rope_head_dim) * self.layers * 2
        return 2 * self.layers * self.kv_heads * self.effective_head_dim * 2

    @property
    def disk_gib(self) -> int:
        """Node disk the workload needs: weights plus 80 GiB for images and the environment."""
        return math.ceil(self.weights_gib + _SYSTEM_DISK_GIB)

    @property
    def readiness_timeout_s(self) -> int:
        """How long start-up may take: clamp(15 min + 18 s x weight GiB, 30 min, 180 min)."""
        raw = _READINESS_BASE_S + _READINESS_PER_GIB_S * self.weights_gib
        return int(min(max(raw, _READINESS_MIN_S), _READINESS_MAX_S))

    @property
    def image(self) -> str:
        """The image the model server runs: KAITO's base image (a test preset names its own)."""
        if self.image_name:
            return self.image_name
        return BASE_IMAGE

    @property
    def weights_artifact(self) -> str | None:
        """The OCI artifact of hosted weights (`oras pull` target); None when they download at start."""
        if self.image_name or not (self.hostable_image and self.image_tag):
            return None
        return f"{IMAGE_REGISTRY}/kaito-{self.name}:{self.image_tag}"

    @property
    def download_at_runtime(self) -> bool:
        """True when the pod fetches the weights from Hugging Face when it starts."""
        return not self.hostable_image

    def summary(self) -> dict[str, Any]:
        """The catalog row `kaito presets` prints: data fields plus the derived figures."""
        row = self.model_dump(mode="json")
        row.update(
            kv_bytes_per_token=self.kv_bytes_per_token,
            disk_gib=self.disk_gib,
            readiness_timeout_s=self.readiness_timeout_s,
            image=self.image,
            weights_artifact=self.weights_artifact,
        )
        return row


@functools.cache
def load_presets() -> tuple[Preset, ...]:
    """Every preset in the packaged catalog, in file order (parsed once per process)."""
    text = resources.files("kaito.runtimes").joinpath("data/presets.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    presets = tuple(Preset.model_validate(entry) for entry in raw["presets"])
    names = [p.name for p in presets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"preset catalog lists {', '.join(duplicates)} more than once")
    return presets


def list_presets() -> list[Preset]:
    """The catalog sorted by name."""
    return sorted(load_presets(), key=lambda p: p.name)


@functools.cache
def _index() -> dict[str, Preset]:
    index: dict[str, Preset] = {}
    for preset in load_presets():
        index[preset.name.lower()] = preset
        index[preset.hf_repo.lower()] = preset
    return index


def get_preset(name: str) -> Preset:
    """The preset called `name` (or whose Hugging Face repo is `name`), case-insensitively."""
    key = name.strip().lower()
    found = _index().get(key)
    if found is not None:
        return found
    names = [p.name for p in load_presets()]
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise UnknownPresetError(
        f"Preset {name!r} is not in the catalog.{hint} Run `kaito presets` to list the {len(names)} presets.",
        name=name,
        suggestions=close,
    )
