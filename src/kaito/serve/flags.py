"""The server's command line and the Workspace's inference ConfigMap: merge one into the other.

The operator mounts the inference ConfigMap at `/mnt/config` and passes `--kaito-config-file
/mnt/config/inference_config.yaml`. Its `vllm:` (or `transformers:`) map is applied over the command line
the operator rendered — a key sets its flag's value (`true` adds a bare flag, a list gives the flag several
values), `false` and `null` remove the flag — so a command line and a ConfigMap that agree give the same
argv, and a ConfigMap edited since takes effect when the pod restarts. The operator has already validated
the keys; this module only applies them. Pure, except `read_config`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["adapter_modules", "flag_value", "merge_flags", "read_config"]

Flag = tuple[str, list[str]]


def _split(argv: Sequence[str]) -> tuple[list[str], list[Flag]]:
    """(leading positionals, [(flag name without dashes, values)]); `--a=b` is split at the `=`."""
    head: list[str] = []
    flags: list[Flag] = []
    for arg in argv:
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg[2:].partition("=")
            flags.append((name, [value] if eq else []))
        elif flags:
            flags[-1][1].append(arg)
        else:
            head.append(arg)
    return head, flags


def _join(head: list[str], flags: list[Flag]) -> list[str]:
    out = list(head)
    for name, values in flags:
        out += [f"--{name}", *values]
    return out


def _as_values(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if isinstance(value, dict):
        import json

        return [json.dumps(value, separators=(",", ":"))]
    if isinstance(value, float) and value.is_integer():
        return [str(int(value))]
    return [str(value)]


def merge_flags(argv: Sequence[str], overrides: Mapping[str, Any]) -> list[str]:
    """argv with each override applied in place (new flags appended in key order)."""
    head, flags = _split(argv)
    for key in sorted(overrides):
        name = key.replace("_", "-")
        value = overrides[key]
        flags = [f for f in flags if f[0] != name] if value is None or value is False else flags
        if value is None or value is False:
            continue
        values = [] if value is True else _as_values(value)
        for index, (flag, _) in enumerate(flags):
            if flag == name:
                flags[index] = (name, values)
                break
        else:
            flags.append((name, values))
    return _join(head, flags)


def flag_value(argv: Sequence[str], name: str) -> str | None:
    """The (first) value of `--name` in argv, None when absent or bare."""
    for flag, values in _split(argv)[1]:
        if flag == name:
            return values[0] if values else None
    return None


def read_config(path: Path, runtime: str) -> dict[str, Any]:
    """The `runtime:` map of the inference config file; empty when the file or the key is absent."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the inference config must be a YAML mapping, got {type(data).__name__}")
    section = data.get(runtime) or {}
    if not isinstance(section, dict):
        raise ValueError(f"{path}: {runtime} must be a mapping of flag names to values, got {section!r}")
    return section


def adapter_modules(directory: Path, argv: Sequence[str]) -> list[str]:
    """`name=path` for each LoRA adapter under `directory` that argv's `--lora-modules` does not list.

    An adapter is a subdirectory holding `adapter_config.json` (what PEFT saves); the operator's init
    containers copy each adapter image's files to `<directory>/<name>`.
    """
    listed: set[str] = set()
    for flag, values in _split(argv)[1]:
        if flag == "lora-modules":
            listed |= {v.split("=", 1)[0] for v in values}
    if not directory.is_dir():
        return []
    return [
        f"{child.name}={child}"
        for child in sorted(directory.iterdir())
        if (child / "adapter_config.json").is_file() and child.name not in listed
    ]
