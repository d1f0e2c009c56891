"""`kaito sim up` / `kaito up` as a user runs them: a foreground process, its kubeconfig, raw HTTPS to it.

:func:`foreground` starts ``python -m kaito.cli ARGS`` and yields once it prints its ready line, then stops
it with SIGTERM (as Ctrl-C would) and checks it exited 0. :func:`kubeconfig_access` reads what the written
kubeconfig holds: the server, a client TLS context trusting its embedded CA, the admin token.

Imported as ``integration.foreground`` (pytest's ``pythonpath = ["tests"]``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import ssl
import stat
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml

__all__ = ["Foreground", "KubeconfigAccess", "assert_secured", "foreground", "kubeconfig_access", "kubectl"]


@dataclass
class Foreground:
    """A running `kaito ...` process and what it printed so far (:attr:`output`, after stop: everything)."""

    process: asyncio.subprocess.Process
    output: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def foreground(*args: str, ready: str, within: float = 120.0) -> AsyncIterator[Foreground]:
    """Run ``kaito ARGS`` until the test is done; yields once a line containing ``ready`` was printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kaito.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    running = Foreground(process)
    assert process.stdout is not None
    try:
        async with asyncio.timeout(within):
            while not running.output or ready not in running.output[-1]:
                line = (await process.stdout.readline()).decode()
                assert line, "kaito exited before it was ready:\n" + "".join(running.output)
                running.output.append(line)
        yield running
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            rest = await process.stdout.read()
            code = await process.wait()
        running.output.append(rest.decode())
        assert code == 0, "".join(running.output)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@dataclass(frozen=True)
class KubeconfigAccess:
    """What a kubeconfig file gives its holder."""

    server: str
    ssl_context: ssl.SSLContext
    token: str


def kubeconfig_access(path: Path) -> KubeconfigAccess:
    """The server, a TLS context trusting only the embedded CA, and the user's token of ``path``."""
    config = yaml.safe_load(path.read_text())
    cluster = config["clusters"][0]["cluster"]
    ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
    return KubeconfigAccess(
        server=cluster["server"],
        ssl_context=ssl.create_default_context(cadata=ca),
        token=config["users"][0]["user"]["token"],
    )


async def kubectl(kubeconfig: Path, *args: str) -> tuple[int, str]:
    """``kubectl --kubeconfig KUBECONFIG ARGS``: its exit code and output (stdout, then stderr)."""
    process = await asyncio.create_subprocess_exec(
        "kubectl", "--kubeconfig", str(kubeconfig), "--cache-dir", str(kubeconfig.parent / "kubectl-cache"),
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode() + err.decode()


async def assert_secured(kubeconfig: Path) -> str:
    """What a user of a default `kaito sim up` / `kaito up` finds; kubectl's answer, or why it was skipped.

    The kubeconfig is private (0600) and names an https server with its CA; a request without a token or
    with a wrong one is 401 with kube's Status; the kubeconfig's own token is allowed; kubectl works with it.
    """
    assert stat.S_IMODE(os.stat(kubeconfig).st_mode) == 0o600
    access = kubeconfig_access(kubeconfig)
    assert access.server.startswith("https://127.0.0.1:")
    path = f"{access.server}/api/v1/namespaces/default/configmaps"
    connector = aiohttp.TCPConnector(ssl=access.ssl_context)
    async with aiohttp.ClientSession(connector=connector) as http:
        for headers in ({}, {"Authorization": "Bearer kaito-admin.a-guess"}):
            async with http.get(path, headers=headers) as answer:
                status = await answer.json()
            assert (answer.status, status["reason"], status["message"]) == (
                401,
                "Unauthorized",
                "Unauthorized",
            )
        async with http.get(path, headers={"Authorization": f"Bearer {access.token}"}) as answer:
            assert answer.status == 200
    if shutil.which("kubectl") is None:
        return "kubectl is not installed: the kubectl check was skipped"
    code, output = await kubectl(kubeconfig, "get", "configmaps", "-n", "kube-system", "-o", "name")
    assert code == 0, output
    return output
