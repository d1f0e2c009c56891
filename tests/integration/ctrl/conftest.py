"""Fixtures for kaito.ctrl integration tests: a bare cluster (no workloads, no ARM) and a client over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from prometheus_client import CollectorRegistry

from kaito.ctrl.client import Client
from kaito.sim.cluster import Cluster


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"workloads": False, "arm": False}


@pytest_asyncio.fixture
async def client(cluster: Cluster) -> AsyncIterator[Client]:
    async with await Client.from_kubeconfig(str(cluster.kubeconfig)) as c:
        yield c


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


async def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Poll `condition` every 20 ms until it holds; fail after `within` seconds."""
    for _ in range(int(within / 0.02) + 1):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition still false after {within}s")


@pytest.fixture
def eventually() -> Callable[..., Any]:
    return wait_until


def configmap(name: str, namespace: str = "default", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


@pytest.fixture
def make_configmap() -> Callable[..., dict[str, Any]]:
    return configmap
