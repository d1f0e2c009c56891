"""KAITO's prompt API, `POST /chat`: the request as KAITO's text-generation server took it, and its answer.

Request (JSON): `prompt` (text generation) or `messages` (`[{role, content}]`, a conversation),
`return_full_text` (default true: the answer repeats the prompt), `clean_up_tokenization_spaces`, `prefix`,
`handle_long_generation`, and `generate_kwargs` — `max_length` (default 200, prompt *plus* new tokens),
`min_length`, `do_sample`, `early_stopping`, `num_beams`, `temperature`, `top_k`, `top_p`, `typical_p`,
`repetition_penalty`, `pad_token_id`, `eos_token_id`, and any other `generate()` keyword (kept as given).
Answer: `{"Result": "<text>"}`. A request with neither prompt nor messages is HTTP 400
`{"detail": "Text generation parameter prompt required"}`, as KAITO answered.

Everything here is pure: the servers count the prompt's tokens, call `generation_budget`, and hand the
sampling settings from `vllm_sampling` or `hf_generate_kwargs` to their engine.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "PROMPT_REQUIRED",
    "GenerateKwargs",
    "Message",
    "PromptError",
    "PromptRequest",
    "generation_budget",
    "hf_generate_kwargs",
    "parse_prompt_request",
    "prompt_result",
    "prompt_text",
    "vllm_sampling",
]

PROMPT_REQUIRED = "Text generation parameter prompt required"


class PromptError(Exception):
    """A request the prompt API refuses: HTTP `status` with `{"detail": detail}`."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


