"""The example controller (examples/configmap_mirror.py) mirrors ConfigMaps in the embedded cluster."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from kaito.ctrl.client import GVK, Client
from kaito.ctrl.errors import NotFound

pytestmark = pytest.mark.integration

CM = GVK("v1", "ConfigMap")
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "configmap_mirror.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("configmap_mirror_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def test_mirror_follows_create_update_delete_and_heals_drift(
    client: Client, make_configmap: Any, eventually: Any
) -> None:
    example = load_example()
    await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mirror"}})
    await client.create(make_configmap("settings", color="blue"))
    manager = example.build_manager(
        client, "default", "mirror", registry=CollectorRegistry(), probe_port=None
    )
    run = asyncio.create_task(manager.run())

    async def until(expected: Any) -> None:
        data: Any = "never read"
        for _ in range(200):
            try:
                data = (await client.get(CM, "settings", "mirror")).get("data")
            except NotFound:
                data = None
            if data == expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"mirror data is {data!r}, expected {expected!r}")

    await until({"color": "blue"})
    await client.patch(CM, "settings", {"data": {"color": "green"}})
    await until({"color": "green"})
    await client.patch(CM, "settings", {"data": {"color": "tampered"}}, namespace="mirror")
    await until({"color": "green"})
    await client.delete(CM, "settings")
    await until(None)
    manager.stop()
    await asyncio.wait_for(run, 10)
