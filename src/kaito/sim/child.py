"""``python -m kaito.sim.child CONFIG``: the embedded cluster in a child process, for `kaito up`.

Real Kubernetes runs its API server apart from the controllers; `kaito up` does the same: it starts this
module in a child Python process (``sys.executable -m kaito.sim.child CONFIG``), keeps the operator in its
own, and the two talk HTTP(S) as any client and API server do.

The protocol, one line each way:

- ``CONFIG`` (the only argument) is a :class:`ChildConfig` as JSON: what the
  :class:`~kaito.sim.cluster.Cluster` is started with.
- Once the cluster serves, the child writes one line of JSON to its stdout, the :class:`Handshake` (API
  server URL, kubeconfig path, the ARM endpoint's URL, CA and ids), and nothing else there after.
- The child's stdin is the parent's lifeline: it is a pipe the parent holds open, and the child stops the
  cluster cleanly (durable data flushed) when it reads end-of-file, which happens when the parent closes it
  to tell the child to stop, and also when the parent exits or dies in any way (even SIGKILL), so no child
  lives on its parent. SIGTERM stops it the same way. SIGINT is ignored: Ctrl-C reaches the whole foreground
  process group, and the parent stops its operator first and then tells the child.
- If the cluster cannot start, the child writes the reason as the last line of its stderr and exits 1
  (the parent shows that tail as the error); exit 0 after a clean stop.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from kaito.sim.cluster import Cluster
from kaito.sim.gc_tuning import collector_tuned
from kaito.sim.server.durable import DataDirInUse

__all__ = ["ChildConfig", "Handshake", "main"]


def _fields_of(cls: type[Any], text: str | bytes, what: str) -> dict[str, Any]:
    """The JSON object ``text`` checked to hold exactly ``cls``'s fields; ValueError naming the field."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{what}: not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what}: expected a JSON object, got {type(data).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{what}: unknown field {unknown[0]!r}")
    return data


@dataclass(frozen=True)
class ChildConfig:
    """How the child starts its :class:`~kaito.sim.cluster.Cluster` (the same options as `kaito up`'s)."""

    port: int = 0
    kubeconfig_path: str | None = None
    karpenter: bool = False
    data_dir: str | None = None
    insecure: bool = False
    process_runtime: dict[str, Any] | None = None  # a ProcessRuntimeConfig as JSON (`kaito up --serve`)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> ChildConfig:
        data = _fields_of(cls, text, "child config")
        port = data.get("port", 0)
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"child config: port is {port!r}; give a TCP port from 0 to 65535")
        for name in ("karpenter", "insecure"):
            if not isinstance(data.get(name, False), bool):
                raise ValueError(f"child config: {name} is {data[name]!r}; give true or false")
        for name in ("kubeconfig_path", "data_dir"):
            if not isinstance(data.get(name), str | None):
                raise ValueError(f"child config: {name} is {data[name]!r}; give a path or null")
        if not isinstance(data.get("process_runtime"), dict | None):
            raise ValueError("child config: process_runtime must be an object or null")
        return cls(**data)


@dataclass(frozen=True)
class Handshake:
    """What the child tells its parent once the cluster serves."""

    url: str
    kubeconfig: str
    arm_url: str
    arm_ca: str
    subscription_id: str
    resource_group: str
    cluster_name: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> Handshake:
        data = _fields_of(cls, text, "cluster handshake")
        for f in fields(cls):
            if not isinstance(data.get(f.name), str):
                raise ValueError(f"cluster handshake: {f.name} is {data.get(f.name)!r}; expected a string")
        return cls(**data)


def _cluster(config: ChildConfig) -> Cluster:
    runtime = None
    if config.process_runtime is not None:
        from kaito.sim.workloads.processes import ProcessRuntimeConfig

        runtime = ProcessRuntimeConfig.model_validate(config.process_runtime)
    return Cluster(
        port=config.port,
        kubeconfig_path=config.kubeconfig_path,
        karpenter=config.karpenter,
        data_dir=Path(config.data_dir) if config.data_dir is not None else None,
        process_runtime=runtime,
        insecure=config.insecure,
    )


async def serve(config: ChildConfig, lifeline: int = 0, handshake_fd: int = 1) -> None:
    """Run the cluster until SIGTERM or end-of-file on ``lifeline``; the handshake to ``handshake_fd``."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # still ignored, but by a handler rather than SIG_IGN, which the processes it starts would inherit
    loop.add_signal_handler(signal.SIGINT, lambda: None)

    def lifeline_readable() -> None:
        try:
            data = os.read(lifeline, 4096)
        except OSError:
            data = b""
        if not data:  # the parent closed it, exited or died
            loop.remove_reader(lifeline)
            stop.set()

    loop.add_reader(lifeline, lifeline_readable)
    try:
        async with _cluster(config) as cluster:
            arm = cluster.arm
            assert arm is not None, "Cluster() serves the ARM endpoint by default"
            handshake = Handshake(
                url=cluster.url,
                kubeconfig=str(cluster.kubeconfig),
                arm_url=arm.url,
                arm_ca=str(arm.ca_path),
                subscription_id=arm.ids.subscription_id,
                resource_group=arm.ids.resource_group,
                cluster_name=arm.ids.cluster_name,
            )
            if not stop.is_set():
                os.write(handshake_fd, (handshake.to_json() + "\n").encode())
            await stop.wait()
    finally:
        loop.remove_reader(lifeline)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kaito.sim.child CONFIG``: see the module docstring."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m kaito.sim.child CONFIG_JSON", file=sys.stderr)
        return 2
    try:
        config = ChildConfig.from_json(args[0])
        with collector_tuned():
            try:
                asyncio.run(serve(config))
            finally:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # the closed loop put Python's default back
    except DataDirInUse as error:
        print(f"{error}", file=sys.stderr, flush=True)
        return 1
    except OSError as error:
        print(f"cannot start the embedded cluster: {error}", file=sys.stderr, flush=True)
        return 1
    except ValueError as error:
        print(f"{error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
