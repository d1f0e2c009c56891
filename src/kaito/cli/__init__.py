"""The `kaito` command.

Each subcommand lives in its own module of this package and exposes `add_parser(subparsers)`, which registers
an argparse sub-parser whose `func` default takes the parsed namespace and returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

# Modules that register subcommands, in the order `kaito --help` lists them.
_COMMAND_MODULES = ("up", "chat", "run", "manifests", "plan", "sim")


def build_parser() -> argparse.ArgumentParser:
    """The full `kaito` argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="kaito",
        description="Serve large language models on Kubernetes (kaito-py).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        module = importlib.import_module(f"kaito.cli.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kaito` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    code: int = func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
