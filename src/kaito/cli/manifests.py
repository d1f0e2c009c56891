"""`kaito manifests`: print or write the Kubernetes manifests kaito-py installs.

    kaito manifests crds [--output-dir DIR]   write one CRD per file into DIR (default manifests/crd)
    kaito manifests crds --stdout             print every CRD as one multi-document YAML stream

The CRDs are generated from the models in `kaito.api` (see `kaito.api.crd`), so they are always the ones this
version of the operator understands; the checked-in `manifests/crd/` is this command's output. Further
subcommands (the full install: RBAC, the manager Deployment) register next to `crds`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kaito.api.crd import all_crds, render_yaml, write_crds

__all__ = ["DEFAULT_CRD_DIR", "add_parser", "run_crds"]

DEFAULT_CRD_DIR = Path("manifests/crd")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `manifests` and its subcommands on the `kaito` command's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "manifests",
        help="write or print the Kubernetes manifests (CRDs) kaito-py installs",
        description="Write or print the Kubernetes manifests kaito-py installs.",
    )
    parser.set_defaults(func=lambda args: _print_help(parser))
    commands = parser.add_subparsers(dest="manifests_command", metavar="WHAT")

    crds = commands.add_parser(
        "crds",
        help="the Workspace and Machine CustomResourceDefinitions",
        description="Generate the Workspace and Machine CRDs from kaito-py's API models.",
    )
    target = crds.add_mutually_exclusive_group()
    target.add_argument(
        "--output-dir",
        type=Path,
        default=DEFAULT_CRD_DIR,
        metavar="DIR",
        help=f"directory to write one YAML file per CRD into (default: {DEFAULT_CRD_DIR})",
    )
    target.add_argument("--stdout", action="store_true", help="print the CRDs to standard output instead")
    crds.set_defaults(func=run_crds)
    return parser


def run_crds(args: argparse.Namespace) -> int:
    """Write the CRDs to `args.output_dir`, or print them when `args.stdout`; returns the exit code."""
    if args.stdout:
        sys.stdout.write("---\n".join(render_yaml(crd) for crd in all_crds()))
        return 0
    try:
        written = write_crds(args.output_dir)
    except OSError as error:
        print(
            f"kaito manifests crds: cannot write to {args.output_dir}: {error.strerror or error}",
            file=sys.stderr,
        )
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2
