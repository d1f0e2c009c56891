"""``kaito sim up``: run the embedded cluster (API server, workloads, AKS endpoint) in the foreground."""

from __future__ import annotations

import argparse
from typing import Any

from kaito.sim.__main__ import add_up_arguments, up

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    """Register ``kaito sim`` and its ``up`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sim", help="run the embedded cluster", description="The embedded cluster (kaito.sim)."
    )
    commands = parser.add_subparsers(dest="sim_command", metavar="COMMAND")
    up_parser = commands.add_parser(
        "up",
        help="run the cluster in the foreground until Ctrl-C and write a kubeconfig",
        description="Run the embedded cluster in the foreground until Ctrl-C/SIGTERM and write a kubeconfig.",
    )
    add_up_arguments(up_parser)
    up_parser.set_defaults(func=up)

    def usage(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=usage)
