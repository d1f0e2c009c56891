"""The fuzz suite: hypothesis at three doors of kaito.sim and the operator (issue 14).

Every test here carries the ``fuzz`` marker (``pytest -m fuzz``; ``-m "not fuzz"`` leaves it out). The
budget of examples is fixed in each module and derandomized, so a CI run tries the same inputs every time
and stays within its time box. The figures (inputs tried by door, server errors, controller crashes) are
printed at the end of the run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.fuzz.support import FIGURES

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.fuzz)
            item.add_marker(pytest.mark.integration)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(900))  # a fixed example budget, not a wait


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if sum(FIGURES.inputs.values()):
        terminalreporter.section("fuzz figures")
        for line in FIGURES.lines():
            terminalreporter.write_line(line)
