"""`kaito sim up` / `python -m kaito.sim`: argument parsing, and the foreground run until asked to stop."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from kaito.cli import build_parser
from kaito.sim.__main__ import DEFAULT_KUBECONFIG, main, serve
from kaito.sim.cluster import Cluster


def test_kaito_sim_up_parses_its_options() -> None:
    args = build_parser().parse_args(
        ["sim", "up", "--port", "7443", "--kubeconfig", "kc", "--snapshot", "s.json"]
    )
    assert (args.port, args.kubeconfig, args.snapshot) == (7443, Path("kc"), Path("s.json"))
    assert callable(args.func)
    defaults = build_parser().parse_args(["sim", "up"])
    assert (defaults.port, defaults.kubeconfig, defaults.snapshot) == (0, DEFAULT_KUBECONFIG, None)
    assert defaults.data_dir is None  # `kaito sim up` is in memory unless asked
    durable = build_parser().parse_args(["sim", "up", "--data-dir", "d"])
    assert durable.data_dir == Path("d")


def test_kaito_sim_up_keeps_state_in_a_data_dir_or_a_snapshot_not_both(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sim", "up", "--data-dir", "d", "--snapshot", "s.json"])
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"snapshot_path .* and data_dir .* were both given"):
        Cluster(snapshot_path="s.json", data_dir="d")


def test_kaito_sim_without_subcommand_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["sim"])
    assert args.func(args) == 2
    assert "up" in capsys.readouterr().out


def test_bad_port_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "70000", "--no-arm", "--no-workloads"]) == 2
    assert "--port is 70000" in capsys.readouterr().err


async def test_serve_writes_the_kubeconfig_and_stops_when_asked(tmp_path: Path) -> None:
    stop = asyncio.Event()
    out = io.StringIO()
    kubeconfig = tmp_path / "kc"
    cluster = Cluster(workloads=False, arm=False, kubeconfig_path=kubeconfig)
    ready = asyncio.Event()
    task = asyncio.create_task(serve(cluster, stop, out, ready))
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiting}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    assert ready.is_set(), task.exception() if task.done() else "the cluster did not start in 30 s"
    assert kubeconfig.exists() and cluster.url in kubeconfig.read_text()
    stop.set()
    await asyncio.wait_for(task, 10)
    assert out.getvalue().endswith("kaito-sim stopped\n")
    assert kubeconfig.exists()  # a path the user gave outlives the run
