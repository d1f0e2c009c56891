"""``python -m kaito.sim`` (and ``kaito sim up``): run the embedded cluster in the foreground.

It starts a :class:`~kaito.sim.cluster.Cluster` (HTTPS, every request authenticated, RBAC; ``--insecure``
for plain HTTP without authentication), writes its kubeconfig (0600, holding the admin token and the CA),
prints how to use it, and serves until
SIGINT (Ctrl-C) or SIGTERM, then stops cleanly (saving the snapshot when ``--snapshot`` is given, so the next
run starts with the same objects). The argument definitions live here so that ``kaito sim up`` (in
``kaito.cli``, which may import ``kaito.sim`` but not the other way round) registers exactly the same options.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from kaito.sim.cluster import Cluster

__all__ = ["DEFAULT_KUBECONFIG", "add_up_arguments", "main", "serve", "up"]

DEFAULT_KUBECONFIG = Path("kaito-sim.kubeconfig")


def add_up_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``kaito sim up``."""
    parser.add_argument(
        "--port", type=int, default=0, help="API server port on 127.0.0.1 (default: a free one)"
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=DEFAULT_KUBECONFIG,
        help=f"where to write the kubeconfig (default: ./{DEFAULT_KUBECONFIG})",
    )
    parser.add_argument(
        "--snapshot", type=Path, default=None, help="load objects from this file at start, save them at stop"
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a generated CA (the default; kept for old scripts)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="serve plain HTTP and answer every request without authentication (for tests that need it; "
        "any local process can then read Secrets and change the cluster)",
    )
    parser.add_argument(
        "--no-workloads", action="store_true", help="do not simulate nodes, pods and controllers"
    )
    parser.add_argument(
        "--no-arm", action="store_true", help="do not serve the AKS (ARM) agentPools endpoint"
    )


async def serve(
    cluster: Cluster, stop: asyncio.Event, out: TextIO, ready: asyncio.Event | None = None
) -> None:
    """Run ``cluster`` until ``stop`` is set, telling ``out`` where it is (and setting ``ready`` then)."""
    async with cluster:
        print(f"kaito-sim API server: {cluster.url}", file=out)
        if cluster.arm is not None:
            print(f"kaito-sim ARM endpoint: {cluster.arm.url} (CA: {cluster.arm.ca_path})", file=out)
        print(f"kubeconfig written to {cluster.kubeconfig}", file=out)
        print(_security_line(cluster), file=out)
        print(f"  export KUBECONFIG={cluster.kubeconfig.resolve()}", file=out)
        print("press Ctrl-C to stop", file=out, flush=True)
        if ready is not None:
            ready.set()
        await stop.wait()
    print("kaito-sim stopped", file=out, flush=True)


def _security_line(cluster: Cluster) -> str:
    if cluster.insecure:
        return (
            "WARNING: --insecure: plain HTTP without authentication; "
            "any local process can read Secrets and change the cluster"
        )
    return (
        "HTTPS with a generated CA; the admin token is in the kubeconfig (mode 0600); "
        "requests without a valid token get 401"
    )


def up(args: argparse.Namespace) -> int:
    """Run the cluster from parsed ``up`` arguments until SIGINT/SIGTERM; returns the exit code."""
    if not 0 <= args.port <= 65535:
        print(
            f"error: --port is {args.port}; give a TCP port from 1 to 65535, or 0 for a free one",
            file=sys.stderr,
        )
        return 2
    if args.insecure and args.tls:
        print("error: --insecure serves plain HTTP and --tls HTTPS; give one of them", file=sys.stderr)
        return 2
    cluster = Cluster(
        port=args.port,
        insecure=args.insecure,
        workloads=not args.no_workloads,
        arm=not args.no_arm,
        snapshot_path=args.snapshot,
        kubeconfig_path=args.kubeconfig,
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(cluster, stop, sys.stdout)

    try:
        asyncio.run(run())
    except OSError as err:
        print(f"error: cannot start the cluster on port {args.port}: {err}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kaito.sim [--port N] [--kubeconfig PATH] [--snapshot PATH]``."""
    parser = argparse.ArgumentParser(prog="python -m kaito.sim", description="Run the embedded cluster.")
    add_up_arguments(parser)
    return up(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
