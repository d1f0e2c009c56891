"""The OpenAI chat shapes of the transformers runtime: what clients send and what they read back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kaito.serve.openai import (
    DEFAULT_MAX_TOKENS,
    chat_chunk,
    chat_completion,
    models_list,
    parse_chat_request,
    sse_event,
)
from kaito.serve.prompt import PromptError


def test_a_chat_request_parses_with_text_parts_joined() -> None:
    body = {
        "model": "tiny",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Say "}, {"text": "hi"}]}],
        "max_completion_tokens": 5,
        "stop": "!",
    }
    request = parse_chat_request(body, "tiny")
    assert request.messages[0].content == "Say hi"
    assert request.new_tokens == 5 and request.stop_strings == ["!"] and not request.stream
    assert parse_chat_request({"messages": body["messages"]}, "tiny").new_tokens == DEFAULT_MAX_TOKENS


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"messages": []}, 400, "messages is []"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 2}, 400, "n is 2"),
        ({"messages": [{"role": "user", "content": "x"}], "model": "gpt-4"}, 404, "model is 'gpt-4'"),
        ({"messages": [{"role": "user", "content": 3}]}, 400, "messages[].content is 3"),
        ("text", 400, "The request body must be a JSON object"),
    ],
)
def test_bad_chat_requests_name_the_field(body: Any, status: int, message: str) -> None:
    with pytest.raises(PromptError) as caught:
        parse_chat_request(body, "tiny")
    assert caught.value.status == status and caught.value.detail.startswith(message)


def test_answers_have_openais_shapes() -> None:
    done = chat_completion(
        completion_id="c1", model="tiny", created=1, text="hi", finish_reason="stop",
        prompt_tokens=3, completion_tokens=1,
    )  # fmt: skip
    assert done["object"] == "chat.completion"
    assert done["choices"][0]["message"] == {"role": "assistant", "content": "hi"}
    assert done["usage"] == {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    chunk = chat_chunk(completion_id="c1", model="tiny", created=1, delta={"content": "h"})
    assert chunk["object"] == "chat.completion.chunk" and chunk["choices"][0]["finish_reason"] is None
    assert models_list("tiny", 1)["data"][0]["id"] == "tiny"


def test_server_sent_events_are_data_lines_ending_with_done() -> None:
    event = sse_event({"a": 1})
    assert event == b'data: {"a":1}\n\n' and json.loads(event[6:]) == {"a": 1}
    assert sse_event("[DONE]") == b"data: [DONE]\n\n"
