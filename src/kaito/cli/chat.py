"""`kaito chat WORKSPACE [PROMPT]`: ask a Workspace's model, through the API server's Service proxy.

    kaito chat workspace-phi-3-mini "hello"        # one answer, streamed as it is generated
    kaito chat workspace-phi-3-mini                # a conversation: one line per turn, Ctrl-D to end
    kaito chat workspace-phi-3-mini "hello" --raw  # the OpenAI JSON answer, not streamed

It speaks OpenAI's `/v1/chat/completions` to Service `WORKSPACE` (port `http`) at
`/api/v1/namespaces/NS/services/WORKSPACE:http/proxy/...`, so it needs only a kubeconfig and works
against any cluster the kubeconfig reaches (kaito.sim or a real one); the model name comes from the
server's `/v1/models`. The kubeconfig is `--kubeconfig`, else $KUBECONFIG or ~/.kube/config, else the
`kaito-up.kubeconfig` that `kaito up` writes in the current directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TextIO

from kaito import ctrl
from kaito.ctrl.transport import HttpRequest

__all__ = ["ChatError", "add_parser", "chat_body", "proxy_path", "run", "sse_delta"]

_UP_KUBECONFIG = Path("kaito-up.kubeconfig")
_TIMEOUT_S = 600.0


class ChatError(Exception):
    """A sentence for the user: what went wrong and what to do."""


def add_parser(subparsers: Any) -> None:
    """Register `kaito chat`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "chat",
        help="ask a Workspace's model (one question, or a conversation) through its Service",
        description="Ask a Workspace's model through the API server's Service proxy (OpenAI chat "
        "completions); streams the answer. Without PROMPT, reads one question per line until end of input.",
    )
    parser.add_argument("workspace", metavar="WORKSPACE", help="the Workspace (and its Service) name")
    parser.add_argument("prompt", metavar="PROMPT", nargs="?", default=None, help="the question")
    parser.add_argument("-n", "--namespace", default="default", help="the Workspace's namespace")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: see kaito chat -h)")
    parser.add_argument("--context", default=None, help="kubeconfig context (default: the current one)")
    parser.add_argument("--raw", action="store_true", help="print the JSON answer instead of streaming text")
    parser.add_argument("--max-tokens", type=int, default=128, help="most tokens to generate (default 128)")
    parser.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (default 0.7)")
    parser.add_argument("--system", default=None, help="a system message to start the conversation")
    parser.set_defaults(func=run)


def proxy_path(namespace: str, workspace: str, path: str) -> str:
    """The API server path that reaches `path` on the Workspace's Service (port `http`)."""
    return f"/api/v1/namespaces/{namespace}/services/{workspace}:http/proxy/{path.lstrip('/')}"


def chat_body(
    model: str, messages: list[dict[str, str]], *, max_tokens: int, temperature: float, stream: bool
) -> dict[str, Any]:
    """An OpenAI chat completion request."""
    return {
        "model": model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stream": stream,
    }


def sse_delta(line: bytes) -> str | None:
    """The text a server-sent event line adds (None for keep-alives, role-only chunks and `[DONE]`)."""
    text = line.decode("utf-8", errors="replace").strip()
    if not text.startswith("data:"):
        return None
    payload = text[len("data:") :].strip()
    if payload == "[DONE]":
        return None
    choices = json.loads(payload).get("choices") or [{}]
    content = (choices[0].get("delta") or {}).get("content")
    return str(content) if content else None


def _kubeconfig(given: str | None) -> str | None:
    if given is not None:
        return given
    if os.environ.get("KUBECONFIG") or Path("~/.kube/config").expanduser().exists():
        return None
    return str(_UP_KUBECONFIG) if _UP_KUBECONFIG.exists() else None


class _Session:
    def __init__(self, client: ctrl.Client, args: argparse.Namespace) -> None:
        self.client = client
        self.args = args
        self.model = ""

    def _path(self, path: str) -> str:
        return proxy_path(self.args.namespace, self.args.workspace, path)

    async def _send(self, method: str, path: str, body: Any = None) -> ctrl.transport.HttpResponse:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        request = HttpRequest(method, self._path(path), headers=headers, body=body, timeout=_TIMEOUT_S)
        response = await self.client.transport.send(request)
        if response.status >= 400:
            detail = (await response.read()).decode(errors="replace").strip()
            response.close()
            raise ChatError(self._explain(response.status, detail))
        return response

    def _explain(self, status: int, detail: str) -> str:
        ws, ns = self.args.workspace, self.args.namespace
        if status == 404 and "services" in detail and "not found" in detail:
            return (
                f"Workspace {ws} has no Service in namespace {ns}; check the name and namespace "
                f"(kubectl get workspace -n {ns}), or wait until it has been created."
            )
        if status == 503:
            return (
                f"Service {ns}/{ws} has no ready pod yet ({detail[:200]}); wait until the Workspace is "
                f"ready (kubectl get workspace {ws} -n {ns})."
            )
        return f"the model server answered HTTP {status}: {detail[:500]}"

    async def resolve_model(self) -> None:
        response = await self._send("GET", "v1/models")
        data = json.loads(await response.read())
        models = [m.get("id") for m in data.get("data") or []]
        if not models:
            raise ChatError(
                f"Service {self.args.namespace}/{self.args.workspace} lists no model at /v1/models."
            )
        self.model = str(models[0])

    async def ask(self, messages: list[dict[str, str]], out: TextIO) -> str:
        """Send the conversation; print the answer (streamed, or the raw JSON); return the answer's text."""
        stream = not self.args.raw
        body = chat_body(
            self.model,
            messages,
            max_tokens=self.args.max_tokens,
            temperature=self.args.temperature,
            stream=stream,
        )
        response = await self._send("POST", "v1/chat/completions", body)
        if not stream:
            answer = json.loads(await response.read())
            print(json.dumps(answer, indent=2), file=out, flush=True)
            return str(answer["choices"][0]["message"]["content"] or "")
        pieces: list[str] = []
        try:
            async for piece in _deltas(response.iter_lines()):
                pieces.append(piece)
                print(piece, end="", file=out, flush=True)
        finally:
            response.close()
        print(file=out, flush=True)
        return "".join(pieces)


async def _deltas(lines: AsyncIterator[bytes]) -> AsyncIterator[str]:
    async for line in lines:
        piece = sse_delta(line)
        if piece is not None:
            yield piece


async def _chat(args: argparse.Namespace, out: TextIO, lines: TextIO) -> int:
    async with await ctrl.Client.from_kubeconfig(
        _kubeconfig(args.kubeconfig), context=args.context
    ) as client:
        session = _Session(client, args)
        await session.resolve_model()
        messages = [{"role": "system", "content": args.system}] if args.system else []
        if args.prompt is not None:
            await session.ask([*messages, {"role": "user", "content": args.prompt}], out)
            return 0
        interactive = lines.isatty()
        while True:
            if interactive:
                print("> ", end="", file=out, flush=True)
            line = await asyncio.to_thread(lines.readline)
            if not line:
                return 0
            question = line.strip()
            if not question:
                continue
            messages.append({"role": "user", "content": question})
            messages.append({"role": "assistant", "content": await session.ask(messages, out)})


def run(args: argparse.Namespace) -> int:
    """Entry point of `kaito chat` from parsed arguments."""
    if args.max_tokens < 1:
        print(f"error: --max-tokens is {args.max_tokens}; give 1 or more", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_chat(args, sys.stdout, sys.stdin))
    except ChatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ctrl.ConfigError, ctrl.TransportError) as error:
        print(f"error: cannot reach the cluster: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
