"""Whether the kind suite can run here, and if not, the sentence saying why (pure: tested everywhere).

The suite needs the `docker` CLI with a reachable engine (to build the image and run kind's node
containers), the `kind` binary, and `kubectl`. `missing_prerequisite(which, run)` checks them in that order
with the two functions given (shutil.which and a subprocess runner in the suite; fakes in its test) and
returns None when all are there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["missing_prerequisite"]

Which = Callable[[str], str | None]
Run = Callable[[Sequence[str]], tuple[int, str]]  # (exit code, stderr)


def missing_prerequisite(which: Which, run: Run) -> str | None:
    """Why the kind suite cannot run (a sentence naming the tool and the way out), or None."""
    if which("docker") is None:
        return (
            "no docker CLI on PATH: the kind suite builds the image and runs kind in Docker; install Docker"
        )
    code, err = run(["docker", "info", "--format", "{{.ServerVersion}}"])
    if code != 0:
        detail = err.strip().splitlines()[-1] if err.strip() else f"exit code {code}"
        return f"no Docker engine (`docker info` failed: {detail}); start Docker to run the kind suite"
    if which("kind") is None:
        return "no kind binary on PATH: install kind (https://kind.sigs.k8s.io) to run the kind suite"
    if which("kubectl") is None:
        return "no kubectl on PATH: the kind suite applies manifests/default with kubectl"
    return None
