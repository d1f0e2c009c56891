"""The kind suite's skip reasons: each missing tool is named, so a skip is never silent."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from e2e.kind import prerequisites

ENGINE_DOWN = (
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
)


@pytest.mark.parametrize(
    ("tools", "docker_info", "reason"),
    [
        (set(), (0, ""), "no docker CLI on PATH"),
        (
            {"docker", "kind", "kubectl"},
            (1, f"Client:\n{ENGINE_DOWN}\n"),
            f"no Docker engine (`docker info` failed: {ENGINE_DOWN})",
        ),
        ({"docker", "kind", "kubectl"}, (1, ""), "no Docker engine (`docker info` failed: exit code 1)"),
        ({"docker", "kubectl"}, (0, ""), "no kind binary on PATH"),
        ({"docker", "kind"}, (0, ""), "no kubectl on PATH"),
        ({"docker", "kind", "kubectl"}, (0, ""), None),
    ],
)
def test_the_first_missing_prerequisite_is_named(
    tools: set[str], docker_info: tuple[int, str], reason: str | None
) -> None:
    def which(name: str) -> str | None:
        return f"/usr/bin/{name}" if name in tools else None

    def run(argv: Sequence[str]) -> tuple[int, str]:
        assert list(argv[:2]) == ["docker", "info"]
        return docker_info

    found = prerequisites.missing_prerequisite(which, run)
    if reason is None:
        assert found is None
    else:
        assert found is not None and found.startswith(reason)
