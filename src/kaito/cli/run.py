"""`kaito run`: the operator (Workspace and Machine controllers) against a cluster, until SIGTERM/Ctrl-C.

    kaito run [--kubeconfig PATH] [--provisioner aks|karpenter] [--leader-elect]
              [--metrics-port N] [--health-port N] [--install-crds] [--log-level info]
              [--launch-timeout 30m ...]

The cluster comes from `--kubeconfig`, else $KUBECONFIG or ~/.kube/config, else the in-cluster service
account (inside a pod). The AKS provisioner reads its cluster from AZURE_SUBSCRIPTION_ID,
AZURE_RESOURCE_GROUP and AKS_CLUSTER_NAME (flags override them) and authenticates with workload identity
or DefaultAzureCredential. Karpenter needs `--karpenter-node-class GROUP/KIND/NAME`. Exit code 0 after a
clean stop, 1 when the manager fails (for instance when leader election is lost), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import sys
from typing import Any

from kaito import ctrl
from kaito.controllers.machine import MachineControllerOptions
from kaito.controllers.operator import (
    FIELD_MANAGER,
    OperatorConfig,
    aks_config_from_environment,
    build_operator,
    install_crds,
)
from kaito.controllers.orphans import OrphanSweepOptions
from kaito.controllers.webhook_server import WebhookOptions
from kaito.controllers.workspace import WorkspaceControllerOptions
from kaito.provisioners.aks import AksConfig

__all__ = [
    "LOG_LEVELS",
    "add_parser",
    "config_from_args",
    "format_duration",
    "parse_duration",
    "parse_optional_duration",
    "run",
]

log = logging.getLogger("kaito.cli.run")

LOG_LEVELS = ("debug", "info", "warning", "error")


def add_parser(subparsers: Any) -> None:
    """Register `kaito run`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="run the operator against a cluster",
        description="Run the KAITO operator (Workspace and Machine controllers) until SIGTERM or Ctrl-C.",
    )
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)",
    )
    parser.add_argument("--context", default=None, help="kubeconfig context (default: the current one)")
    parser.add_argument(
        "--provisioner", choices=("aks", "karpenter"), default="aks", help="default provisioner for Machines"
    )
    parser.add_argument(
        "--subscription-id", default=None, help="AKS: subscription (default: $AZURE_SUBSCRIPTION_ID)"
    )
    parser.add_argument(
        "--resource-group", default=None, help="AKS: resource group (default: $AZURE_RESOURCE_GROUP)"
    )
    parser.add_argument("--cluster-name", default=None, help="AKS: cluster name (default: $AKS_CLUSTER_NAME)")
    parser.add_argument(
        "--karpenter-node-class",
        default=None,
        metavar="GROUP/KIND/NAME",
        help="Karpenter: the nodeClassRef of NodeClaims, e.g. karpenter.azure.com/AKSNodeClass/default",
    )
    parser.add_argument(
        "--leader-elect", action="store_true", help="hold the Lease kaito-operator before acting"
    )
    parser.add_argument(
        "--leader-election-namespace",
        default="kaito-system",
        help="namespace of the Lease (default: kaito-system)",
    )
    parser.add_argument(
        "--health-port", type=int, default=8081, help="/healthz, /readyz and /metrics port (default 8081)"
    )
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="also serve /metrics alone on this port"
    )
    parser.add_argument("--bind-address", default="0.0.0.0", help="address the probe servers listen on")
    parser.add_argument(
        "--install-crds", action="store_true", help="apply the Workspace and Machine CRDs first"
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        help="the least severe JSON log records written to stderr (default info)",
    )
    parser.add_argument(
        "--webhook-port",
        type=int,
        default=None,
        help="serve the admission and conversion webhooks over TLS on this port (manifests: 9443)",
    )
    parser.add_argument(
        "--webhook-namespace",
        default="kaito-system",
        help="namespace of the webhook's Service and certificate Secret (default: kaito-system)",
    )
    timings = parser.add_argument_group(
        "timings", "durations like 90s, 30m, 1h30m (Go's syntax, as kubectl's flags take them) or seconds"
    )
    machine, workspace = MachineControllerOptions(), WorkspaceControllerOptions()
    orphans = OrphanSweepOptions()
    for flag, default, text in (
        ("--launch-timeout", machine.launch_timeout, "a Machine not launched by the cloud this long fails"),
        ("--registration-timeout", machine.registration_timeout, "a launched Machine whose Node never joins"),
        ("--initialization-timeout", machine.initialization_timeout, "a Node never Ready with its GPUs"),
        ("--node-lost-timeout", machine.node_lost_timeout, "a Machine whose Node vanished fails after this"),
        (
            "--machine-retry-interval",
            workspace.machine_retry_interval,
            "a failed Machine is replaced; off: never",
        ),
        ("--orphan-sweep-interval", orphans.interval, "how often leaked pools/NodeClaims are looked for"),
        ("--orphan-min-age", orphans.min_age, "a leaked pool/NodeClaim younger than this is left alone"),
    ):
        timings.add_argument(
            flag, type=parse_optional_duration if flag == "--machine-retry-interval" else parse_duration,
            default=default, metavar="DURATION", help=f"{text} (default {format_duration(default)})",
        )  # fmt: skip
    parser.set_defaults(func=run)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float:
    """Seconds from a Go-style duration ("90s", "30m", "1h30m", "250ms") or a plain number of seconds."""
    value = text.strip()
    with contextlib.suppress(ValueError):
        return float(value)
    parts = _DURATION.findall(value)
    if not value or "".join(number + unit for number, unit in parts) != value:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; write e.g. 90s, 30m, 1h30m, 250ms, or a number of seconds"
        )
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def parse_optional_duration(text: str) -> float | None:
    """`parse_duration`, or None for "off" (the behaviour the duration times is turned off)."""
    return None if text.strip().lower() == "off" else parse_duration(text)


