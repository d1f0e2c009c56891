"""Figures of the kaito.serve end-to-end tests (marker ``e2e_serve``), in the terminal summary."""

from __future__ import annotations

from typing import Any

from e2e.serve.figures import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("e2e kaito.serve figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")
