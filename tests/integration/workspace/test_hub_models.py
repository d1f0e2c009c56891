"""A Hugging Face model id as the preset: the operator reads the model's metadata from a hub over HTTP.

The hub is a local server serving recorded metadata (tests/fixtures/hub); the operator is pointed at it
through WorkspaceControllerOptions.model_hub_url, as an air-gapped mirror would be.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from fixtures.hub_server import GATED_TOKEN, HubServer, serve_hub
from kaito.controllers.workspace import WorkspaceControllerOptions

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def hub() -> AsyncIterator[HubServer]:
    async with serve_hub() as server:
        yield server


@pytest.fixture
def workspace_options(hub: HubServer) -> WorkspaceControllerOptions:
    return WorkspaceControllerOptions(recheck_interval=0.5, model_hub_url=hub.url)


def _workspace(name: str, model: str, secret: str | None = None) -> dict[str, Any]:
    preset: dict[str, Any] = {"name": model}
    if secret:
        preset["presetOptions"] = {"modelAccessSecret": secret}
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": name, "namespace": "default"},
        "resource": {
            "instanceType": "Standard_NV36ads_A10_v5",
            "labelSelector": {"matchLabels": {"a": name}},
        },
        "inference": {"preset": preset},
    }


async def test_gated_hub_model_is_sized_and_served_with_the_secrets_token(
    operator: Any, hub: HubServer
) -> None:
    name = "llama-1b-hub"
    model = "meta-llama/Llama-3.2-1B"
    await operator.apply(_workspace(name, model, "hf-token"))
    waiting = await operator.wait_condition(name, "ResourceReady", status="False")
    condition = operator.condition_of(waiting, "ResourceReady")
    assert condition["reason"] == "ModelAccessSecretNotFound"
    assert "Secret 'hf-token' does not exist" in condition["message"]

    token = base64.b64encode(GATED_TOKEN.encode()).decode()
    await operator.apply(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hf-token", "namespace": "default"},
         "data": {"HF_TOKEN": token}}
    )  # fmt: skip
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded")
    assert workspace["status"]["targetNodeCount"] == 1
    (deployment,) = [d for d in await operator.list("apps/v1", "Deployment") if d["metadata"]["name"] == name]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = " ".join(container["args"])
    assert f"--model {model}" in args and "--served-model-name llama-3.2-1b" in args
    assert "--trust-remote-code" in args and "--tool-call-parser llama3_json" in args
    assert {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "HF_TOKEN"}}} in (
        container["env"]
    )
    assert all(auth in (None, f"Bearer {GATED_TOKEN}") for _, _, auth in hub.requests)
    for event in await operator.events(name):
        assert GATED_TOKEN not in event["message"]


async def test_a_model_kaito_cannot_size_is_refused_by_name(operator: Any) -> None:
    name = "t5-hub"
    await operator.apply(_workspace(name, "google-t5/t5-small"))
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded", status="False")
    message = operator.condition_of(workspace, "WorkspaceSucceeded")["message"]
    assert message.startswith("inference.preset.name: google-t5/t5-small's config.json gives no layer count")
