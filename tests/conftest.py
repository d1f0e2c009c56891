"""Shared test configuration."""

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_data_home_for_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """$XDG_DATA_HOME of module- and session-scoped fixtures (the e2e suites' `kaito up`): set before them.

    Without it those fixtures started before the per-test one below and `kaito up` reused the developer's own
    cluster (one a `make run` had left there).
    """
    home = tmp_path_factory.mktemp("xdg-data-session")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", str(home))
        yield home


@pytest.fixture(autouse=True)
def _private_data_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`kaito up` keeps its cluster under $XDG_DATA_HOME by default: never the developer's own, in a test."""
    home = tmp_path_factory.mktemp("xdg-data")
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home
