"""A `kaito up` child process for the e2e suites: started, followed by what it prints, stopped with Ctrl-C.

`running_kaito_up(args, directory)` starts `kaito up ARGS --kubeconfig-out DIRECTORY/kubeconfig` in its own
session (so its serving processes stop with it), collects its output on a thread, and on exit sends SIGINT
(SIGKILL after 60 s). `eventually` is the deadline-bounded wait both suites use.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

KAITO = Path(sys.executable).parent / "kaito"
T = TypeVar("T")


def eventually(check: Callable[[], T | None], within: float, what: str, interval: float = 0.5) -> T:
    """`check()` every `interval` s until it returns something truthy (returned); fails after `within`."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within:g}s")
        time.sleep(interval)


@dataclass
class KaitoUp:
    """A running `kaito up` and everything it printed so far."""

    process: subprocess.Popen[str]
    kubeconfig: Path
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str] = field(default_factory=queue.Queue)

    def output(self) -> str:
        """All it printed so far."""
        while True:
            try:
                self.lines.append(self._queue.get_nowait())
            except queue.Empty:
                return "".join(self.lines)

    def wait_for(self, pattern: str, within: float) -> re.Match[str]:
        """The first match of `pattern` in its output; fails early when it exits, with its last lines."""

        def seen() -> re.Match[str] | None:
            text = self.output()
            if self.process.poll() is not None:
                raise AssertionError(f"kaito up exited {self.process.returncode}:\n{self._tail()}")
            return re.search(pattern, text)

        try:
            return eventually(seen, within, f"kaito up printing {pattern!r}")
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- kaito up said:\n{self._tail()}") from None

    def _tail(self) -> str:
        self.output()
        return "".join(self.lines[-60:])

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    def get(self, *args: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", *args, "-o", "json"))  # type: ignore[no-any-return]


@contextlib.contextmanager
def running_kaito_up(args: list[str], directory: Path) -> Iterator[KaitoUp]:
    """`kaito up ARGS` writing its kubeconfig into `directory`, stopped (its whole session) on exit."""
    kubeconfig = directory / "kubeconfig"
    process = subprocess.Popen(
        [str(KAITO), "up", *args, "--kubeconfig-out", str(kubeconfig)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=directory, start_new_session=True,
    )  # fmt: skip
    up = KaitoUp(process, kubeconfig)
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: [up._queue.put(line) for line in stdout], daemon=True).start()
    try:
        yield up
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
