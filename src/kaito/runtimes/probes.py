"""Health probes for inference pods, with the start-up allowance derived from model size.

All probes hit GET /health on the serving port (vLLM and `transformers serve` both answer it once the model
is loaded). Start-up may take as long as the preset's readiness timeout — clamp(15 min + 18 s per GiB of
weights, 30 min, 180 min) — so the startup probe polls every 10 s with failureThreshold = timeout / 10 s;
liveness and readiness only start once it has passed:

* startupProbe:   period 10 s, failureThreshold ceil(timeout / 10 s)
* readinessProbe: initial delay 30 s, period 10 s
* livenessProbe:  period 10 s, failureThreshold 3

In a multi-node (Ray) StatefulSet only pod 0 runs the HTTP server; the other pods run a Ray worker whose
container exits if Ray dies, so their probes succeed by construction: the probes become an exec check that
asks /health on pod 0 and answers "healthy" on the workers.
"""

from __future__ import annotations

import copy
import math
from typing import Any

__all__ = [
    "HEALTH_PATH",
    "PROBE_PERIOD_S",
    "exec_probes",
    "http_probes",
    "startup_failure_threshold",
]

HEALTH_PATH = "/health"
PROBE_PERIOD_S = 10
_READINESS_DELAY_S = 30
_LIVENESS_FAILURES = 3


def startup_failure_threshold(readiness_timeout_s: int) -> int:
    """Startup probe failures allowed so that start-up may take `readiness_timeout_s`."""
    return max(1, math.ceil(readiness_timeout_s / PROBE_PERIOD_S))


def _probes(handler: dict[str, Any], readiness_timeout_s: int) -> dict[str, dict[str, Any]]:
    # Each probe gets its own copy of the handler so no two fields share (and alias) one dict.
    return {
        "startupProbe": {
            **copy.deepcopy(handler),
            "periodSeconds": PROBE_PERIOD_S,
            "failureThreshold": startup_failure_threshold(readiness_timeout_s),
            "timeoutSeconds": 5,
        },
        "readinessProbe": {
            **copy.deepcopy(handler),
            "initialDelaySeconds": _READINESS_DELAY_S,
            "periodSeconds": PROBE_PERIOD_S,
            "timeoutSeconds": 5,
        },
        "livenessProbe": {
            **copy.deepcopy(handler),
            "periodSeconds": PROBE_PERIOD_S,
            "failureThreshold": _LIVENESS_FAILURES,
            "timeoutSeconds": 5,
        },
    }


def http_probes(port: int, readiness_timeout_s: int) -> dict[str, dict[str, Any]]:
    """startupProbe / readinessProbe / livenessProbe fields for a container serving HTTP on `port`."""
    return _probes({"httpGet": {"path": HEALTH_PATH, "port": port, "scheme": "HTTP"}}, readiness_timeout_s)


def exec_probes(
    port: int, readiness_timeout_s: int, index_env: str = "POD_INDEX"
) -> dict[str, dict[str, Any]]:
    """Probe fields for a multi-node pod: /health on the leader (index 0), success on Ray workers."""
    check = (
        f'if [ "${{{index_env}}}" != "0" ]; then exit 0; fi; '
        'exec python3 -c "import sys, urllib.request; '
        f"url = 'http://127.0.0.1:{port}{HEALTH_PATH}'; "
        'sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"'
    )
    return _probes({"exec": {"command": ["/bin/sh", "-c", check]}}, readiness_timeout_s)
