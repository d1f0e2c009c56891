"""A kubelet stand-in: runs the pods bound to simulated nodes through their lifecycle, in simulated time.

One :class:`Kubelet` serves every node (as KWOK does). For each bound pod it runs one asyncio task that walks
the pod through what a real kubelet reports, writing ``status`` through the store's status subresource:

    Pending (ContainerCreating) -> init containers, one at a time (pull, run, Completed)
      -> containers pulled and started (Running) -> Ready after the readiness delay
      -> Job pods (restartPolicy Never/OnFailure): terminated after the run time -> Succeeded / Failed
      -> crash-looping containers: exit 1 after ``crash_after_s``, CrashLoopBackOff, restart with a doubling
         back-off; restartCount grows and the pod is never Ready

Phase, conditions (PodReadyToStartContainers, Initialized, Ready, ContainersReady; PodScheduled is the
scheduler's and kept as found) and container statuses are computed by the pure functions of
:mod:`kaito.sim.workloads.pod_status` from its ``ContainerRun`` records, with kubelet's own rules.

Knobs, per pod (annotations, so they can sit on a Deployment's pod template) or programmatic:

- ``sim.kaito.sh/crash-loop: "true"`` (or a comma-separated list of container names);
  :meth:`Kubelet.set_crash_loop`
- ``sim.kaito.sh/fail: "true"`` with optional ``sim.kaito.sh/exit-code`` and
  ``sim.kaito.sh/termination-reason``: containers exit with that code when they finish;
  :meth:`Kubelet.fail_pod` fails a pod at once
- ``sim.kaito.sh/run-seconds`` (how long a Job pod runs) and ``sim.kaito.sh/ready-after-seconds`` (readiness
  delay, e.g. a model that loads slowly)

Invariants: a pod's task is keyed by (namespace, name) and tied to the pod's uid, so a recreated pod with the
same name (StatefulSet) starts afresh; a deleted pod's task is cancelled; writes are skipped when the computed
status equals the stored one. Logs are kept per container instance in memory, served by :meth:`Kubelet.logs`.

With a :class:`~kaito.sim.workloads.processes.ProcessRuntime` (``processes=``), containers (init containers
too) whose image it maps run as real local processes instead: the pod gets a loopback podIP, Ready follows
the pod's own probes, an exit is a real exit (restarted by the same back-off loop; a failed init container
under ``restartPolicy: Never`` fails the pod), a graceful delete is SIGTERM then SIGKILL after the grace
period, the process's output is appended to the container's log, and its termination message is what it
wrote to its ``terminationMessagePath`` (else, failed under ``FallbackToLogsOnError``, its log's tail).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from kaito.sim.server.errors import ApiError, BadRequest, NotFound
from kaito.sim.server.objects import format_time, utcnow
from kaito.sim.workloads.pod_status import ContainerRun, pod_status, qos_class
from kaito.sim.workloads.processes import termination_message
from kaito.sim.workloads.recorder import EventRecorder
from kaito.sim.workloads.scheduler import node_is_ready

if TYPE_CHECKING:
    from kaito.sim.server.store import Store
    from kaito.sim.workloads.processes import ProcessRuntime

__all__ = [
    "ANNOTATION_CRASH_LOOP",
    "ANNOTATION_EXIT_CODE",
    "ANNOTATION_FAIL",
    "ANNOTATION_READY_AFTER",
    "ANNOTATION_RUN_SECONDS",
    "ANNOTATION_TERMINATION_REASON",
    "Kubelet",
    "Timings",
]

_log = logging.getLogger(__name__)

ANNOTATION_CRASH_LOOP = "sim.kaito.sh/crash-loop"
ANNOTATION_FAIL = "sim.kaito.sh/fail"
ANNOTATION_EXIT_CODE = "sim.kaito.sh/exit-code"
ANNOTATION_TERMINATION_REASON = "sim.kaito.sh/termination-reason"
ANNOTATION_RUN_SECONDS = "sim.kaito.sh/run-seconds"
ANNOTATION_READY_AFTER = "sim.kaito.sh/ready-after-seconds"

_COMPONENT = "kubelet"
_TERMINAL = frozenset({"Succeeded", "Failed"})


class Timings(BaseModel):
    """Simulated durations in seconds; the defaults make a Deployment Ready in well under a second."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image_pull_s: float = Field(default=0.02, ge=0, description="pulling an image not yet on the node")
    container_start_s: float = Field(default=0.01, ge=0, description="creating and starting a container")
    ready_after_s: float = Field(default=0.03, ge=0, description="from start to Ready (the readiness probe)")
    init_run_s: float = Field(default=0.01, ge=0, description="how long each init container runs")
    job_run_s: float = Field(default=0.05, ge=0, description="how long a Job pod's containers run")
    crash_after_s: float = Field(default=0.03, ge=0, description="how long a crash-looping container lives")
    crash_backoff_s: float = Field(default=0.05, ge=0, description="first CrashLoopBackOff delay (doubles)")
    crash_backoff_max_s: float = Field(default=0.5, ge=0, description="CrashLoopBackOff delay cap")
    node_gone_grace_s: float = Field(
        default=0.05, ge=0, description="before pods of a deleted node are deleted"
    )
    job_retry_backoff_s: float = Field(default=0.02, ge=0, description="before a Job replaces a failed pod")


