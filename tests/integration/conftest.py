"""Integration fixtures: a running kaito.sim cluster per test, and its kubeconfig.

``cluster`` starts a fresh :class:`kaito.sim.cluster.Cluster` for each test (function scope: no state leaks
between tests) and stops it afterwards. What it runs is chosen by the ``sim_options`` fixture, the keyword
arguments of ``Cluster(...)``; a module or test overrides it to turn parts off or on, e.g.::

    @pytest.fixture
    def sim_options() -> dict[str, Any]:
        return {"workloads": False, "arm": False}

The default is the whole cluster (API server, workloads, ARM endpoint), as the operator sees it.
``kubeconfig`` is the path of the cluster's generated kubeconfig (context ``kaito-sim``), for kubectl
(``KUBECONFIG=...``) or any client's ``load_kube_config(config_file=...)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kaito.sim.cluster import Cluster


@pytest.fixture
def sim_options() -> dict[str, Any]:
    """Keyword arguments for the ``cluster`` fixture's ``Cluster(...)``; override to change them."""
    return {}


@pytest_asyncio.fixture
async def cluster(sim_options: dict[str, Any]) -> AsyncIterator[Cluster]:
    """A started kaito.sim cluster, stopped when the test ends."""
    async with Cluster(**sim_options) as running:
        yield running


@pytest.fixture
def kubeconfig(cluster: Cluster) -> Path:
    """Path of the running cluster's kubeconfig file."""
    return Path(cluster.kubeconfig)
