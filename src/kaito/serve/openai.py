"""The OpenAI chat shapes the transformers runtime answers with (vLLM answers with its own, identical).

`POST /v1/chat/completions` takes `model`, `messages`, `max_tokens` (or `max_completion_tokens`),
`temperature`, `top_p`, `stop`, `seed`, `n` (1 only) and `stream`; it answers a `chat.completion`, or with
`stream: true` server-sent events: a first chunk with `delta.role`, one chunk per piece of text, a last
chunk with `finish_reason`, then `data: [DONE]`. `GET /v1/models` lists the one served model. Pure.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kaito.serve.prompt import Message, PromptError

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "ChatCompletionRequest",
    "FinishReason",
    "chat_chunk",
    "chat_completion",
    "models_list",
    "parse_chat_request",
    "sse_event",
]

DEFAULT_MAX_TOKENS = 256
FinishReason = Literal["stop", "length"]


class ChatCompletionRequest(BaseModel):
    """The fields of an OpenAI chat completion request this server honours (others are ignored)."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = 1
    stream: bool = False

    @property
    def new_tokens(self) -> int:
        """How many tokens to generate at most."""
        return self.max_completion_tokens or self.max_tokens or DEFAULT_MAX_TOKENS

    @property
    def stop_strings(self) -> list[str]:
        """`stop` as a list."""
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    raise PromptError(f"messages[].content is {content!r}; give a string or a list of text parts.")


def parse_chat_request(body: Any, served_model: str) -> ChatCompletionRequest:
    """The validated request; PromptError (OpenAI's 400/404) naming the field otherwise."""
    if not isinstance(body, dict):
        raise PromptError("The request body must be a JSON object with messages.")
    messages = body.get("messages")
    if isinstance(messages, list):
        body = {
            **body,
            "messages": [
                {**m, "content": _content_text(m.get("content", ""))} if isinstance(m, dict) else m
                for m in messages
            ],
        }
    try:
        request = ChatCompletionRequest.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise PromptError(f"{where} is {first.get('input')!r}: {first['msg'].lower()}.") from None
    if request.n != 1:
        raise PromptError(f"n is {request.n}; this server returns one choice, so give n 1.")
    if request.model is not None and request.model != served_model:
        raise PromptError(
            f"model is {request.model!r}, but this server serves {served_model!r}; use that name.", 404
        )
    return request


def chat_completion(
    *,
    completion_id: str,
    model: str,
    created: int,
    text: str,
    finish_reason: FinishReason,
    prompt_tokens: int,
    completion_tokens: int,
) -> dict[str, Any]:
    """A non-streamed `chat.completion` object."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def chat_chunk(
    *,
    completion_id: str,
    model: str,
    created: int,
    delta: dict[str, str],
    finish_reason: FinishReason | None = None,
) -> dict[str, Any]:
    """One `chat.completion.chunk` of a streamed answer."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def sse_event(data: dict[str, Any] | str) -> bytes:
    """One server-sent event line pair: `data: <json>` (or `data: [DONE]`)."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()


def models_list(model: str, created: int) -> dict[str, Any]:
    """`GET /v1/models`: the one model this server serves."""
    return {
        "object": "list",
        "data": [{"id": model, "object": "model", "created": created, "owned_by": "kaito"}],
    }
