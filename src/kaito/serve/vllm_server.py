"""The vLLM runtime: vLLM's OpenAI server, built in-process, with KAITO's prompt API `/chat` on its engine.

vLLM's own entry point (`python -m vllm.entrypoints.openai.api_server`) builds an engine client, a FastAPI
app (`build_app`), fills the app's state (`init_app_state`) and serves it (`serve_http`). This module makes
the same calls — vLLM's public app-building functions, re-exported by `vllm.entrypoints.openai.api_server`
— and adds one route before serving: `POST /chat`, which maps KAITO's prompt request onto the engine that
also serves `/v1/*` (same model, same batching, same metrics). vLLM moves these functions between releases
and grows their signatures; they are looked up where this vLLM keeps them and called with the parameters
it declares. vLLM's flags, `--host` and `--port` included, are parsed by vLLM's own parser.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import signal
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from kaito.serve.prompt import PromptError, parse_prompt_request, prompt_result, prompt_text, vllm_sampling

__all__ = ["add_chat_route", "main"]

_ENTRY_MODULES = (
    "vllm.entrypoints.launchers.api_server.entry",
    "vllm.entrypoints.launchers.app",
    "vllm.entrypoints.launchers.launcher",
    "vllm.entrypoints.launchers.api_server.app_state",
    "vllm.entrypoints.openai.api_server",
    "vllm.entrypoints.launchers.cli_args",
    "vllm.entrypoints.openai.cli_args",
)


def _find(name: str) -> Any:
    """vLLM's function `name`, from the first module of this vLLM that defines it."""
    for module_name in _ENTRY_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, name):
            return getattr(module, name)
    raise RuntimeError(f"this vLLM has no {name} in {', '.join(_ENTRY_MODULES)}; kaito.serve cannot build it")


async def _call(function: Callable[..., Any], **available: Any) -> Any:
    """Call `function` with the parameters it declares out of `available` (awaiting a coroutine)."""
    parameters = inspect.signature(function).parameters
    result = function(**{k: v for k, v in available.items() if k in parameters})
    return await result if inspect.isawaitable(result) else result


async def _tokenizer(engine: Any, model: str) -> Any:
    renderer = getattr(engine, "renderer", None)
    if renderer is not None and hasattr(renderer, "get_tokenizer"):
        return renderer.get_tokenizer()
    if hasattr(engine, "get_tokenizer"):
        result = engine.get_tokenizer()
        return await result if inspect.isawaitable(result) else result
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model)


def add_chat_route(app: Any, engine: Any, model: str) -> None:
    """`POST /chat` (KAITO's prompt API) on `app`, answered by `engine`."""
    from fastapi import Request
    from fastapi.responses import JSONResponse
    from vllm import SamplingParams

    async def chat(raw: Request) -> JSONResponse:
        try:
            request = parse_prompt_request(await raw.json())
        except PromptError as error:
            return JSONResponse({"detail": error.detail}, status_code=error.status)
        except ValueError:
            return JSONResponse({"detail": "The request body must be JSON."}, status_code=400)
        tokenizer = await _tokenizer(engine, model)
        if request.is_conversation:
            messages = [m.model_dump() for m in request.messages or []]
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            shown = ""
        else:
            text = shown = prompt_text(request)
        try:
            params = vllm_sampling(request.generate_kwargs, len(tokenizer.encode(text)))
        except PromptError as error:
            return JSONResponse({"detail": error.detail}, status_code=error.status)
        final = None
        async for output in engine.generate(text, SamplingParams(**params), f"chat-{uuid.uuid4().hex}"):
            final = output
        generated = final.outputs[0].text if final is not None and final.outputs else ""
        return JSONResponse(prompt_result(request, shown, generated))

    # FastAPI reads the handler's annotations to inject the request; postponed (string) annotations name
    # Request, which is imported here rather than at module level, so give it the class itself.
    chat.__annotations__ = {"raw": Request, "return": JSONResponse}
    app.add_api_route("/chat", chat, methods=["POST"])


def _parse(argv: Sequence[str]) -> Any:
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    make_arg_parser = _find("make_arg_parser")
    parser = make_arg_parser(FlexibleArgumentParser(prog="python -m kaito.serve vllm"))
    args = parser.parse_args(list(argv))
    try:
        validate = _find("validate_parsed_serve_args")
    except RuntimeError:
        return args
    validate(args)
    return args


async def _serve(args: Any) -> None:
    setup_server = _find("setup_server")
    listen_address, sock = await _call(setup_server, args=args, reuse_port=False)
    async with _find("build_async_engine_client")(args) as engine:
        supported = await engine.get_supported_tasks() if hasattr(engine, "get_supported_tasks") else None
        app = await _call(
            _find("build_app"),
            args=args,
            supported_tasks=supported,
            model_config=getattr(engine, "model_config", None),
        )
        await _call(
            _find("init_app_state"),
            engine_client=engine,
            state=app.state,
            args=args,
            supported_tasks=supported,
            vllm_config=getattr(engine, "vllm_config", None),
        )
        model = args.served_model_name[0] if args.served_model_name else args.model
        add_chat_route(app, engine, args.tokenizer or args.model)
        print(f"kaito.serve: {model} on {listen_address}: /chat and vLLM's OpenAI routes", flush=True)
        shutdown = await _find("serve_http")(
            app,
            sock=sock,
            host=args.host,
            port=args.port,
            log_level=args.uvicorn_log_level,
            access_log=not args.disable_uvicorn_access_log,
        )
    try:
        await shutdown
    finally:
        sock.close()


def main(argv: Sequence[str]) -> int:
    """Parse vLLM's flags with vLLM's parser and serve until SIGTERM."""
    args = _parse(argv)

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt("terminated")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0
    return 0
