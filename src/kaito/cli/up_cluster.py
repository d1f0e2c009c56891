"""`kaito up`'s embedded cluster in a child process (:mod:`kaito.sim.child`), started and stopped.

``async with ClusterProcess(config, err=sys.stderr) as handshake:`` starts ``sys.executable -m
kaito.sim.child CONFIG``, waits for its handshake line with a deadline, and yields it; on leaving, the child
is told to stop (its stdin, the lifeline, is closed), awaited with a deadline (its durable data flushed),
and killed only if it overstays. The child's stderr (its logs) is copied to ``err`` as it comes once the
cluster serves; if the child exits (or overstays the deadline) before its handshake,
:class:`ClusterStartError` carries the tail of its stderr as the reason. Since the lifeline is a pipe only
this process holds, the child also stops when this process dies, however it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import deque
from types import TracebackType
from typing import TextIO

from kaito.sim.child import ChildConfig, Handshake

__all__ = ["ClusterProcess", "ClusterStartError"]

_TAIL_LINES = 20


class ClusterStartError(RuntimeError):
    """The embedded cluster's process did not start: its message is the reason (the child's stderr tail)."""


class ClusterProcess:
    """The embedded cluster in a child process (see the module docstring)."""

    def __init__(
        self,
        config: ChildConfig,
        *,
        err: TextIO,
        start_within_s: float = 60.0,
        stop_within_s: float = 30.0,
    ) -> None:
        self.config = config
        self._err = err
        self._start_within_s = start_within_s
        self._stop_within_s = stop_within_s
        self.process: asyncio.subprocess.Process | None = None
        self._tail: deque[str] = deque(maxlen=_TAIL_LINES)
        self._held: list[str] | None = []  # stderr lines before the handshake (None: copied as they come)
        self._pump: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def __aenter__(self) -> Handshake:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kaito.sim.child", self.config.to_json(),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._pump = asyncio.create_task(self._copy_stderr(), name="kaito-up-cluster-stderr")
        try:
            return await self._handshake()
        except BaseException:
            await self.stop()
            raise

    async def _handshake(self) -> Handshake:
        assert self.process is not None and self.process.stdout is not None
        try:
            async with asyncio.timeout(self._start_within_s):
                line = await self.process.stdout.readline()
        except TimeoutError:
            raise ClusterStartError(
                f"the embedded cluster did not start within {self._start_within_s:g} s{self._tail_text()}"
            ) from None
        if not line:
            code = await self.process.wait()
            await self._drain()
            tail = "\n".join(self._tail).strip()
            if code == 1 and tail:
                raise ClusterStartError(tail)
            raise ClusterStartError(
                f"the embedded cluster's process exited with {code} before it served{self._tail_text()}"
            )
        handshake = Handshake.from_json(line)
        for held in self._held or ():
            self._err.write(held)
        self._held = None
        return handshake

    def _tail_text(self) -> str:
        tail = "\n".join(self._tail).strip()
        return f":\n{tail}" if tail else ""

    async def _copy_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while line := (await self.process.stderr.readline()).decode(errors="replace"):
            self._tail.append(line.rstrip("\n"))
            if self._held is not None:
                self._held.append(line)
            else:
                self._err.write(line)
                self._err.flush()

    async def _drain(self) -> None:
        if self._pump is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pump), 5.0)

    async def stop(self) -> int | None:
        """Tell the child to stop and wait for it (kill it past the deadline); its exit code."""
        process = self.process
        if process is None:
            return None
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        try:
            async with asyncio.timeout(self._stop_within_s):
                code = await process.wait()
        except TimeoutError:
            process.kill()
            code = await process.wait()
        await self._drain()
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
        return code

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
