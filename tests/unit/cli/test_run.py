"""`kaito run`: flags and environment to an OperatorConfig, and sentences for bad arguments."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from kaito import ctrl
from kaito.cli import build_parser
from kaito.cli.run import config_from_args, format_duration, parse_duration
from kaito.sim.cluster import Cluster

ENV = {"AZURE_SUBSCRIPTION_ID": "sub", "AZURE_RESOURCE_GROUP": "rg", "AKS_CLUSTER_NAME": "aks"}


def parse(*argv: str) -> Any:
    return build_parser().parse_args(["run", *argv])


def test_defaults_take_the_aks_cluster_from_the_environment() -> None:
    config = config_from_args(parse(), ENV)
    assert config.provisioner == "aks"
    assert config.aks is not None and (config.aks.subscription_id, config.aks.cluster_name) == ("sub", "aks")
    assert (config.leader_elect, config.health_port, config.metrics_port) == (False, 8081, None)


def test_flags_override_the_environment_and_choose_karpenter() -> None:
    args = parse(
        "--cluster-name", "other", "--provisioner", "karpenter",
        "--karpenter-node-class", "karpenter.azure.com/AKSNodeClass/default",
        "--leader-elect", "--metrics-port", "9090", "--health-port", "9091",
    )  # fmt: skip
    config = config_from_args(args, ENV)
    assert config.aks is not None and config.aks.cluster_name == "other" and config.aks.resource_group == "rg"
    assert config.provisioner == "karpenter"
    assert config.karpenter_node_class == ("karpenter.azure.com", "AKSNodeClass", "default")
    assert (config.leader_elect, config.metrics_port, config.health_port) == (True, 9090, 9091)


def test_timings_default_to_the_controllers_and_take_go_durations() -> None:
    config = config_from_args(parse(), ENV)
    assert (config.machine.launch_timeout, config.machine.node_lost_timeout) == (1800, 600)
    assert (config.orphans.interval, config.orphans.min_age) == (120, 30)
    args = parse(
        "--launch-timeout", "1h30m", "--registration-timeout", "90s", "--initialization-timeout", "600",
        "--node-lost-timeout", "2m", "--machine-retry-interval", "off", "--orphan-sweep-interval", "500ms",
        "--orphan-min-age", "0s",
    )  # fmt: skip
    config = config_from_args(args, ENV)
    assert config.machine.launch_timeout == 5400 and config.machine.registration_timeout == 90
    assert config.machine.initialization_timeout == 600 and config.machine.node_lost_timeout == 120
    assert config.workspace.machine_retry_interval is None
    assert (config.orphans.interval, config.orphans.min_age) == (0.5, 0)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h30m", 5400), ("250ms", 0.25), ("2.5", 2.5)]
)
def test_durations_read_like_kubectl_flags(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("seconds", "text"), [(1800, "30m"), (5400, "1h30m"), (90, "1m30s"), (None, "off")])
def test_durations_are_shown_in_the_shortest_spelling(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_a_bad_duration_is_refused_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("--launch-timeout", "30 minutes")
    assert "'30 minutes' is not a duration; write e.g. 90s, 30m" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ((), {}, "AZURE_SUBSCRIPTION_ID"),
        (("--launch-timeout", "0s"), ENV, "launch_timeout is 0.0; give seconds > 0"),
        (("--karpenter-node-class", "AKSNodeClass/default"), ENV, "write GROUP/KIND/NAME"),
        (("--health-port", "70000"), ENV, "--health-port is 70000"),
        (("--provisioner", "karpenter"), ENV, "no node class"),
    ],
)
def test_bad_arguments_are_sentences(argv: tuple[str, ...], env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config_from_args(parse(*argv), env)


def test_log_level_defaults_to_info_and_refuses_other_words(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse().log_level == "info"
    assert parse("--log-level", "debug").log_level == "debug"
    with pytest.raises(SystemExit):
        parse("--log-level", "verbose")
    assert "--log-level: invalid choice: 'verbose' (choose from" in capsys.readouterr().err


def test_run_exits_2_on_bad_arguments(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    args = parse()
    assert args.func(args) == 2
    assert "error: provisioner is 'aks' but no AKS cluster is given" in capsys.readouterr().err


STARTUP_WITHIN = 60.0


async def wait_for(check: Callable[[], Awaitable[Any]], within: float, failure: str) -> Any:
    """Await `check()` every 50 ms until it is truthy (returned); fail with `failure` after `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (result := await check()):
        if loop.time() > deadline:
            raise AssertionError(f"{failure} within {within}s")
        await asyncio.sleep(0.05)
    return result


@pytest.mark.integration
async def test_kaito_run_serves_probes_against_a_cluster_and_stops_cleanly_on_sigterm() -> None:
    async with Cluster(workloads=False, arm=False) as cluster:
        async with await ctrl.Client.from_kubeconfig(str(cluster.kubeconfig)) as client:
            await client.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kaito-system"}}
            )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kaito.cli", "run", "--kubeconfig", str(cluster.kubeconfig),
            "--install-crds", "--leader-elect", "--bind-address", "127.0.0.1", "--health-port", str(port),
            "--log-level", "warning",
            env={**os.environ, **ENV}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            async with aiohttp.ClientSession() as session:

                async def ready() -> bool:
                    if process.returncode is not None:
                        output = await process.stdout.read() if process.stdout else b""
                        raise AssertionError(f"kaito run exited {process.returncode}: {output.decode()}")
                    with contextlib.suppress(aiohttp.ClientError):
                        async with session.get(f"http://127.0.0.1:{port}/readyz") as answer:
                            return answer.status == 200
                    return False

                # a fresh interpreter imports the operator first: on a loaded machine that alone takes seconds
                await wait_for(ready, STARTUP_WITHIN, "kaito run never became ready")
                async with session.get(f"http://127.0.0.1:{port}/metrics") as answer:
                    assert "controller_runtime_reconcile_total" in await answer.text()
            crds = cluster.store.list("apiextensions.k8s.io/v1", "CustomResourceDefinition")[0]
            assert {c["metadata"]["name"] for c in crds} >= {"workspaces.kaito.sh", "machines.kaito.sh"}

            # /readyz answers once the caches are warm; the Lease is taken right after, not before
            async def leases_taken() -> list[dict[str, Any]]:
                return cluster.store.list("coordination.k8s.io/v1", "Lease", "kaito-system")[0]

            leases = await wait_for(leases_taken, 20.0, "kaito run never took the leader Lease")
            assert [lease["metadata"]["name"] for lease in leases] == ["kaito-operator"]
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 0, output.decode()
        # --log-level warning: the info records (the CRDs installed, the Lease taken) are not written
        assert '"level": "info"' not in output.decode(), output.decode()
