"""The user's inference configuration: parse `inference_config.yaml`, validate it, apply it to a command line.

A workspace may point at a ConfigMap whose key `inference_config.yaml` holds

    vllm:                      # flags for the vLLM server, by name (with or without dashes)
      max-model-len: 8192
      enable-prefix-caching: true
    transformers: {...}        # flags for `transformers serve`
    max_probe_steps: 6         # KAITO's template key; accepted, kaito-py sizes analytically
    kv_cache_cpu_memory_utilization: 0.5   # KAITO's template key (LMCache CPU offload share), 0..1

Every key is checked against the runtime's flag table (`data/flags.yaml`): an unknown key, a key spelled
twice (`max_model_len` and `max-model-len`), a flag kaito manages itself (parallelism, port, model, LoRA
modules) or a value of the wrong type is reported by name — all problems at once, in one
`InferenceConfigError` — never silently passed to the server. Validated overrides are applied last: each
replaces the operator's flag of the same name (or removes it: `false` for a bare flag, `null` for any),
and new flags follow the operator's in sorted order, so the command line is deterministic.

Command lines are kept as an ordered `Args` list of (flag, value) pairs — value None for a bare flag, a
tuple for a multi-value flag — and rendered with `render_args`.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from kaito.runtimes.errors import InferenceConfigError
from kaito.runtimes.presets import RuntimeName

__all__ = [
    "Args",
    "FlagType",
    "FlagValue",
    "InferenceConfig",
    "Override",
    "apply_overrides",
    "flag_types",
    "managed_flags",
    "parallelism_inputs",
    "parse_inference_config",
    "render_args",
    "retired_flags",
    "retired_keys",
    "sizing_inputs",
    "validate_overrides",
]

FlagType = Literal["bool", "int", "float", "str", "json", "list"]
FlagValue = str | tuple[str, ...] | None
Args = list[tuple[str, FlagValue]]

_TOP_LEVEL = ("vllm", "transformers", "max_probe_steps", "kv_cache_cpu_memory_utilization")


class InferenceConfig(BaseModel):
    """The parsed `inference_config.yaml`: one raw flag map per runtime."""

    model_config = ConfigDict(frozen=True)

    vllm: dict[str, Any] = Field(default_factory=dict)
    transformers: dict[str, Any] = Field(default_factory=dict)
    max_probe_steps: int | None = None
    kv_cache_cpu_memory_utilization: float | None = None


class Override(BaseModel):
    """One validated user flag: set it to `value`, or remove the operator's flag when `remove`."""

    model_config = ConfigDict(frozen=True)

    flag: str
    value: FlagValue = None
    remove: bool = False
    source_key: str