def _annotation_float(annotations: Mapping[str, str], key: str, default: float) -> float:
    try:
        return max(0.0, float(annotations[key]))
    except (KeyError, ValueError):
        return default


@dataclass
class _PodRun:
    """The kubelet's record of one pod instance (one uid)."""

    namespace: str
    name: str
    uid: str
    node: str
    restart_policy: str
    init: list[ContainerRun]
    main: list[ContainerRun]
    host_ip: str
    pod_ip: str
    start_time: str
    qos: str
    pull_always: dict[str, bool]
    annotations: dict[str, str] = field(default_factory=dict)
    pod: dict[str, Any] = field(default_factory=dict)  # the pod as first seen (the process runtime reads it)
    crash_override: dict[str | None, bool] = field(default_factory=dict)  # container (None = all) -> on/off
    phase: str | None = None
    reason: str = ""
    message: str = ""
    wake: dict[str, asyncio.Event] = field(default_factory=dict)
    logs: dict[str, list[list[str]]] = field(default_factory=dict)  # container -> instances -> lines
    task: asyncio.Task[None] | None = None

    def crashes(self, container: str) -> bool:
        for key in (container, None):
            if key in self.crash_override:
                return self.crash_override[key]
        value = self.annotations.get(ANNOTATION_CRASH_LOOP, "").strip()
        if value.lower() == "true":
            return True
        return container in {part.strip() for part in value.split(",") if part.strip()}

    def exit_on_finish(self) -> tuple[int, str]:
        """(exit code, reason) a finishing container reports under the fail annotations."""
        failing = self.annotations.get(ANNOTATION_FAIL, "").lower() == "true"
        try:
            code = int(self.annotations.get(ANNOTATION_EXIT_CODE, "1" if failing else "0"))
        except ValueError:
            code = 1 if failing else 0
        if code == 0:
            return 0, "Completed"
        return code, self.annotations.get(ANNOTATION_TERMINATION_REASON, "Error")

    def log(self, container: str, line: str) -> None:
        instances = self.logs.setdefault(container, [[]])
        instances[-1].append(line)

    def wake_all(self) -> None:
        for event in self.wake.values():
            event.set()


