"""Reads a Hugging Face model's metadata over HTTP and builds its preset (kaito.runtimes.hf_preset).

`ModelHub.preset(repo, token)` fetches, from `<base>/<repo>/resolve/main/`:

1. config.json (the model's shape);
2. model.safetensors.index.json, whose `metadata.total_size` is the weights' bytes; when the model has
   no index (a single-file checkpoint), a HEAD of model.safetensors, whose size the hub reports as
   `X-Linked-Size` (LFS files) or `Content-Length`.

The base URL defaults to `HF_ENDPOINT` (the hub client's own variable) or https://huggingface.co, so tests
and air-gapped mirrors point it elsewhere. The token, when the Workspace names a model-access Secret, goes
only into the Authorization header: it is never logged or put in an error. Results are cached per
(repo, with or without a token) for `ttl` seconds, so a reconcile loop does not hammer the hub.

Errors are `ModelHubError` with a sentence and `permanent`: a missing repo or unsizable metadata is
permanent (only a spec change helps); a gated model without a token, a refused token, a timeout or a 5xx
is not (a Secret may appear, the hub may come back).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kaito.runtimes import Preset, UnsizableModelError, preset_from_hf, weights_bytes_from_index

if TYPE_CHECKING:  # aiohttp loads with the first hub request, not with kaito.controllers
    import aiohttp

__all__ = ["DEFAULT_HUB", "ModelHub", "ModelHubError"]

DEFAULT_HUB = "https://huggingface.co"
_TIMEOUT_S = 30.0


class ModelHubError(Exception):
    """The model's metadata could not be read or sized; `permanent` when only a spec change can fix it."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class ModelHub:
    """A small client of the Hugging Face hub's file endpoints, with a per-repo cache."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = (base_url or os.environ.get("HF_ENDPOINT") or DEFAULT_HUB).rstrip("/")
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[str, bool], tuple[float, Preset]] = {}

    async def preset(self, repo: str, token: str | None = None) -> Preset:
        """The preset for `repo`, sized from its hub metadata; raises ModelHubError."""
        key = (repo.lower(), token is not None)
        cached = self._cache.get(key)
        if cached is not None and self._clock() - cached[0] < self.ttl:
            return cached[1]
        import aiohttp

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        timeout = aiohttp.ClientTimeout(total=_TIMEOUT_S)
        try:
            async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
                config = await self._json(session, repo, "config.json", token is not None, required=True)
                assert config is not None
                size = await self._weights_bytes(session, repo, token is not None)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ModelHubError(
                f"cannot reach the model hub at {self.base_url} for {repo} ({type(error).__name__}); "
                "kaito retries.",
                permanent=False,
            ) from None
        try:
            preset = preset_from_hf(repo, config, size or 0, gated=token is not None)
        except UnsizableModelError as error:
            raise ModelHubError(str(error), permanent=True) from None
        self._cache[key] = (self._clock(), preset)
        return preset

    def _url(self, repo: str, filename: str) -> str:
        return f"{self.base_url}/{repo}/resolve/main/{filename}"

    def _refused(self, repo: str, status: int, with_token: bool) -> ModelHubError:
        if status in (401, 403) and not with_token:
            return ModelHubError(
                f"{repo} is gated on the model hub (HTTP {status}); set "
                "inference.preset.presetOptions.modelAccessSecret to a Secret whose HF_TOKEN key holds a "
                "token with access to it.",
                permanent=False,
            )
        if status in (401, 403):
            return ModelHubError(
                f"the model hub refused the token from the model-access Secret for {repo} (HTTP {status}); "
                "request access to the model on its page, or put a token that has it in the Secret.",
                permanent=False,
            )
        if status == 404:
            return ModelHubError(
                f"{repo} is not a model on {self.base_url} (config.json not found); check the spelling of "
                "inference.preset.name (org/model, as on the model's page) or use a preset from "
                "`kaito presets`.",
                permanent=True,
            )
        return ModelHubError(
            f"the model hub answered HTTP {status} for {repo}; kaito retries.", permanent=status < 500
        )

    async def _json(
        self, session: aiohttp.ClientSession, repo: str, filename: str, with_token: bool, *, required: bool
    ) -> dict[str, Any] | None:
        async with session.get(self._url(repo, filename)) as response:
            if response.status == 404 and not required:
                return None
            if response.status != 200:
                raise self._refused(repo, response.status, with_token)
            text = await response.text()
        try:
            loaded = json.loads(text)
        except ValueError:
            raise ModelHubError(
                f"{repo}'s {filename} is not valid JSON, so kaito cannot size it.", permanent=True
            ) from None
        if not isinstance(loaded, dict):
            raise ModelHubError(f"{repo}'s {filename} is not a JSON object.", permanent=True)
        return loaded

    async def _weights_bytes(self, session: aiohttp.ClientSession, repo: str, with_token: bool) -> int | None:
        index = await self._json(session, repo, "model.safetensors.index.json", with_token, required=False)
        if index is not None:
            return weights_bytes_from_index(index)
        # Not followed: the hub redirects LFS files to a CDN, and the token must not travel there.
        async with session.head(self._url(repo, "model.safetensors"), allow_redirects=False) as response:
            if response.status == 404:
                return None
            if response.status not in (200, 301, 302, 307, 308):
                raise self._refused(repo, response.status, with_token)
            for header in ("X-Linked-Size", "Content-Length"):
                value = response.headers.get(header, "")
                if value.isdigit() and int(value) > 0:
                    return int(value)
        return None
