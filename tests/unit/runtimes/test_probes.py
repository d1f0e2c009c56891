"""Probes: /health everywhere, start-up allowance derived from the model's readiness timeout."""

from __future__ import annotations

import pytest

from kaito.runtimes.presets import get_preset
from kaito.runtimes.probes import exec_probes, http_probes, startup_failure_threshold


@pytest.mark.parametrize(("timeout_s", "threshold"), [(1800, 180), (3265, 327), (10800, 1080), (5, 1)])
def test_startup_failure_threshold_covers_the_timeout(timeout_s: int, threshold: int) -> None:
    assert startup_failure_threshold(timeout_s) == threshold


def test_http_probes() -> None:
    probes = http_probes(5000, get_preset("llama-3.3-70b-instruct").readiness_timeout_s)
    for name in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert probes[name]["httpGet"] == {"path": "/health", "port": 5000, "scheme": "HTTP"}
        assert probes[name]["periodSeconds"] == 10
    assert probes["startupProbe"]["failureThreshold"] == 327
    assert probes["readinessProbe"]["initialDelaySeconds"] == 30
    assert probes["livenessProbe"]["failureThreshold"] == 3


def test_probe_handlers_are_independent_copies() -> None:
    probes = http_probes(5000, 1800)
    probes["startupProbe"]["httpGet"]["port"] = 1
    assert probes["livenessProbe"]["httpGet"]["port"] == 5000


def test_exec_probes_check_the_leader_and_pass_on_workers() -> None:
    probes = exec_probes(5000, 1800)
    script = probes["readinessProbe"]["exec"]["command"][2]
    assert script.startswith('if [ "${POD_INDEX}" != "0" ]; then exit 0; fi;')
    assert "http://127.0.0.1:5000/health" in script