class _Network:
    """Host and pod IPs: node i gets host 10.224.0.(i+4) and pods from 10.244.i.0/24 (or its podCIDR)."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self._next_host: dict[str, int] = {}

    def host_ip(self, node: Mapping[str, Any]) -> str:
        for address in (node.get("status") or {}).get("addresses") or []:
            if address.get("type") == "InternalIP" and address.get("address"):
                return str(address["address"])
        return str(ipaddress.IPv4Address("10.224.0.4") + self._node_index(node))

    def pod_ip(self, node: Mapping[str, Any]) -> str:
        name = str(node["metadata"]["name"])
        cidr = (node.get("spec") or {}).get("podCIDR") or f"10.244.{self._node_index(node) % 256}.0/24"
        network = ipaddress.ip_network(cidr, strict=False)
        offset = self._next_host.get(name, 2)
        if offset >= network.num_addresses - 1:
            offset = 2
        self._next_host[name] = offset + 1
        return str(network.network_address + offset)

    def _node_index(self, node: Mapping[str, Any]) -> int:
        return self._index.setdefault(str(node["metadata"]["name"]), len(self._index))


class Kubelet:
    """Runs every bound pod on every simulated node; driven by :meth:`sync_pod` / :meth:`forget_pod` calls."""

    def __init__(
        self,
        store: Store,
        recorder: EventRecorder,
        timings: Timings,
        *,
        clock: Callable[[], datetime] = utcnow,
        processes: ProcessRuntime | None = None,
    ) -> None:
        self._store = store
        self._processes = processes
        self._recorder = recorder
        self._timings = timings
        self._clock = clock
        self._runs: dict[tuple[str, str], _PodRun] = {}
        self._network = _Network()
        self._images: dict[str, set[str]] = {}  # node -> images present
        self._serial = 0
        self._stopping: set[tuple[str, str]] = set()  # pods being killed after a graceful delete
        self._kills: set[asyncio.Task[None]] = set()

    # --- driven by the simulator's watches -------------------------------------------------------------

    def sync_pod(self, pod: Mapping[str, Any]) -> None:
        """Run ``pod`` if it is bound to a Ready node and not running yet; else refresh knobs or kill it."""
        metadata = pod.get("metadata") or {}
        key = (str(metadata.get("namespace", "")), str(metadata.get("name", "")))
        node_name = (pod.get("spec") or {}).get("nodeName")
        run = self._runs.get(key)
        if run is not None and run.uid != metadata.get("uid"):
            self._cancel(run)
            del self._runs[key]
            run = None
        if node_name and metadata.get("deletionTimestamp"):
            if key not in self._stopping:
                self._stopping.add(key)
                grace = metadata.get("deletionGracePeriodSeconds")
                if grace is None:
                    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                task = asyncio.get_running_loop().create_task(
                    self._kill_pod(key, run, float(grace)), name=f"kill {key[0]}/{key[1]}"
                )
                self._kills.add(task)
                task.add_done_callback(self._kills.discard)
            return
        if run is not None:
            annotations = dict(metadata.get("annotations") or {})
            if annotations != run.annotations:
                run.annotations = annotations
                run.wake_all()
            return
        if not node_name:
            return
        if (pod.get("status") or {}).get("phase") in _TERMINAL:
            return  # finished before this kubelet started (a restored snapshot): nothing left to run
        try:
            node = self._store.get("v1", "Node", node_name)
        except NotFound:
            return
        if not node_is_ready(node):
            return
        run = self._new_run(pod, node)
        self._runs[key] = run
        run.task = asyncio.get_running_loop().create_task(
            self._run_pod(run), name=f"kubelet {key[0]}/{key[1]}"
        )

    def forget_pod(self, namespace: str, name: str, uid: str | None = None) -> None:
        """The pod is gone: stop its containers and drop its logs."""
        run = self._runs.get((namespace, name))
        if run is not None and (uid is None or run.uid == uid):
            self._cancel(run)
            del self._runs[(namespace, name)]
            if self._processes is not None:
                self._processes.forget(run.uid)
        self._stopping.discard((namespace, name))

    async def _kill_pod(self, key: tuple[str, str], run: _PodRun | None, grace_s: float = 30) -> None:
        """A graceful delete: stop the containers (exit 0 on SIGTERM), report it, then delete with grace 0."""
        try:
            if run is not None:
                codes: dict[str, int] = {}
                if self._processes is not None:
                    self._processes.set_grace(run.uid, grace_s)
                self._cancel(run)
                if self._processes is not None:
                    if run.task is not None:
                        await asyncio.wait({run.task})
                    codes = await self._processes.stop_pod(run.uid)
                await asyncio.sleep(self._timings.container_start_s)
                now = self._now()
                for container in run.init + run.main:
                    if container.state == "running":
                        code = codes.get(container.name, 0) if not container.init else 0
                        self._terminate(run, container, code, "Completed" if code == 0 else "Error")
                    elif container.state == "waiting":
                        container.state, container.reason, container.exit_code = (
                            "terminated",
                            "ContainerStatusUnknown",
                            137,
                        )
                        container.message = "The container could not be located when the pod was terminated"
                        container.started_at = container.started_at or now
                        container.finished_at = now
                failed = any(c.exit_code != 0 for c in run.main)
                run.phase = "Failed" if failed else "Succeeded"
                with contextlib.suppress(ApiError):
                    self._flush(run)
            with contextlib.suppress(NotFound):
                self._store.delete("v1", "Pod", key[1], key[0], grace_period_seconds=0)
        finally:
            self._stopping.discard(key)

    def pods_on(self, node_name: str) -> list[tuple[str, str]]:
        """(namespace, name) of the pods this kubelet runs on ``node_name``."""
        return [key for key, run in self._runs.items() if run.node == node_name]

    async def stop(self) -> None:
        """Cancel every pod's task and wait for them to end."""
        runs = list(self._runs.values())
        for run in runs:
            self._cancel(run)
        tasks = [run.task for run in runs if run.task is not None]
        for kill in list(self._kills):
            kill.cancel()
            tasks.append(kill)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._processes is not None:
            await self._processes.close()

    # --- knobs --------------------------------------------------------------------------------------------

    def set_crash_loop(
        self, namespace: str, name: str, container: str | None = None, enabled: bool = True
    ) -> None:
        """Make ``container`` (every container when None) of a running pod crash-loop, or stop it."""
        run = self._require_run(namespace, name)
        run.crash_override[container] = enabled
        run.wake_all()

    def fail_pod(
        self,
        namespace: str,
        name: str,
        *,
        exit_code: int = 1,
        reason: str = "Error",
        pod_reason: str = "",
        message: str = "",
    ) -> None:
        """Terminate every container of a running pod with ``exit_code`` and mark the pod Failed."""
        run = self._require_run(namespace, name)
        self._cancel(run)
        now = self._now()
        for container in run.init + run.main:
            if container.state != "terminated":
                container.state, container.reason, container.exit_code = "terminated", reason, exit_code
                container.started_at = container.started_at or now
                container.finished_at, container.ready = now, False
                container.container_id = container.container_id or self._container_id(run, container)
        run.phase, run.reason, run.message = "Failed", pod_reason, message
        self._flush(run)

    def logs(self, namespace: str, pod: str, container: str | None = None, previous: bool = False) -> str:
        """A container's log, as ``GET pods/{name}/log`` answers (with kubelet's errors for bad requests)."""
        obj = self._store.get("v1", "Pod", pod, namespace)
        spec = obj.get("spec") or {}
        names = [c["name"] for c in spec.get("containers") or []]
        init_names = [c["name"] for c in spec.get("initContainers") or []]
        if container is None:
            if len(names) != 1:
                hint = f" or one of the init containers: [{' '.join(init_names)}]" if init_names else ""
                choices = " ".join(names)
                raise BadRequest(
                    f"a container name must be specified for pod {pod}, choose one of: [{choices}]{hint}"
                )
            container = names[0]
        if container not in names and container not in init_names:
            raise BadRequest(f"container {container} is not valid for pod {pod}")
        run = self._runs.get((namespace, pod))
        instances = (
            run.logs.get(container, []) if run is not None and run.uid == obj["metadata"].get("uid") else []
        )
        if previous:
            if len(instances) < 2:
                raise BadRequest(f'previous terminated container "{container}" in pod "{pod}" not found')
            return self._log_text(run, container, len(instances) - 2, instances[-2])
        if not instances:
            reason = "ContainerCreating"
            for status in (obj.get("status") or {}).get("containerStatuses") or []:
                if status.get("name") == container:
                    reason = (status.get("state") or {}).get("waiting", {}).get("reason", reason)
            raise BadRequest(f'container "{container}" in pod "{pod}" is waiting to start: {reason}')
        return self._log_text(run, container, len(instances) - 1, instances[-1])

    def _log_text(self, run: _PodRun | None, container: str, instance: int, lines: list[str]) -> str:
        """The kubelet's own lines of one container instance, then what its process wrote (if it ran one)."""
        text = "".join(line + "\n" for line in lines)
        if self._processes is not None and run is not None:
            text += self._processes.log_text(run.uid, container, instance)
        return text

    # --- the pod's life -----------------------------------------------------------------------------------

    def _new_run(self, pod: Mapping[str, Any], node: Mapping[str, Any]) -> _PodRun:
        metadata = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        pull_always: dict[str, bool] = {}
        for container in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
            image = str(container.get("image", ""))
            policy = container.get("imagePullPolicy") or (
                "Always"
                if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]
                else "IfNotPresent"
            )
            pull_always[container["name"]] = policy == "Always"
        return _PodRun(
            namespace=str(metadata.get("namespace", "")),
            name=str(metadata.get("name", "")),
            uid=str(metadata.get("uid", "")),
            node=str(node["metadata"]["name"]),
            restart_policy=str(spec.get("restartPolicy") or "Always"),
            init=[
                ContainerRun(c["name"], str(c.get("image", "")), init=True)
                for c in spec.get("initContainers") or []
            ],
            main=[ContainerRun(c["name"], str(c.get("image", ""))) for c in spec.get("containers") or []],
            host_ip=self._network.host_ip(node),
            pod_ip=(
                self._processes.pod_ip(str(metadata.get("uid", "")))
                if self._processes is not None and self._processes.handles_pod(spec)
                else self._network.pod_ip(node)
            ),
            start_time=self._now(),
            qos=qos_class(spec),
            pull_always=pull_always,
            annotations=dict(metadata.get("annotations") or {}),
            pod=dict(pod),
        )

    async def _run_pod(self, run: _PodRun) -> None:
        try:
            for container in run.init + run.main:
                run.wake[container.name] = asyncio.Event()
                if run.init:
                    container.reason = "PodInitializing"
            self._flush(run)
            for container in run.init:
                if not await self._run_init(run, container):
                    return  # the pod has failed (pod_phase); its containers never start
            for container in run.main:
                container.reason = "ContainerCreating"
            self._flush(run)
            await asyncio.gather(*(self._run_container(run, c) for c in run.main))
        except asyncio.CancelledError:
            raise
        except ApiError as exc:  # the pod went away under us
            _log.debug("kubelet stopped pod %s/%s: %s", run.namespace, run.name, exc)

    async def _run_init(self, run: _PodRun, container: ContainerRun) -> bool:
        """Run one init container to completion; False when it failed for good (restartPolicy Never)."""
        await self._pull(run, container)
        while True:
            await asyncio.sleep(self._timings.container_start_s)
            self._start(run, container)
            self._flush(run)
            if self._runs_process(container):
                code, reason = await self._live_process(run, container)
            else:
                await asyncio.sleep(self._timings.init_run_s)
                code, reason = 0, "Completed"
            self._terminate(run, container, code, reason)
            if code == 0 or run.restart_policy == "Never":
                self._flush(run)
                return code == 0
            await self._restart_after_back_off(run, container)

    async def _run_container(self, run: _PodRun, container: ContainerRun) -> None:
        await self._pull(run, container)
        while True:
            await asyncio.sleep(self._timings.container_start_s)
            self._start(run, container)
            self._flush(run)
            if self._runs_process(container):
                code, reason = await self._live_process(run, container)
            else:
                code, reason = await self._live(run, container)
            self._terminate(run, container, code, reason)
            restart = run.restart_policy == "Always" or (run.restart_policy == "OnFailure" and code != 0)
            if not restart:
                self._flush(run)
                return
            await self._restart_after_back_off(run, container)

    async def _restart_after_back_off(self, run: _PodRun, container: ContainerRun) -> None:
        """CrashLoopBackOff: wait the kubelet's doubling delay (capped), then count the restart."""
        delay = min(
            self._timings.crash_backoff_s * 2 ** min(container.restart_count, 30),
            self._timings.crash_backoff_max_s,
        )
        self._back_off(run, container, delay)
        self._flush(run)
        await asyncio.sleep(delay)
        container.restart_count += 1

    async def _live(self, run: _PodRun, container: ContainerRun) -> tuple[int, str]:
        """Keep the container running until it exits; returns (exit code, reason). Knob changes wake it up."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        annotations = run.annotations
        ready_at = started + _annotation_float(
            annotations, ANNOTATION_READY_AFTER, self._timings.ready_after_s
        )
        wake = run.wake[container.name]
        while True:
            crashing = run.crashes(container.name)
            if crashing:
                exit_at = started + self._timings.crash_after_s
            elif run.restart_policy != "Always":
                exit_at = started + _annotation_float(
                    run.annotations, ANNOTATION_RUN_SECONDS, self._timings.job_run_s
                )
            else:
                exit_at = float("inf")
            now = loop.time()
            if now >= exit_at:
                if crashing:
                    code, reason = run.exit_on_finish()
                    return (code, reason) if code else (1, "Error")
                return run.exit_on_finish()
            if not crashing and not container.ready and now >= ready_at:
                container.ready = True
                self._on_ready(run, container)
                self._flush(run)
                continue
            until = min(exit_at, ready_at if not (crashing or container.ready) else float("inf"))
            wake.clear()
            timeout = None if until == float("inf") else max(0.0, until - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)

    def _runs_process(self, container: ContainerRun) -> bool:
        return self._processes is not None and self._processes.handles(container.image)

    async def _live_process(self, run: _PodRun, container: ContainerRun) -> tuple[int, str]:
        """The container as a real process (see :mod:`.processes`); returns (exit code, reason)."""
        assert self._processes is not None
        pod_spec = run.pod.get("spec") or {}
        spec = next(
            c
            for c in pod_spec.get("initContainers" if container.init else "containers") or []
            if c["name"] == container.name
        )

        def ready(value: bool) -> None:
            if container.ready != value and container.state == "running":
                container.ready = value
                with contextlib.suppress(ApiError):
                    self._flush(run)

        def event(type_: str, reason: str, message: str) -> None:
            self._event(run, type_, reason, message, self._field_path(container))

        code, reason = await self._processes.run(
            run.pod, spec, container.restart_count, ready=ready, event=event
        )
        written = self._processes.written_message(run.uid, container.name, container.restart_count)
        if written:
            container.message = written
        elif code != 0 and spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            log = self._processes.log_text(run.uid, container.name, container.restart_count)
            container.message = termination_message(log.encode())
        return code, reason

    async def _pull(self, run: _PodRun, container: ContainerRun) -> None:
        images = self._images.setdefault(run.node, set())
        path = self._field_path(container)
        if container.image in images and not run.pull_always.get(container.name, False):
            self._event(
                run,
                "Normal",
                "Pulled",
                f'Container image "{container.image}" already present on machine',
                path,
            )
            run.log(container.name, f'sim: image "{container.image}" already present on node {run.node}')
            return
        self._event(run, "Normal", "Pulling", f'Pulling image "{container.image}"', path)
        await asyncio.sleep(self._timings.image_pull_s)
        images.add(container.image)
        took = f"{int(self._timings.image_pull_s * 1000)}ms"
        self._event(
            run,
            "Normal",
            "Pulled",
            f'Successfully pulled image "{container.image}" in {took} ({took} including waiting). '
            "Image size: 0 bytes.",
            path,
        )
        run.log(container.name, f'sim: pulled image "{container.image}"')

    def _start(self, run: _PodRun, container: ContainerRun) -> None:
        container.state, container.reason, container.message = "running", "", ""
        container.started_at, container.finished_at, container.ready = self._now(), "", False
        container.container_id = self._container_id(run, container)
        if container.restart_count or container.last_terminated:
            run.logs.setdefault(container.name, []).append([])
        path = self._field_path(container)
        self._event(run, "Normal", "Created", f"Created container {container.name}", path)
        self._event(run, "Normal", "Started", f"Started container {container.name}", path)
        run.log(container.name, f"sim: started container {container.name} on node {run.node}")
        if _looks_like_vllm(container.image) and not self._runs_process(container):
            run.log(container.name, "INFO:     Started server process [1]")
            run.log(container.name, "INFO:     Waiting for application startup.")

    def _on_ready(self, run: _PodRun, container: ContainerRun) -> None:
        if _looks_like_vllm(container.image):
            run.log(container.name, "INFO:     Application startup complete.")
            run.log(container.name, "INFO:     Uvicorn running on http://0.0.0.0:5000 (Press CTRL+C to quit)")
        else:
            run.log(container.name, f"sim: container {container.name} is ready")

    def _terminate(self, run: _PodRun, container: ContainerRun, code: int, reason: str) -> None:
        container.state, container.reason, container.exit_code = "terminated", reason, code
        container.finished_at, container.ready = self._now(), False
        run.log(container.name, f"sim: container {container.name} exited with code {code} ({reason})")

    def _back_off(self, run: _PodRun, container: ContainerRun, delay: float) -> None:
        container.last_terminated = {
            "exitCode": container.exit_code,
            "reason": container.reason,
            "startedAt": container.started_at,
            "finishedAt": container.finished_at,
            "containerID": container.container_id,
        }
        pod = f"{run.name}_{run.namespace}({run.uid})"
        container.state, container.reason = "waiting", "CrashLoopBackOff"
        container.message = (
            f"back-off {_seconds(delay)} restarting failed container={container.name} pod={pod}"
        )
        if container.last_terminated["exitCode"] != 0:
            message = f"Back-off restarting failed container {container.name} in pod {pod}"
            self._event(run, "Warning", "BackOff", message, self._field_path(container))

    # --- writing --------------------------------------------------------------------------------------------

    def _flush(self, run: _PodRun) -> None:
        """Write the pod's status as computed now; raises NotFound when the pod has gone."""
        try:
            pod = self._store.get("v1", "Pod", run.name, run.namespace, copy=False)  # read only
        except NotFound:
            self._drop(run)
            raise
        if pod["metadata"].get("uid") != run.uid:
            self._drop(run)
            raise NotFound(f'pods "{run.name}" not found')
        previous = pod.get("status") or {}
        status = pod_status(
            previous,
            restart_policy=run.restart_policy,
            init=run.init,
            main=run.main,
            host_ip=run.host_ip,
            pod_ip=run.pod_ip,
            start_time=run.start_time,
            qos=run.qos,
            now=self._now(),
            phase=run.phase,
            reason=run.reason,
            message=run.message,
        )
        if status == previous:
            return
        self._store.update("v1", "Pod", {**pod, "status": status}, subresource="status", copy=False)

    def _event(self, run: _PodRun, type_: str, reason: str, message: str, field_path: str = "") -> None:
        try:
            pod = self._store.get("v1", "Pod", run.name, run.namespace)
        except NotFound:
            return
        self._recorder.event(
            pod, type_, reason, message, component=_COMPONENT, host=run.node, field_path=field_path
        )

    # --- helpers ------------------------------------------------------------------------------------------

    def _require_run(self, namespace: str, name: str) -> _PodRun:
        run = self._runs.get((namespace, name))
        if run is None:
            raise NotFound(f'pod "{name}" in namespace "{namespace}" is not running on any simulated node')
        return run

    def _cancel(self, run: _PodRun) -> None:
        if run.task is not None and not run.task.done() and run.task is not asyncio.current_task():
            run.task.cancel()

    def _drop(self, run: _PodRun) -> None:
        key = (run.namespace, run.name)
        if self._runs.get(key) is run:
            del self._runs[key]

    def _container_id(self, run: _PodRun, container: ContainerRun) -> str:
        self._serial += 1
        seed = f"{run.uid}/{container.name}/{container.restart_count}/{self._serial}"
        return "containerd://" + hashlib.sha256(seed.encode()).hexdigest()

    @staticmethod
    def _field_path(container: ContainerRun) -> str:
        return f"spec.{'initContainers' if container.init else 'containers'}{{{container.name}}}"

    def _now(self) -> str:
        return format_time(self._clock())


def _looks_like_vllm(image: str) -> bool:
    return "vllm" in image.lower()


def _seconds(delay: float) -> str:
    """Go's Duration formatting for the back-off message (``10s``, ``2m40s``, ``500ms``)."""
    if delay < 1:
        return f"{round(delay * 1000)}ms"
    minutes, seconds = divmod(round(delay), 60)
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"
