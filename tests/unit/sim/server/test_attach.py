"""What attach sends: the container's own output, and the kubelet's Status when the container ends."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.server.attach import attach_status, container_exit, strip_sim_lines


def test_the_simulators_own_lines_are_left_out() -> None:
    log = 'sim: pulled image "curlimages/curl"\n{"Result": "hi"}\nsim: container curl exited with code 0\n'
    assert strip_sim_lines(log) == '{"Result": "hi"}\n'


def _pod(state: dict[str, Any]) -> dict[str, Any]:
    return {"status": {"containerStatuses": [{"name": "curl", "state": state}]}}


@pytest.mark.parametrize(
    ("pod", "code"),
    [
        (_pod({"running": {}}), None),
        (_pod({"terminated": {"exitCode": 0}}), 0),
        (_pod({"terminated": {"exitCode": 7}}), 7),
        ({"status": {}}, None),
        (None, -1),  # the pod is gone
    ],
)
def test_the_container_exit_is_read_from_its_status(pod: dict[str, Any] | None, code: int | None) -> None:
    assert container_exit(pod, "curl") == code


def test_the_final_status_is_the_kubelets() -> None:
    assert attach_status(0) == {"metadata": {}, "status": "Success"}
    failed = attach_status(7)
    assert failed["reason"] == "NonZeroExitCode"
    assert failed["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]
