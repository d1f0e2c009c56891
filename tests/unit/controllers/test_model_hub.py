"""The hub client over real HTTP to a local server serving recorded metadata (tests/fixtures/hub)."""

from __future__ import annotations

import pytest

from fixtures.hub_server import GATED_TOKEN, serve_hub
from kaito.controllers.model_hub import ModelHub, ModelHubError


async def test_single_file_model_is_sized_from_the_linked_size_of_its_safetensors() -> None:
    async with serve_hub() as hub:
        preset = await ModelHub(hub.url).preset("Qwen/Qwen2.5-0.5B-Instruct")
        assert preset.name == "qwen2.5-0.5b-instruct"
        assert preset.weights_gib == pytest.approx(988_097_824 / 1024**3, abs=1e-4)
        assert [(m, p) for m, p, _ in hub.requests] == [
            ("GET", "/Qwen/Qwen2.5-0.5B-Instruct/resolve/main/config.json"),
            ("GET", "/Qwen/Qwen2.5-0.5B-Instruct/resolve/main/model.safetensors.index.json"),
            ("HEAD", "/Qwen/Qwen2.5-0.5B-Instruct/resolve/main/model.safetensors"),
        ]


async def test_sharded_model_is_sized_from_its_index_and_cached() -> None:
    now = [0.0]
    async with serve_hub() as hub:
        client = ModelHub(hub.url, ttl=60, clock=lambda: now[0])
        first = await client.preset("Qwen/Qwen2.5-7B-Instruct")
        assert first.weights_gib == pytest.approx(14.185, abs=0.001)
        assert await client.preset("Qwen/Qwen2.5-7B-Instruct") == first
        assert len(hub.requests) == 2  # config.json and the index, once
        now[0] = 61.0
        await client.preset("Qwen/Qwen2.5-7B-Instruct")
        assert len(hub.requests) == 4


async def test_gated_model_needs_the_token_which_goes_only_in_the_header() -> None:
    async with serve_hub() as hub:
        client = ModelHub(hub.url)
        with pytest.raises(ModelHubError) as raised:
            await client.preset("meta-llama/Llama-3.2-1B")
        assert "is gated on the model hub (HTTP 401)" in str(raised.value)
        assert "modelAccessSecret" in str(raised.value) and not raised.value.permanent
        with pytest.raises(ModelHubError) as refused:
            await client.preset("meta-llama/Llama-3.2-1B", "hf_wrong_token")
        assert "refused the token" in str(refused.value) and "hf_wrong_token" not in str(refused.value)
        preset = await client.preset("meta-llama/Llama-3.2-1B", GATED_TOKEN)
        assert preset.gated and (preset.layers, preset.head_dim) == (16, 64)
        assert hub.requests[-1][2] == f"Bearer {GATED_TOKEN}"


@pytest.mark.parametrize(
    ("repo", "message", "permanent"),
    [
        ("nobody/no-such-model", "nobody/no-such-model is not a model on", True),
        ("google-t5/t5-small", "gives no layer count (num_hidden_layers", True),
    ],
)
async def test_refusals_name_the_model_and_what_is_missing(repo: str, message: str, permanent: bool) -> None:
    async with serve_hub() as hub:
        with pytest.raises(ModelHubError) as raised:
            await ModelHub(hub.url).preset(repo)
        assert message in str(raised.value) and raised.value.permanent is permanent


async def test_an_unreachable_hub_is_retried_not_final() -> None:
    async with serve_hub() as hub:
        url = hub.url
    with pytest.raises(ModelHubError) as raised:
        await ModelHub(url).preset("Qwen/Qwen2.5-0.5B-Instruct")
    assert "cannot reach the model hub" in str(raised.value) and not raised.value.permanent
