"""`python3 -m kaito.serve RUNTIME [--kaito-config-file F] [--kaito-adapters-dir D] SERVER-FLAGS...`

The program in the inference pod. RUNTIME is `vllm` or `transformers`. The two `--kaito-*` options are
this program's own and are taken out before the server sees the rest: the inference ConfigMap's file
(its `RUNTIME:` map is merged over the server flags, kaito.serve.flags) and, for vLLM, the directory the
adapter init containers filled (each adapter found there is served as a LoRA module). Everything else is
the runtime's own flags. The chosen server is imported only now, so a wrong RUNTIME or an unreadable
config file is reported before a multi-second import of torch.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from kaito.serve.flags import adapter_modules, merge_flags, read_config

__all__ = ["RUNTIMES", "main", "server_argv"]

RUNTIMES = ("vllm", "transformers")
_OWN = ("--kaito-config-file", "--kaito-adapters-dir")


def _take_own(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    own: dict[str, str] = {}
    rest: list[str] = []
    items = list(argv)
    index = 0
    while index < len(items):
        arg = items[index]
        name, eq, value = arg.partition("=")
        if name in _OWN:
            if not eq:
                if index + 1 >= len(items):
                    raise ValueError(f"{name} needs a value (a path)")
                index += 1
                value = items[index]
            own[name] = value
        else:
            rest.append(arg)
        index += 1
    return own, rest


def server_argv(runtime: str, argv: Sequence[str]) -> list[str]:
    """The server's flags: argv without kaito.serve's own options, the config file merged, adapters added."""
    own, rest = _take_own(argv)
    config = own.get("--kaito-config-file")
    if config:
        rest = merge_flags(rest, read_config(Path(config), runtime))
    adapters = own.get("--kaito-adapters-dir")
    if adapters and runtime == "vllm":
        found = adapter_modules(Path(adapters), rest)
        if found:
            listed = "--lora-modules" in rest
            rest = merge_flags(rest, {"enable-lora": True})
            if listed:
                at = rest.index("--lora-modules") + 1
                while at < len(rest) and not rest[at].startswith("--"):
                    at += 1
                rest[at:at] = found
            else:
                rest += ["--lora-modules", *found]
    return rest


def main(argv: Sequence[str] | None = None) -> int:
    """Run the runtime named first in argv; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in RUNTIMES:
        given = repr(args[0]) if args else "nothing"
        print(
            f"kaito.serve: the first argument is the runtime, one of {', '.join(RUNTIMES)}; got {given}",
            file=sys.stderr,
        )
        return 2
    runtime = args[0]
    try:
        flags = server_argv(runtime, args[1:])
    except (OSError, ValueError) as error:
        print(f"kaito.serve: {error}", file=sys.stderr)
        return 2
    print(f"kaito.serve: {runtime} {' '.join(flags)}", flush=True)
    if runtime == "vllm":
        from kaito.serve.vllm_server import main as serve
    else:
        from kaito.serve.transformers_server import main as serve
    code: int = serve(flags)
    return code