def format_duration(seconds: float | None) -> str:
    """The shortest Go-style spelling of whole seconds (30m, 1h30m, 90s); "off" for None."""
    if seconds is None:
        return "off"
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"


def _port(value: int | None, flag: str) -> int | None:
    if value is not None and not 0 <= value <= 65535:
        raise ValueError(f"{flag} is {value}; give a TCP port from 1 to 65535 (0 picks a free one)")
    return value


def config_from_args(args: argparse.Namespace, environ: dict[str, str] | None = None) -> OperatorConfig:
    """The OperatorConfig the flags (and the environment) describe; ValueError with a sentence if wrong."""
    aks = aks_config_from_environment(environ)
    if args.subscription_id or args.resource_group or args.cluster_name:
        base = aks
        aks = AksConfig(
            subscription_id=args.subscription_id or (base.subscription_id if base else ""),
            resource_group=args.resource_group or (base.resource_group if base else ""),
            cluster_name=args.cluster_name or (base.cluster_name if base else ""),
            base_url=base.base_url if base else None,
        )
    node_class = None
    if args.karpenter_node_class:
        parts = args.karpenter_node_class.split("/")
        if len(parts) != 3 or not all(parts):
            raise ValueError(
                f"--karpenter-node-class is {args.karpenter_node_class!r}; write GROUP/KIND/NAME, "
                "e.g. karpenter.azure.com/AKSNodeClass/default"
            )
        node_class = (parts[0], parts[1], parts[2])
    return OperatorConfig(
        provisioner=args.provisioner,
        aks=aks,
        karpenter_node_class=node_class,
        leader_elect=args.leader_elect,
        leader_election_namespace=args.leader_election_namespace,
        health_host=args.bind_address,
        health_port=_port(args.health_port, "--health-port"),
        metrics_port=_port(args.metrics_port, "--metrics-port"),
        machine=MachineControllerOptions(
            launch_timeout=args.launch_timeout,
            registration_timeout=args.registration_timeout,
            initialization_timeout=args.initialization_timeout,
            node_lost_timeout=args.node_lost_timeout,
        ),
        workspace=WorkspaceControllerOptions(machine_retry_interval=args.machine_retry_interval),
        orphans=OrphanSweepOptions(interval=args.orphan_sweep_interval, min_age=args.orphan_min_age),
        webhook=(
            WebhookOptions(
                host=args.bind_address,
                port=_port(args.webhook_port, "--webhook-port") or 0,
                namespace=args.webhook_namespace,
            )
            if args.webhook_port is not None
            else None
        ),
    )


async def _run(args: argparse.Namespace, config: OperatorConfig) -> int:
    async with await ctrl.Client.from_kubeconfig(
        args.kubeconfig, context=args.context, field_manager=FIELD_MANAGER
    ) as client:
        if args.install_crds:
            names = await install_crds(client)
            log.info("installed CRDs %s", ", ".join(names))
        operator = build_operator(client, config)
        try:
            return await ctrl.run_until_stopped(operator.manager)
        finally:
            await operator.provisioners.close()


def run(args: argparse.Namespace) -> int:
    """Entry point of `kaito run` from parsed arguments."""
    try:
        config = config_from_args(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    ctrl.configure_logging(args.log_level.upper())
    try:
        return asyncio.run(_run(args, config))
    except ctrl.ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
