"""OperatorConfig and build_operator: both controllers on one manager, with the provisioners asked for."""

from __future__ import annotations

import pytest

from kaito import ctrl
from kaito.controllers.operator import (
    MetricsServer,
    OperatorConfig,
    aks_config_from_environment,
    build_operator,
)
from kaito.ctrl.testing import MockResponse, MockTransport
from kaito.provisioners.aks import AksConfig, StaticTokenCredential

AKS = AksConfig(subscription_id="s", resource_group="rg", cluster_name="c", base_url="https://127.0.0.1:1")


def client() -> ctrl.Client:
    return ctrl.Client(MockTransport(lambda request: MockResponse(404, json={})))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"provisioner": "aks"}, "AZURE_SUBSCRIPTION_ID"),
        ({"provisioner": "karpenter", "aks": AKS}, "nodeClassRef"),
    ],
)
def test_config_says_what_is_missing(config: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OperatorConfig(**config)  # type: ignore[arg-type]


def test_aks_cluster_from_the_environment() -> None:
    env = {"AZURE_SUBSCRIPTION_ID": "s", "AZURE_RESOURCE_GROUP": "rg", "AKS_CLUSTER_NAME": "c"}
    config = aks_config_from_environment(env)
    assert config is not None and (config.subscription_id, config.resource_group, config.cluster_name) == (
        "s",
        "rg",
        "c",
    )
    assert aks_config_from_environment({"AZURE_SUBSCRIPTION_ID": "s"}) is None


async def test_the_controllers_share_one_manager() -> None:
    config = OperatorConfig(
        aks=AKS,
        aks_credential=StaticTokenCredential(),
        karpenter_node_class=("karpenter.azure.com", "AKSNodeClass", "default"),
        leader_elect=True,
        health_port=None,
        metrics_port=9090,
    )
    operator = build_operator(client(), config)
    try:
        assert operator.manager.controller_names == {
            "workspace",
            "machine",
            "inferenceset",
            "multiroleinference",
        }
        assert operator.provisioners.names == ["aks", "karpenter"]
        assert operator.provisioners.default == "aks"
        assert operator.manager.leader_election is not None
        assert operator.manager.leader_election.name == "kaito-operator"
        assert any(isinstance(r, MetricsServer) for r in operator.manager._runnables)
    finally:
        await operator.provisioners.close()


def _node(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/os": "".join(["lin", "ux"])}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "images": [{"names": ["x"]}]},
    }


async def test_the_caches_keep_what_the_controllers_read_and_each_repeated_value_once() -> None:
    operator = build_operator(client(), OperatorConfig(aks=AKS, aks_credential=StaticTokenCredential()))
    try:
        nodes = operator.manager.informers.informer_for(("v1", "Node"))
        nodes.replace([_node("a"), _node("b")], "1")  # as a first list would
        a, b = nodes.store.get("a"), nodes.store.get("b")
        assert "images" not in a["status"] and a["status"]["conditions"][0]["type"] == "Ready"
        assert a["metadata"]["labels"]["kubernetes.io/os"] is b["metadata"]["labels"]["kubernetes.io/os"]
        transforms = [informer.transform for informer in operator.manager.informers.informers]
        assert all(t is not None for t in transforms)
        deployment = {
            "kind": "Deployment",
            "metadata": {"name": "w"},
            "spec": {"template": {}, "replicas": 1},
        }
        workloads = operator.manager.informers.informer_for(("apps/v1", "Deployment"))
        assert workloads.transform is not None and workloads.transform(deployment)["spec"] == {"replicas": 1}
    finally:
        await operator.provisioners.close()