@functools.cache
def _table() -> dict[str, Any]:
    text = resources.files("kaito.runtimes").joinpath("data/flags.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def flag_types(runtime: RuntimeName) -> dict[str, FlagType]:
    """Every flag a user may name for `runtime`, with its value type."""
    flags: dict[str, FlagType] = _table()[runtime]["flags"]
    return flags


def retired_flags(runtime: RuntimeName) -> frozenset[str]:
    """Flags KAITO's examples set that today's server no longer has: accepted, then left out."""
    return frozenset(_table()[runtime].get("retired") or ())


def retired_keys(runtime: RuntimeName, raw: Mapping[str, Any]) -> list[str]:
    """The user's keys naming retired flags, as written (for a note on the Workspace)."""
    retired = retired_flags(runtime)
    return [key for key in raw if _normalize(key) in retired]


def managed_flags(runtime: RuntimeName) -> frozenset[str]:
    """Flags kaito decides itself for `runtime`; users may not set them."""
    return frozenset(_table()[runtime]["managed"])


def parse_inference_config(text: str | None) -> InferenceConfig:
    """Parse the ConfigMap value; every problem is reported with the key it concerns."""
    if text is None or not text.strip():
        return InferenceConfig()
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InferenceConfigError([f"inference_config.yaml is not valid YAML: {error}."]) from None
    if raw is None:
        return InferenceConfig()
    if not isinstance(raw, dict):
        raise InferenceConfigError(
            [
                f"inference_config.yaml must be a map with keys {', '.join(_TOP_LEVEL)}; "
                f"it is a {type(raw).__name__}."
            ]
        )
    problems: list[str] = []
    for key in raw:
        if key not in _TOP_LEVEL:
            problems.append(
                f"inference_config.yaml has unknown key {key!r}; expected one of {', '.join(_TOP_LEVEL)}."
            )
    sections: dict[str, dict[str, Any]] = {}
    for section in ("vllm", "transformers"):
        value = raw.get(section)
        if value is None:
            sections[section] = {}
        elif isinstance(value, dict):
            sections[section] = {str(k): v for k, v in value.items()}
        else:
            problems.append(f"inference_config.yaml key {section!r} must be a map of flags to values.")
    probe_steps = raw.get("max_probe_steps")
    if probe_steps is not None and (not isinstance(probe_steps, int) or isinstance(probe_steps, bool)):
        problems.append(f"max_probe_steps is {probe_steps!r}; expected a whole number.")
    offload = raw.get("kv_cache_cpu_memory_utilization")
    if offload is not None and (
        isinstance(offload, bool) or not isinstance(offload, int | float) or not 0 <= offload <= 1
    ):
        problems.append(
            f"kv_cache_cpu_memory_utilization is {offload!r}; "
            "expected a fraction from 0 (no CPU offload) to 1."
        )
        offload = None
    if problems:
        raise InferenceConfigError(problems)
    return InferenceConfig(
        vllm=sections.get("vllm", {}),
        transformers=sections.get("transformers", {}),
        max_probe_steps=probe_steps,
        kv_cache_cpu_memory_utilization=offload,
    )


def _normalize(key: str) -> str:
    return key.strip().lstrip("-").replace("_", "-").lower()


def _render_value(
    section: str, key: str, kind: FlagType, value: Any, problems: list[str]
) -> tuple[FlagValue, bool] | None:
    """(value, remove) for a well-typed value; None after recording a problem."""
    where = f"{section}.{key}"
    if value is None:
        return None, True
    if kind == "bool":
        if isinstance(value, bool):
            return None, not value
        problems.append(f"{where} is {value!r}; expected true or false.")
        return None
    if isinstance(value, bool):
        problems.append(f"{where} is {value!r}; it takes a {kind} value, not true or false.")
        return None
    if kind == "int":
        if isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
            return str(int(value)), False
        problems.append(f"{where} is {value!r}; expected a whole number.")
        return None
    if kind == "float":
        try:
            return repr(float(value)) if not isinstance(value, int) else str(value), False
        except (TypeError, ValueError):
            problems.append(f"{where} is {value!r}; expected a number.")
            return None
    if kind == "json":
        if isinstance(value, dict | list):
            return json.dumps(value, sort_keys=True, separators=(",", ":")), False
        if isinstance(value, str):
            try:
                json.loads(value)
            except ValueError:
                problems.append(f"{where} is {value!r}; expected a map or JSON text.")
                return None
            return value, False
        problems.append(f"{where} is {value!r}; expected a map or JSON text.")
        return None
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        if all(isinstance(item, str | int | float) and not isinstance(item, bool) for item in items):
            return tuple(str(item) for item in items), False
        problems.append(f"{where} is {value!r}; expected a value or a list of values.")
        return None
    if isinstance(value, str | int | float):
        return str(value), False
    problems.append(f"{where} is {value!r}; expected text.")
    return None


def validate_overrides(runtime: RuntimeName, raw: Mapping[str, Any]) -> list[Override]:
    """Check the user's flag map for `runtime`; return the overrides sorted by flag name."""
    section = runtime
    types = flag_types(runtime)
    managed = managed_flags(runtime)
    problems: list[str] = []
    seen: dict[str, str] = {}
    overrides: list[Override] = []
    retired = retired_flags(runtime)
    for key, value in raw.items():
        flag = _normalize(key)
        if flag in retired:
            continue  # reported by the caller (retired_keys); never passed to the server
        if flag in seen:
            problems.append(
                f"{section}.{seen[flag]} and {section}.{key} both set --{flag}; keep one of them."
            )
            continue
        seen[flag] = key
        if flag not in types:
            close = difflib.get_close_matches(flag, list(types), n=2, cutoff=0.75)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            problems.append(f"{section}.{key} is not a {runtime} flag kaito knows.{hint}")
            continue
        if flag in managed:
            problems.append(
                f"{section}.{key} is managed by kaito (it follows from the sizing plan, the service port, "
                "the preset or the workspace's adapters); remove it from inference_config.yaml."
            )
            continue
        rendered = _render_value(section, key, types[flag], value, problems)
        if rendered is None:
            continue
        flag_value, remove = rendered
        overrides.append(Override(flag=flag, value=flag_value, remove=remove, source_key=key))
    if problems:
        raise InferenceConfigError(problems)
    return sorted(overrides, key=lambda o: o.flag)


def sizing_inputs(vllm_config: Mapping[str, Any]) -> tuple[int | None, float | None]:
    """The user's max-model-len and gpu-memory-utilization, which sizing must honour (validated)."""
    overrides = {o.flag: o for o in validate_overrides("vllm", vllm_config)}
    problems: list[str] = []
    max_model_len: int | None = None
    utilization: float | None = None
    length = overrides.get("max-model-len")
    if length is not None and length.value is not None:
        max_model_len = int(str(length.value))
        if max_model_len < 1:
            problems.append(
                f"vllm.{length.source_key} is {max_model_len}; expected a positive number of tokens."
            )
    util = overrides.get("gpu-memory-utilization")
    if util is not None and util.value is not None:
        utilization = float(str(util.value))
        if not 0 < utilization <= 1:
            problems.append(
                f"vllm.{util.source_key} is {utilization:g}; expected a fraction above 0 and at most 1."
            )
    if problems:
        raise InferenceConfigError(problems)
    return max_model_len, utilization


def parallelism_inputs(vllm_config: Mapping[str, Any]) -> dict[str, tuple[str, int]]:
    """The user's tensor/pipeline/data-parallel sizes: flag -> (key as written, value) (validated)."""
    parallel = ("tensor-parallel-size", "pipeline-parallel-size", "data-parallel-size")
    found: dict[str, tuple[str, int]] = {}
    for override in validate_overrides("vllm", vllm_config):
        if override.flag in parallel and override.value is not None:
            found[override.flag] = (override.source_key, int(str(override.value)))
    return found


def apply_overrides(args: Args, overrides: Sequence[Override]) -> Args:
    """The operator's args with each override replacing (or removing) its flag; new flags appended."""
    by_flag = {o.flag: o for o in overrides}
    result: Args = []
    for flag, value in args:
        override = by_flag.get(flag)
        if override is None:
            result.append((flag, value))
    for override in overrides:
        if not override.remove:
            result.append((override.flag, override.value))
    return result


def render_args(args: Args) -> list[str]:
    """argv for `args`: `--flag`, then its value(s) if any."""
    argv: list[str] = []
    for flag, value in args:
        argv.append(f"--{flag}")
        if isinstance(value, tuple):
            argv.extend(value)
        elif value is not None:
            argv.append(value)
    return argv
