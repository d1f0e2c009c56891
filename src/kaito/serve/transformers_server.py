"""The transformers runtime: one Hugging Face model (transformers + torch, CPU or GPU) behind HTTP.

Routes: `POST /chat` (KAITO's prompt API, kaito.serve.prompt), `POST /v1/chat/completions` (OpenAI,
non-streaming and SSE streaming, kaito.serve.openai), `GET /v1/models`, `GET /health` (200 once the model is
loaded), `GET /metrics` (Prometheus: requests by route and status, tokens generated, request latency).

One generation runs at a time (a lock): `generate()` holds the whole device, and a second concurrent call
would only slow both. Streaming runs `generate()` in a thread with transformers' `TextIteratorStreamer`
and forwards each piece of text as it is decoded. Heavy imports (torch, transformers, fastapi) happen here
only, so the pure modules of kaito.serve import without them.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import prometheus_client
import torch
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

from kaito.serve.openai import (
    FinishReason,
    chat_chunk,
    chat_completion,
    models_list,
    parse_chat_request,
    sse_event,
)
from kaito.serve.prompt import (
    PromptError,
    hf_generate_kwargs,
    parse_prompt_request,
    prompt_result,
    prompt_text,
)

__all__ = ["build_app", "main", "parse_args"]

_DTYPES = {"auto": "auto", "bfloat16": torch.bfloat16, "float16": torch.float16, "half": torch.float16}
_DTYPES |= {"float32": torch.float32, "float": torch.float32}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The transformers runtime's flags (the operator's table `transformers:` lists the same names)."""
    parser = argparse.ArgumentParser(prog="python -m kaito.serve transformers")
    parser.add_argument("--model", required=True, help="weights directory or Hugging Face repo id")
    parser.add_argument("--served-model-name", default=None, help="the model name clients use")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--dtype", default="auto", choices=sorted(_DTYPES))
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--attn-implementation", default=None)
    parser.add_argument("--default-seed", type=int, default=None)
    parser.add_argument("--log-level", default="info")
    return parser.parse_args(list(argv))


class _Model:
    """The loaded model and tokenizer, and the lock that serialises generation."""

    def __init__(self, args: argparse.Namespace) -> None:
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = _DTYPES[args.dtype]
        if device == "cpu" and dtype == torch.float16:
            dtype = torch.bfloat16  # float16 matmuls are slow or missing on CPUs
        extra: dict[str, Any] = {}
        if args.attn_implementation:
            extra["attn_implementation"] = args.attn_implementation
        self.tokenizer = AutoTokenizer.from_pretrained(args.model, trust_remote_code=args.trust_remote_code)
        self.model = AutoModelForCausalLM.from_pretrained(
            args.model, dtype=dtype, trust_remote_code=args.trust_remote_code, **extra
        ).to(device)
        self.model.eval()
        self.device = device
        self.seed = args.default_seed
        self.lock = asyncio.Lock()

    def encode_text(self, text: str) -> Any:
        return self.tokenizer(text, return_tensors="pt").to(self.device)

    def encode_chat(self, messages: list[dict[str, str]]) -> Any:
        ids = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        return ids.to(self.device)

    def generate(self, inputs: Any, kwargs: dict[str, Any]) -> tuple[str, int, int]:
        """(new text, prompt tokens, new tokens)."""
        if self.seed is not None:
            torch.manual_seed(self.seed)
        with torch.inference_mode():
            output = self.model.generate(**inputs, **kwargs)
        prompt_tokens = int(inputs["input_ids"].shape[-1])
        new = output[0][prompt_tokens:]
        return self.tokenizer.decode(new, skip_special_tokens=True), prompt_tokens, int(new.shape[-1])

    async def stream(self, inputs: Any, kwargs: dict[str, Any]) -> AsyncIterator[str]:
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)

        def run() -> None:
            with torch.inference_mode():
                self.model.generate(**inputs, **kwargs, streamer=streamer)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        iterator = iter(streamer)
        sentinel = object()
        while True:
            piece = await asyncio.to_thread(next, iterator, sentinel)
            if piece is sentinel:
                break
            if piece:
                yield str(piece)
        await asyncio.to_thread(thread.join)


def _chat_kwargs(request: Any, model: _Model) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"max_new_tokens": request.new_tokens, "do_sample": request.temperature > 0}
    if request.temperature > 0:
        kwargs.update(temperature=request.temperature, top_p=request.top_p)
    if request.stop_strings:
        kwargs.update(stop_strings=request.stop_strings, tokenizer=model.tokenizer)
    if model.tokenizer.pad_token_id is not None:
        kwargs["pad_token_id"] = model.tokenizer.pad_token_id
    return kwargs


