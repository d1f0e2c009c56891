"""The Workspace kind: every sample round-trips exactly, and the model reads like KAITO's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito.api.meta import LabelSelector, ObjectMeta
from kaito.api.workspace import InferenceSpec, PresetSpec, ResourceSpec, Workspace, WorkspaceList

SAMPLES = sorted((Path(__file__).parents[3] / "manifests" / "samples").glob("workspace-*.yaml"))


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def sample(name: str) -> Workspace:
    return Workspace.model_validate(load(next(p for p in SAMPLES if p.name == name)))


def test_the_samples_the_issue_asks_for_exist() -> None:
    assert {p.name for p in SAMPLES} >= {
        "workspace-phi-3-mini.yaml",
        "workspace-phi-3-mini-adapter.yaml",
        "workspace-tuning-phi-3.yaml",
        "workspace-llama-3.3-70b.yaml",
        "workspace-phi-3-mini-byo.yaml",
    }


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_round_trips_exactly(path: Path) -> None:
    data = load(path)
    workspace = Workspace.model_validate(data)
    assert workspace.model_dump(by_alias=True, exclude_none=True) == data
    assert workspace.to_wire() == data
    assert Workspace.model_validate(workspace.to_wire()) == workspace


def test_phi_3_sample_serves_the_preset_on_nc6s_v3() -> None:
    workspace = sample("workspace-phi-3-mini.yaml")
    assert workspace.resource.instance_type == "Standard_NC6s_v3"
    assert workspace.preset_name == "phi-3-mini-4k-instruct"
    assert workspace.is_inference and not workspace.is_tuning
    assert workspace.resource.node_count == 1


def test_adapter_sample_loads_one_adapter_at_full_strength() -> None:
    inference = sample("workspace-phi-3-mini-adapter.yaml").inference
    assert inference is not None and inference.adapters is not None
    assert [(a.source.name, a.strength) for a in inference.adapters] == [("phi-3-adapter", "1.0")]


def test_tuning_sample_uses_qlora_from_urls_to_an_image() -> None:
    workspace = sample("workspace-tuning-phi-3.yaml")
    assert workspace.tuning is not None and workspace.is_tuning
    assert workspace.tuning.method == "qlora"
    assert workspace.tuning.input.urls and workspace.tuning.output.image_push_secret
    assert workspace.preset_name == "phi-3-mini-4k-instruct"


def test_70b_sample_is_llama_on_nc48ads() -> None:
    workspace = sample("workspace-llama-3.3-70b.yaml")
    assert (workspace.preset_name, workspace.resource.instance_type) == (
        "llama-3.3-70b-instruct",
        "Standard_NC48ads_A100_v4",
    )


def test_byo_sample_has_no_instance_type() -> None:
    resource = sample("workspace-phi-3-mini-byo.yaml").resource
    assert resource.is_bring_your_own
    assert resource.preferred_nodes == ["gpu-node-0"]
    assert resource.label_selector.matches({"apps": "phi-3-byo"})


def test_a_workspace_built_in_python_has_kind_and_version() -> None:
    workspace = Workspace(
        metadata=ObjectMeta(name="ws", namespace="default"),
        resource=ResourceSpec(
            instance_type="Standard_NC6s_v3", label_selector=LabelSelector(match_labels={"a": "b"})
        ),
        inference=InferenceSpec(preset=PresetSpec(name="phi-3-mini-4k-instruct")),
    )
    assert workspace.to_wire() == {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "ws", "namespace": "default"},
        "resource": {"instanceType": "Standard_NC6s_v3", "labelSelector": {"matchLabels": {"a": "b"}}},
        "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}},
    }


def test_free_form_template_and_volume_are_kept_as_given() -> None:
    template = {"spec": {"containers": [{"name": "s", "image": "nginx", "futureField": {"x": [1, 2]}}]}}
    volume = {"csi": {"driver": "blob.csi.azure.com", "volumeAttributes": {"containerName": "data"}}}
    data = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "ws"},
        "resource": {"instanceType": "Standard_NC6s_v3", "labelSelector": {}},
        "inference": {"template": template, "adapters": [{"source": {"name": "a", "volumeSource": volume}}]},
    }
    assert Workspace.model_validate(data).to_wire() == data


def test_status_as_the_controller_writes_it_round_trips() -> None:
    status = {
        "workerNodes": ["aks-ws0-1234-vmss000000"],
        "state": "Ready",
        "targetNodeCount": 1,
        "conditions": [
            {
                "type": "ResourceReady",
                "status": "True",
                "observedGeneration": 1,
                "lastTransitionTime": "2024-05-01T12:00:00Z",
                "reason": "NodesReady",
                "message": "1 of 1 nodes ready",
            }
        ],
    }
    data = {**load(SAMPLES[0]), "status": status}
    workspace = Workspace.model_validate(data)
    assert workspace.to_wire() == data
    assert workspace.status is not None and workspace.status.state == "Ready"


def test_workspace_list_parses_items() -> None:
    data = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "WorkspaceList",
        "metadata": {"resourceVersion": "17"},
        "items": [load(path) for path in SAMPLES],
    }
    parsed = WorkspaceList.model_validate(data)
    assert len(parsed.items) == len(SAMPLES)
    assert parsed.to_wire() == data


def test_preset_name_is_none_for_a_template() -> None:
    workspace = Workspace(
        metadata=ObjectMeta(name="ws"),
        resource=ResourceSpec(label_selector=LabelSelector(match_labels={"a": "b"})),
        inference=InferenceSpec(template={"spec": {}}),
    )
    assert workspace.preset_name is None
