"""`kaito up`'s embedded cluster in a child process: its failures explained, and no child outliving `up`.

The lifecycle tests run `kaito up` as a user does (``python -m kaito.cli up``, its own session), find its
cluster process among its children in /proc, then stop it with Ctrl-C (SIGINT to the process group) or kill
it with SIGKILL, and wait (with a deadline) for the child to be gone.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kaito.cli import build_parser
from kaito.cli.up_cluster import ClusterProcess, ClusterStartError
from kaito.sim.child import ChildConfig
from kaito.sim.server.durable import open_data_dir

pytestmark = pytest.mark.integration


def _run_up(*argv: str) -> int:
    args = build_parser().parse_args(["up", *argv])
    code: int = args.func(args)
    return code


def test_a_data_dir_in_use_is_refused_with_the_cluster_process_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backend, lock = open_data_dir(tmp_path / "data")  # as a first `kaito up` running on it holds it
    try:
        code = _run_up("--data-dir", str(tmp_path / "data"), "--kubeconfig-out", str(tmp_path / "kc"))
    finally:
        backend.close()
        lock.close()
    captured = capsys.readouterr()
    assert code == 1, captured
    assert "error: " in captured.err and "in use by another running kaito-sim" in captured.err, captured.err
    assert "export KUBECONFIG" not in captured.out


def test_a_port_in_use_is_refused_with_the_cluster_process_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = _run_up("--in-memory", "--port", str(port), "--kubeconfig-out", str(tmp_path / "kc"))
    captured = capsys.readouterr()
    assert code == 1, captured
    assert "error: cannot start the embedded cluster: " in captured.err, captured.err
    assert "address already in use" in captured.err.lower(), captured.err


async def test_a_child_that_exits_before_its_handshake_is_reported_with_its_stderr_tail() -> None:
    err = io.StringIO()
    bad = ChildConfig(process_runtime={"images": "not a mapping"})  # refused by the child at start
    with pytest.raises(ClusterStartError, match="images") as raised:
        async with ClusterProcess(bad, err=err):
            pass
    assert "exited with 1" not in str(raised.value)  # exit 1: the child's own words are the reason


async def test_a_child_that_overstays_its_start_deadline_is_stopped() -> None:
    process = ClusterProcess(ChildConfig(insecure=True), err=io.StringIO(), start_within_s=0.001)
    with pytest.raises(ClusterStartError, match="did not start within"):
        async with process:
            pass
    assert process.process is not None and process.process.returncode is not None


def _eventually(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {within:g} s")
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def _gone(pid: int) -> bool:
    """``pid`` has exited (no process, or a zombie waiting for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture
def up_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`kaito up --in-memory` in its own session, once it serves; (the process, its cluster child's pid)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kaito.cli", "up", "--in-memory", "--kubeconfig-out", str(tmp_path / "kc")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    children: list[int] = []
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or "press Ctrl-C" not in lines[-1]:
            line = process.stdout.readline()
            assert line, "kaito up exited before it served:\n" + "".join(lines)
            lines.append(line)
        children.extend(c for c in _children(process.pid) if "kaito.sim.child" in _cmdline(c))
        assert len(children) == 1, (children, lines)
        yield process, children[0]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for child in children:
            if not _gone(child):  # the test failed: leave nothing behind
                os.kill(child, signal.SIGKILL)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def test_ctrl_c_stops_the_operator_then_the_cluster_process_and_exits_0(
    up_process: tuple[subprocess.Popen[str], int],
) -> None:
    process, child = up_process
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground process group
    assert process.wait(60) == 0
    assert process.stdout is not None
    assert "stopping the operator and the cluster" in process.stdout.read()
    assert _gone(child), f"the cluster process {child} outlived kaito up"


def test_sigterm_stops_up_and_its_cluster_process(up_process: tuple[subprocess.Popen[str], int]) -> None:
    process, child = up_process
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    assert _gone(child), f"the cluster process {child} outlived kaito up"


def test_the_cluster_process_does_not_outlive_a_sigkilled_up(
    up_process: tuple[subprocess.Popen[str], int],
) -> None:
    process, child = up_process
    process.kill()  # SIGKILL to `kaito up` only: no chance to tell its child anything
    process.wait()
    _eventually(lambda: _gone(child), 30, f"the cluster process {child} exiting after its parent died")