def build_app(args: argparse.Namespace) -> FastAPI:
    """The HTTP app; the model loads at startup, `/health` answers 503 until it has."""
    served = args.served_model_name or args.model
    created = int(time.time())
    state: dict[str, _Model] = {}
    registry = prometheus_client.CollectorRegistry()
    requests_total = prometheus_client.Counter(
        "kaito_serve_requests", "Requests answered", ["route", "code"], registry=registry
    )
    tokens_total = prometheus_client.Counter(
        "kaito_serve_generated_tokens", "Tokens generated", ["model_name"], registry=registry
    )
    latency = prometheus_client.Histogram(
        "kaito_serve_request_seconds", "Time to answer a generation request", ["route"], registry=registry
    )

    async def load() -> None:
        state["model"] = await asyncio.to_thread(_Model, args)
        print(f"kaito.serve: {served} loaded on {state['model'].device}; serving", flush=True)

    app = FastAPI(title="kaito.serve (transformers)", on_startup=[load])

    def answer(route: str, body: Any, status: int = 200) -> JSONResponse:
        requests_total.labels(route, str(status)).inc()
        return JSONResponse(body, status_code=status)

    async def health() -> Response:
        return JSONResponse({"status": "ok"} if state else {"status": "loading"}, 200 if state else 503)

    async def metrics() -> Response:
        return Response(
            prometheus_client.generate_latest(registry), media_type=prometheus_client.CONTENT_TYPE_LATEST
        )

    async def models() -> Response:
        return answer("/v1/models", models_list(served, created))

    async def home() -> Response:
        return answer("/", {"message": f"kaito.serve (transformers) serving {served}"})

    async def chat(raw: Request) -> Response:
        started = time.monotonic()
        model = state["model"]
        try:
            request = parse_prompt_request(await raw.json())
            if request.is_conversation:
                inputs = model.encode_chat([m.model_dump() for m in request.messages or []])
                text = ""
            else:
                text = prompt_text(request)
                inputs = model.encode_text(text)
            kwargs = hf_generate_kwargs(request.generate_kwargs, int(inputs["input_ids"].shape[-1]))
        except PromptError as error:
            return answer("/chat", {"detail": error.detail}, error.status)
        except ValueError:
            return answer("/chat", {"detail": "The request body must be JSON."}, 400)
        async with model.lock:
            generated, _, new_tokens = await asyncio.to_thread(model.generate, inputs, kwargs)
        tokens_total.labels(served).inc(new_tokens)
        latency.labels("/chat").observe(time.monotonic() - started)
        return answer("/chat", prompt_result(request, text, generated))

    async def chat_completions(raw: Request) -> Response:
        started = time.monotonic()
        model = state["model"]
        try:
            request = parse_chat_request(await raw.json(), served)
        except PromptError as error:
            body = {"error": {"message": error.detail, "type": "invalid_request_error", "code": error.status}}
            return answer("/v1/chat/completions", body, error.status)
        except ValueError:
            return answer(
                "/v1/chat/completions", {"error": {"message": "The request body must be JSON."}}, 400
            )
        inputs = model.encode_chat([m.model_dump() for m in request.messages])
        kwargs = _chat_kwargs(request, model)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        prompt_tokens = int(inputs["input_ids"].shape[-1])
        if not request.stream:
            async with model.lock:
                text, _, new_tokens = await asyncio.to_thread(model.generate, inputs, kwargs)
            tokens_total.labels(served).inc(new_tokens)
            latency.labels("/v1/chat/completions").observe(time.monotonic() - started)
            return answer(
                "/v1/chat/completions",
                chat_completion(
                    completion_id=completion_id, model=served, created=int(time.time()), text=text,
                    finish_reason="length" if new_tokens >= request.new_tokens else "stop",
                    prompt_tokens=prompt_tokens, completion_tokens=new_tokens,
                ),
            )  # fmt: skip

        async def events() -> AsyncIterator[bytes]:
            now = int(time.time())
            common = {"completion_id": completion_id, "model": served, "created": now}
            yield sse_event(chat_chunk(**common, delta={"role": "assistant", "content": ""}))
            collected: list[str] = []
            async with model.lock:
                async for piece in model.stream(inputs, kwargs):
                    collected.append(piece)
                    yield sse_event(chat_chunk(**common, delta={"content": piece}))
            new_tokens = len(model.tokenizer("".join(collected), add_special_tokens=False)["input_ids"])
            tokens_total.labels(served).inc(new_tokens)
            finish: FinishReason = "length" if new_tokens >= request.new_tokens else "stop"
            yield sse_event(chat_chunk(**common, delta={}, finish_reason=finish))
            yield sse_event("[DONE]")
            latency.labels("/v1/chat/completions").observe(time.monotonic() - started)

        requests_total.labels("/v1/chat/completions", "200").inc()
        return StreamingResponse(events(), media_type="text/event-stream")

    app.add_api_route("/", home, methods=["GET"])
    app.add_api_route("/health", health, methods=["GET"])
    app.add_api_route("/healthz", health, methods=["GET"])
    app.add_api_route("/metrics", metrics, methods=["GET"])
    app.add_api_route("/v1/models", models, methods=["GET"])
    app.add_api_route("/chat", chat, methods=["POST"])
    app.add_api_route("/v1/chat/completions", chat_completions, methods=["POST"])
    return app


def main(argv: Sequence[str]) -> int:
    """Serve until stopped (SIGTERM ends uvicorn cleanly)."""
    args = parse_args(argv)
    uvicorn.run(build_app(args), host=args.host, port=args.port, log_level=args.log_level)
    return 0