class GenerateKwargs(BaseModel):
    """`generate_kwargs`, with KAITO's defaults; unknown keys are kept for `generate()`."""

    model_config = ConfigDict(extra="allow")

    max_length: int = Field(default=200, ge=1, description="prompt tokens + new tokens")
    min_length: int = Field(default=0, ge=0)
    do_sample: bool = True
    early_stopping: bool = False
    num_beams: int = Field(default=1, ge=1)
    temperature: float = Field(default=1.0, ge=0)
    top_k: int = Field(default=10, ge=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    typical_p: float = Field(default=1.0, gt=0, le=1)
    repetition_penalty: float = Field(default=1.0, gt=0)
    pad_token_id: int | None = None
    eos_token_id: int | None = None


class Message(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str


class PromptRequest(BaseModel):
    """The body of `POST /chat`."""

    model_config = ConfigDict(extra="allow")

    prompt: str | None = None
    messages: list[Message] | None = None
    return_full_text: bool = True
    clean_up_tokenization_spaces: bool = False
    prefix: str | None = None
    handle_long_generation: str | None = None
    generate_kwargs: GenerateKwargs = Field(default_factory=GenerateKwargs)

    @property
    def is_conversation(self) -> bool:
        """Whether the request carries messages rather than a prompt."""
        return not self.prompt and bool(self.messages)


def _field_path(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location)


def parse_prompt_request(body: Any) -> PromptRequest:
    """The validated request; PromptError naming the field and what it accepts otherwise."""
    if not isinstance(body, dict):
        raise PromptError(f"The request body must be a JSON object with a prompt; got {type(body).__name__}.")
    try:
        request = PromptRequest.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        raise PromptError(
            f"{_field_path(first['loc'])} is {first.get('input')!r}: {first['msg'].lower()}."
        ) from None
    if not request.prompt and not request.messages:
        raise PromptError(PROMPT_REQUIRED)
    return request


def generation_budget(kwargs: GenerateKwargs, prompt_tokens: int) -> tuple[int, int]:
    """(max new tokens, min new tokens): `max_length`/`min_length` count the prompt, as in HF `generate()`.

    An explicit `max_new_tokens` (or `min_new_tokens`) among the extra keys wins, as it does in `generate()`.
    """
    extra = kwargs.model_extra or {}
    if "max_new_tokens" in extra:
        max_new = int(extra["max_new_tokens"])
    else:
        max_new = kwargs.max_length - prompt_tokens
        if max_new < 1:
            raise PromptError(
                f"generate_kwargs.max_length is {kwargs.max_length}, but the prompt alone is {prompt_tokens} "
                "tokens; max_length counts the prompt and the new tokens, so give more than "
                f"{prompt_tokens} (or set generate_kwargs.max_new_tokens)."
            )
    if max_new < 1:
        raise PromptError(f"generate_kwargs.max_new_tokens is {max_new}; give 1 or more.")
    min_new = int(extra["min_new_tokens"]) if "min_new_tokens" in extra else kwargs.min_length - prompt_tokens
    return max_new, max(0, min(min_new, max_new))


def vllm_sampling(kwargs: GenerateKwargs, prompt_tokens: int) -> dict[str, Any]:
    """Keyword arguments of vLLM's `SamplingParams` equivalent to these `generate()` settings.

    vLLM samples one sequence: `num_beams` above 1 and `typical_p` below 1 have no equivalent and are
    refused with a sentence rather than ignored. `do_sample: false` is greedy decoding (temperature 0).
    """
    if kwargs.num_beams != 1:
        raise PromptError(
            f"generate_kwargs.num_beams is {kwargs.num_beams}; the vllm runtime does not run beam search "
            "through /chat, so use num_beams 1 (or the transformers runtime)."
        )
    if kwargs.typical_p != 1.0:
        raise PromptError(
            f"generate_kwargs.typical_p is {kwargs.typical_p:g}; the vllm runtime has no typical sampling, "
            "so use typical_p 1 (or the transformers runtime)."
        )
    max_new, min_new = generation_budget(kwargs, prompt_tokens)
    params: dict[str, Any] = {
        "max_tokens": max_new,
        "min_tokens": min_new,
        "temperature": kwargs.temperature if kwargs.do_sample else 0.0,
        "top_p": kwargs.top_p,
        "top_k": kwargs.top_k if kwargs.top_k > 0 else -1,
        "repetition_penalty": kwargs.repetition_penalty,
    }
    if kwargs.eos_token_id is not None:
        params["stop_token_ids"] = [kwargs.eos_token_id]
    extra = kwargs.model_extra or {}
    if "seed" in extra:
        params["seed"] = int(extra["seed"])
    return params


_BUDGET_KEYS = ("max_new_tokens", "min_new_tokens")


def hf_generate_kwargs(kwargs: GenerateKwargs, prompt_tokens: int) -> dict[str, Any]:
    """Keyword arguments of transformers' `model.generate()` for these settings (new-token budgets)."""
    max_new, min_new = generation_budget(kwargs, prompt_tokens)
    result: dict[str, Any] = {
        "max_new_tokens": max_new,
        "min_new_tokens": min_new,
        "do_sample": kwargs.do_sample,
        "num_beams": kwargs.num_beams,
        "early_stopping": kwargs.early_stopping,
        "repetition_penalty": kwargs.repetition_penalty,
    }
    if kwargs.do_sample:
        result.update(
            temperature=kwargs.temperature or 1.0,
            top_k=kwargs.top_k,
            top_p=kwargs.top_p,
            typical_p=kwargs.typical_p,
        )
    for key in ("pad_token_id", "eos_token_id"):
        value = getattr(kwargs, key)
        if value is not None:
            result[key] = value
    for key, value in (kwargs.model_extra or {}).items():
        if key not in _BUDGET_KEYS and key != "seed":
            result[key] = value
    return result


def prompt_text(request: PromptRequest) -> str:
    """The text the model continues for a prompt request: `prefix` (if any) then `prompt`."""
    return (request.prefix or "") + (request.prompt or "")


def prompt_result(request: PromptRequest, prompt_text: str, generated: str) -> dict[str, str]:
    """KAITO's answer: the prompt followed by the new text (`return_full_text`), or the new text alone.

    A conversation answers with the assistant's reply only, as KAITO's conversational pipeline did.
    """
    if request.clean_up_tokenization_spaces:
        generated = _clean_up(generated)
    if request.is_conversation or not request.return_full_text:
        return {"Result": generated}
    return {"Result": prompt_text + generated}


def _clean_up(text: str) -> str:
    """transformers' `clean_up_tokenization`: no space before punctuation and contractions."""
    for before, after in (
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
        (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ):  # fmt: skip
        text = text.replace(before, after)
    return text
