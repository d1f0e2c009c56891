"""KAITO's prompt API: requests as KAITO documented them, and the settings each engine receives."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.serve.prompt import (
    PROMPT_REQUIRED,
    GenerateKwargs,
    PromptError,
    generation_budget,
    hf_generate_kwargs,
    parse_prompt_request,
    prompt_result,
    prompt_text,
    vllm_sampling,
)


def test_the_seed_quick_start_request_parses_with_kaitos_defaults() -> None:
    request = parse_prompt_request({"prompt": "YOUR QUESTION HERE"})
    assert request.prompt == "YOUR QUESTION HERE" and request.return_full_text
    assert request.generate_kwargs.max_length == 200 and request.generate_kwargs.top_k == 10


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, PROMPT_REQUIRED),
        ({"prompt": ""}, PROMPT_REQUIRED),
        ({"messages": []}, PROMPT_REQUIRED),
        ([1, 2], "The request body must be a JSON object with a prompt; got list."),
        ({"prompt": "hi", "generate_kwargs": {"max_length": 0}}, "generate_kwargs.max_length is 0"),
        ({"prompt": "hi", "generate_kwargs": {"top_p": 2}}, "generate_kwargs.top_p is 2"),
    ],
)
def test_bad_requests_are_refused_with_a_sentence_naming_the_field(body: Any, detail: str) -> None:
    with pytest.raises(PromptError) as caught:
        parse_prompt_request(body)
    assert caught.value.status == 400 and caught.value.detail.startswith(detail)


def test_unknown_generate_kwargs_are_kept_for_generate() -> None:
    request = parse_prompt_request({"prompt": "hi", "generate_kwargs": {"no_repeat_ngram_size": 3}})
    assert hf_generate_kwargs(request.generate_kwargs, 5)["no_repeat_ngram_size"] == 3


@pytest.mark.parametrize(
    ("kwargs", "prompt_tokens", "budget"),
    [
        ({}, 10, (190, 0)),  # max_length 200 counts the prompt
        ({"max_length": 50, "min_length": 30}, 10, (40, 20)),
        ({"max_new_tokens": 7}, 500, (7, 0)),  # explicit new-token budget wins
        ({"max_length": 20, "min_length": 100}, 10, (10, 10)),  # min never above max
    ],
)
def test_generation_budget_counts_the_prompt_as_max_length_does(
    kwargs: dict[str, Any], prompt_tokens: int, budget: tuple[int, int]
) -> None:
    assert generation_budget(GenerateKwargs(**kwargs), prompt_tokens) == budget


def test_a_prompt_longer_than_max_length_is_refused_saying_what_to_raise() -> None:
    with pytest.raises(PromptError, match=r"max_length is 200, but the prompt alone is 250 tokens"):
        generation_budget(GenerateKwargs(), 250)


def test_vllm_sampling_maps_kaitos_settings() -> None:
    params = vllm_sampling(GenerateKwargs(temperature=0.7, top_k=0, eos_token_id=2, seed=3), 10)  # type: ignore[call-arg]
    assert params == {
        "max_tokens": 190,
        "min_tokens": 0,
        "temperature": 0.7,
        "top_p": 1.0,
        "top_k": -1,
        "repetition_penalty": 1.0,
        "stop_token_ids": [2],
        "seed": 3,
    }
    assert vllm_sampling(GenerateKwargs(do_sample=False), 10)["temperature"] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"num_beams": 4}, "num_beams is 4"), ({"typical_p": 0.5}, "typical_p is 0.5")],
)
def test_vllm_refuses_what_it_cannot_do_instead_of_ignoring_it(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PromptError, match=message):
        vllm_sampling(GenerateKwargs(**kwargs), 1)


def test_hf_generate_kwargs_keep_sampling_off_when_do_sample_is_false() -> None:
    greedy = hf_generate_kwargs(GenerateKwargs(do_sample=False, num_beams=2, early_stopping=True), 4)
    assert greedy["do_sample"] is False and "temperature" not in greedy and greedy["num_beams"] == 2
    sampled = hf_generate_kwargs(GenerateKwargs(temperature=0.7, pad_token_id=0), 4)
    assert sampled["temperature"] == 0.7 and sampled["top_k"] == 10 and sampled["pad_token_id"] == 0


def test_the_answer_repeats_the_prompt_unless_asked_not_to() -> None:
    full = parse_prompt_request({"prompt": "Hello", "prefix": "Q: "})
    assert prompt_text(full) == "Q: Hello"
    assert prompt_result(full, prompt_text(full), " world") == {"Result": "Q: Hello world"}
    short = parse_prompt_request({"prompt": "Hello", "return_full_text": False})
    assert prompt_result(short, "Hello", " world") == {"Result": " world"}
    chat = parse_prompt_request({"messages": [{"role": "user", "content": "Hi"}]})
    assert chat.is_conversation and prompt_result(chat, "", "Hello!") == {"Result": "Hello!"}
    tidy = parse_prompt_request({"prompt": "A", "clean_up_tokenization_spaces": True})
    assert prompt_result(tidy, "A", " b , c .") == {"Result": "A b, c."}
