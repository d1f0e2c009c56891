"""Mirror every ConfigMap of one namespace into another: a complete custom controller on kaito.ctrl.

    kaito sim up &                                   # writes ./kaito-sim.kubeconfig
    kubectl --kubeconfig kaito-sim.kubeconfig create namespace mirror
    python examples/configmap_mirror.py --kubeconfig kaito-sim.kubeconfig --source default --target mirror

Level-triggered: each reconcile reads the source through the manager's cached client (from the shared cache,
no request) and applies the mirror (server-side apply), or deletes the mirror when the source is gone.
Edits to a mirror enqueue its source, so drift heals.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from kaito import ctrl

CONFIGMAP = ctrl.GVK("v1", "ConfigMap")
SOURCE = "mirror.kaito.sh/source-namespace"


class ConfigMapMirror:
    """Makes target/<name> a copy of source/<name>."""

    def __init__(self, client: ctrl.CachedClient, target: str) -> None:
        self.client, self.target = client, target

    async def reconcile(self, request: ctrl.Request) -> ctrl.Result:
        try:
            source = await self.client.get(CONFIGMAP, request.name, request.namespace)
        except ctrl.NotFound:
            with contextlib.suppress(ctrl.NotFound):
                await self.client.delete(CONFIGMAP, request.name, self.target)
            return ctrl.Result()
        labels = {SOURCE: request.namespace}
        await self.client.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": request.name, "namespace": self.target, "labels": labels},
                "data": ctrl.thaw(source.get("data") or {}),
            }
        )
        return ctrl.Result()


def source_of(mirror: Any) -> list[ctrl.Request]:
    """A mirror's source, from its label (nothing for ConfigMaps we did not write)."""
    namespace = (mirror["metadata"].get("labels") or {}).get(SOURCE)
    return [ctrl.Request(namespace, mirror["metadata"]["name"])] if namespace else []


def build_manager(client: ctrl.Client, source: str, target: str, **options: Any) -> ctrl.Manager:
    """A manager running the mirror controller from `source` to `target`."""
    manager = ctrl.Manager(client, **options)
    (
        ctrl.ControllerBuilder(manager)
        .named("configmap-mirror")
        .for_(CONFIGMAP, namespace=source)
        .watches(CONFIGMAP, source_of, namespace=target)
        .complete(ConfigMapMirror(manager.cached_client, target))
    )
    return manager


async def main() -> int:
    parser = argparse.ArgumentParser(description="Mirror the ConfigMaps of --source into --target.")
    parser.add_argument("--kubeconfig", default=None)
    parser.add_argument("--source", default="default")
    parser.add_argument("--target", default="mirror")
    args = parser.parse_args()
    ctrl.configure_logging()
    async with await ctrl.Client.from_kubeconfig(args.kubeconfig, field_manager="configmap-mirror") as client:
        return await ctrl.run_until_stopped(build_manager(client, args.source, args.target))


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
