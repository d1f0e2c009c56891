"""`kaito manifests`: print or write the Kubernetes manifests kaito-py installs.

    kaito manifests [install] [--image IMAGE] [--namespace NS]   print the install for `kubectl apply -f -`
    kaito manifests crds [--output-dir DIR]   write one CRD per file into DIR (default manifests/crd)
    kaito manifests crds --stdout             print every CRD as one multi-document YAML stream

The CRDs are generated from the models in `kaito.api` (see `kaito.api.crd`), so they are always the ones this
version of the operator understands; the checked-in `manifests/crd/` is this command's output. The install
(CRDs, RBAC, the controller Deployment and its Service) is `kaito.cli.install_manifests`, the same objects
`kubectl kustomize manifests/default` renders, with the image and namespace given here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kaito.api.crd import all_crds, render_yaml, write_crds
from kaito.cli.install_manifests import DEFAULT_IMAGE, DEFAULT_NAMESPACE, render_install

__all__ = ["DEFAULT_CRD_DIR", "add_parser", "run_crds", "run_install"]

DEFAULT_CRD_DIR = Path("manifests/crd")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `manifests` and its subcommands on the `kaito` command's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "manifests",
        help="print the install YAML (CRDs, RBAC, Deployment), or write the CRDs",
        description="Print the full install for `kubectl apply -f -` (the default), or write the CRDs.",
    )
    _install_flags(parser, argparse.SUPPRESS)
    parser.set_defaults(func=run_install)
    commands = parser.add_subparsers(dest="manifests_command", metavar="WHAT")

    install = commands.add_parser(
        "install",
        help="the full install: CRDs, RBAC and the controller Deployment (the default)",
        description="Print the CRDs, RBAC and controller Deployment as one YAML stream (kubectl apply -f -).",
    )
    _install_flags(install, argparse.SUPPRESS)
    install.set_defaults(func=run_install)

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


def _install_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    # SUPPRESS: a flag given before `install` is not overwritten by the subcommand's default
    parser.add_argument("--image", default=default, help=f"controller image (default: {DEFAULT_IMAGE})")
    parser.add_argument(
        "--namespace",
        default=default,
        help=f"namespace of the controller, its ServiceAccount and Lease (default: {DEFAULT_NAMESPACE})",
    )


def run_install(args: argparse.Namespace) -> int:
    """Print the full install YAML for `args.image` and `args.namespace`; returns the exit code."""
    image = getattr(args, "image", DEFAULT_IMAGE)
    namespace = getattr(args, "namespace", DEFAULT_NAMESPACE)
    try:
        sys.stdout.write(render_install(image=image, namespace=namespace))
    except ValueError as error:
        print(f"kaito manifests: {error}", file=sys.stderr)
        return 2
    return 0
