"""`kaito run`: flags and environment to an OperatorConfig, and sentences for bad arguments."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.cli import build_parser
from kaito.cli.run import config_from_args

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


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ((), {}, "AZURE_SUBSCRIPTION_ID"),
        (("--karpenter-node-class", "AKSNodeClass/default"), ENV, "write GROUP/KIND/NAME"),
        (("--health-port", "70000"), ENV, "--health-port is 70000"),
        (("--provisioner", "karpenter"), ENV, "no node class"),
    ],
)
def test_bad_arguments_are_sentences(argv: tuple[str, ...], env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config_from_args(parse(*argv), env)


def test_run_exits_2_on_bad_arguments(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    args = parse()
    assert args.func(args) == 2
    assert "error: provisioner is 'aks' but no AKS cluster is given" in capsys.readouterr().err
