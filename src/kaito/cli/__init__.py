"""The `kaito` command.

Each subcommand lives in its own module of this package and exposes `add_parser(subparsers)`, which registers
an argparse sub-parser whose `func` default takes the parsed namespace and returns the exit code.

A run imports only the module of the verb it runs (`kaito plan` never loads the simulator, the API
client or the Azure SDK); the full parser, with every verb, is built for `kaito --help` and unknown verbs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

# Each verb and the module that registers it, in the order `kaito --help` lists them.
_VERB_MODULES = {
    "up": "up",
    "chat": "chat",
    "run": "run",
    "manifests": "manifests",
    "plan": "plan",
    "presets": "plan",
    "skus": "plan",
    "sim": "sim",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `kaito` argument parser: only `command`'s sub-parser when it names a verb, else every verb."""
    parser = argparse.ArgumentParser(
        prog="kaito",
        description="Serve large language models on Kubernetes (kaito-py).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = [_VERB_MODULES[command]] if command in _VERB_MODULES else _VERB_MODULES.values()
    for name in dict.fromkeys(wanted):
        module = importlib.import_module(f"kaito.cli.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kaito` console script; returns the process exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in arguments if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(arguments)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    code: int = func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
