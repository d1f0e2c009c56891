"""``pods/{name}/attach`` over WebSocket: what ``kubectl run -it`` and ``kubectl attach`` read.

kubectl (1.30 and later) attaches over a WebSocket speaking ``v5.channel.k8s.io`` (or v4): every binary
message starts with a channel byte — 0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 terminal resize.
The sim has no live stream into a container, so attach follows the container's log: what the container
wrote so far (the sim's own ``sim: ...`` lines left out), then new output as it is written, until the
container terminates; then a Status on channel 3 (``Success``, or ``Failure`` with ``NonZeroExitCode`` and
the exit code, as the kubelet sends) and the socket closes. Input from the client (stdin, resizes) is read
and dropped: the processes run with no stdin. A request that is not a WebSocket upgrade (SPDY) is refused
with a sentence, which makes kubectl say why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import WSMsgType, web

__all__ = ["CHANNEL_PROTOCOLS", "attach_status", "container_exit", "serve_attach", "strip_sim_lines"]

CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
_STDOUT, _STATUS = 1, 3
ReadLog = Callable[[], str]
ReadPod = Callable[[], Mapping[str, Any] | None]


def strip_sim_lines(text: str) -> str:
    """The container's own output: the log without the simulator's ``sim: ...`` lines."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("sim: "))


def container_exit(pod: Mapping[str, Any] | None, container: str) -> int | None:
    """The container's exit code once it has terminated (None while it runs; -1 when the pod is gone)."""
    if pod is None:
        return -1
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            terminated = (status.get("state") or {}).get("terminated")
            if terminated is not None:
                return int(terminated.get("exitCode", 0))
    return None


def attach_status(exit_code: int) -> dict[str, Any]:
    """The Status the kubelet sends on channel 3 when the attached container ends."""
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {exit_code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
    }


async def serve_attach(
    request: web.Request, container: str, read_log: ReadLog, read_pod: ReadPod, *, interval: float = 0.1
) -> web.StreamResponse:
    """Stream ``container``'s output to a WebSocket client until it terminates."""
    ws = web.WebSocketResponse(protocols=CHANNEL_PROTOCOLS)
    if not ws.can_prepare(request).ok:
        return web.json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "message": "kaito.sim serves pods/attach over WebSocket (v5.channel.k8s.io) only; use "
                "kubectl 1.30 or later, or read the output with kubectl logs",
                "reason": "BadRequest",
                "code": 400,
            },
            status=400,
        )
    await ws.prepare(request)
    reader = asyncio.get_running_loop().create_task(_drain(ws))
    sent = 0
    try:
        while not ws.closed:
            code = container_exit(read_pod(), container)  # read before the log: the log is then complete
            text = strip_sim_lines(read_log())
            if len(text) > sent:
                await ws.send_bytes(bytes([_STDOUT]) + text[sent:].encode())
                sent = len(text)
            if code is not None:
                await ws.send_bytes(bytes([_STATUS]) + json.dumps(attach_status(max(code, 0))).encode())
                break
            await asyncio.sleep(interval)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await ws.close()
    return ws


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read and drop what the client sends (stdin, resizes) until it closes."""
    async for message in ws:
        if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            return
