"""The process runtime: the simulated kubelet starts a pod's container as a real local process.

Off by default; ``Cluster(process_runtime=ProcessRuntimeConfig(images={...}))`` turns it on. Only (non-init)
containers whose image is in :attr:`ProcessRuntimeConfig.images` run as processes; every other container,
and every init container, keeps the simulated, timer-driven life of :mod:`kaito.sim.workloads.kubelet`. An
:class:`ImageMapping` says what the image holds on this machine:

- ``executables``: names the image has on its PATH (``python3``) -> local programs (a venv's python). Each
  becomes a small ``exec`` wrapper in a per-image ``bin`` directory put first on the process's PATH, so a
  command (or a ``/bin/sh -c`` script) naming ``python3`` runs the mapped interpreter;
- ``paths``: paths inside the image -> local paths (``/workspace/vllm/weights`` -> a model directory). Every
  argument and env value equal to, or under, such a path (also ``--flag=PATH`` and ``NAME=PATH``) is
  rewritten, and so are such paths inside the script of a ``sh -c SCRIPT`` command (where they stand as
  whole words);
- ``env``: the image's own ENV (``VLLM_TARGET_DEVICE=cpu``);
- ``entrypoint``: the image's ENTRYPOINT (``curlimages/curl`` runs ``curl`` with the container's args); a
  container with no ``command`` runs it followed by its ``args``;
- ``host_flag``: the flag that tells the server which address to listen on (``--host`` for vLLM,
  ``--bind`` for ``python -m http.server``): any given value is replaced by the pod's IP, and the flag is
  added when absent. This is how a server binds the pod's own address; None leaves argv alone.

Networking: each pod gets its own loopback address (``status.podIP``) from a /24 inside 127.0.0.0/8 —
Linux routes the whole block to ``lo`` — so two replicas may both listen on port 5000. The /24 is random
per runtime unless ``address_prefix`` is given, so concurrent test runs do not collide.

Volumes and working directory: each pod gets a scratch directory; every ``volumeMounts`` path is mapped
to ``<pod dir>/volumes/<volume name>[/<subPath>]`` (``emptyDir`` semantics: shared by the pod's
containers, gone with the pod) unless the image mapping maps that path already, or the volume is a bound
``persistentVolumeClaim``: then it is the PersistentVolume's ``hostPath`` directory
(:mod:`kaito.sim.workloads.volumes`), which outlives the pod; a ``configMap`` volume's
keys (or its ``items``) are written there as files when the container starts, read from the store;
``workingDir`` is mapped the same way, defaulting to the pod directory.

Environment: PATH (mapped bin first), HOME, LANG, TMPDIR and USER from this process, then the image's env,
then ``HOSTNAME`` (the pod name) and ``KAITO_SIM_PATH_MAP`` (a JSON object: every path of the image and
every mount path -> its local path, for a program that reads paths from a file rather than from its argv or
environment, as a container reads its mount table), then the container's ``env`` in order: ``value`` with
``$(VAR)`` expansion, and ``valueFrom`` ``fieldRef`` (metadata.name/namespace/uid, labels[...],
annotations[...], spec.nodeName, spec.serviceAccountName, status.podIP, status.hostIP), ``secretKeyRef``
and ``configMapKeyRef`` (read from the store; a missing optional key is skipped).

Probes follow kubelet's rules: the ``startupProbe`` runs first (every ``periodSeconds`` after
``initialDelaySeconds``; ``failureThreshold`` failures kill the container); then ``readinessProbe`` sets
the container's ready flag (``successThreshold`` successes in a row make it ready, ``failureThreshold``
failures unready) and ``livenessProbe`` kills it after ``failureThreshold`` failures. A container without a
readiness probe is ready once started (and past its startup probe). Handlers: ``httpGet`` (to podIP unless
``host`` is set; 200-399 passes), ``tcpSocket``, ``exec`` (run locally with the container's environment).
``probe_time_scale`` multiplies every probe delay and period (tests use 0.05); timeouts are not scaled.

Init containers run as processes too when their image is mapped, one after another before the pod's
containers start: an exit 0 completes one, a failure fails the pod under ``restartPolicy: Never`` and is
retried with back-off otherwise (kubelet's rules).

Termination messages: each container instance's ``terminationMessagePath`` (default /dev/termination-log)
is mapped to an empty file of its own (so it is in ``KAITO_SIM_PATH_MAP``); what the process wrote there
(its first 4 KiB) is the container's termination message. When it wrote nothing and failed under
``terminationMessagePolicy: FallbackToLogsOnError``, the tail of its log is (the last 80 lines, at most
2 KiB), as kubelet does.

Logs: stdout and stderr of container instance *n* (its restartCount when started) go to
``<pod dir>/logs/<container>-<n>.log``; :meth:`ProcessRuntime.log_text` reads them for ``kubectl logs``.

Stopping: every process is the leader of its own session, so signals go to its whole process group
(vLLM's engine runs in child processes). A container stops with SIGTERM to the group, then SIGKILL after
the grace period: the pod's ``deletionGracePeriodSeconds`` when the pod is deleted (see
:meth:`ProcessRuntime.set_grace`), ``stop_grace_s`` otherwise (cluster shutdown). Exit codes are the
container ones: 128 + signal for a process ended by a signal.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from kaito.sim.server.errors import NotFound

__all__ = [
    "PATH_MAP_ENV",
    "ImageMapping",
    "Probe",
    "ProbeState",
    "ProcessRuntime",
    "ProcessRuntimeConfig",
    "container_env",
    "expand_vars",
    "parse_probe",
    "rewrite_argv",
    "rewrite_script",
    "termination_message",
]

_INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
PATH_MAP_ENV = "KAITO_SIM_PATH_MAP"
_SHELLS = frozenset({"sh", "bash", "dash", "ash"})
_SHELL_C = re.compile(r"-[a-z]*c[a-z]*")
_MESSAGE_LINES, _MESSAGE_BYTES = 80, 2048  # kubelet's FallbackToLogsOnError tail
_MESSAGE_FILE_BYTES = 4096  # kubelet reads at most this much of terminationMessagePath
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")

ReadyCallback = Callable[[bool], None]
EventCallback = Callable[[str, str, str], None]  # type, reason, message
Lookup = Callable[[str, str, str], Mapping[str, Any]]  # kind, name, namespace -> object (raises NotFound)


class ImageMapping(BaseModel):
    """What one container image is on this machine (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    executables: dict[str, str] = Field(default_factory=dict, description="image program -> local program")
    paths: dict[str, str] = Field(default_factory=dict, description="path in the image -> local path")
    env: dict[str, str] = Field(default_factory=dict, description="the image's ENV")
    host_flag: str | None = Field(default="--host", description="flag set to the pod IP; None: no rewrite")
    entrypoint: list[str] = Field(
        default_factory=list, description="the image's ENTRYPOINT, run when the container gives no command"
    )


class ProcessRuntimeConfig(BaseModel):
    """Turns on the process runtime for the images listed; everything else stays simulated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    images: dict[str, ImageMapping]
    address_prefix: str | None = Field(
        default=None, description="first three octets of the pods' /24, e.g. '127.0.9'; None: random"
    )
    probe_time_scale: float = Field(default=1.0, gt=0, description="multiplies probe delays and periods")
    stop_grace_s: float = Field(default=5.0, ge=0, description="SIGTERM -> SIGKILL on cluster shutdown")
    work_dir: Path | None = Field(default=None, description="where pod directories go; None: a temp dir")


# --- pure parts ------------------------------------------------------------------------------------------


def expand_vars(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: defined names are replaced, others kept, ``$$`` escapes ``$``."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _VAR.sub(one, value)


def _map_path(value: str, paths: Mapping[str, str]) -> str:
    for inside in sorted(paths, key=len, reverse=True):
        local = paths[inside]
        if value == inside:
            return local
        if value.startswith(inside.rstrip("/") + "/"):
            return local.rstrip("/") + value[len(inside.rstrip("/")) :]
    return value


def _map_arg(arg: str, paths: Mapping[str, str]) -> str:
    mapped = _map_path(arg, paths)
    if mapped == arg and "=" in arg:  # --flag=PATH, and NAME=PATH (vLLM's --lora-modules)
        key, value = arg.split("=", 1)
        return f"{key}={_map_path(value, paths)}"
    return mapped


def rewrite_script(script: str, paths: Mapping[str, str]) -> str:
    """A shell script with each image path that stands as a whole word (``/mnt/x``, ``"/mnt/x/f"``,
    ``a=/mnt/x``; not ``/mnt/xy`` nor ``/b/mnt/x``) mapped to its local path."""
    inside = sorted((p.rstrip("/") for p in paths if p.rstrip("/")), key=len, reverse=True)
    if not inside:
        return script
    words = "|".join(re.escape(p) for p in inside)
    pattern = re.compile(rf"(?<![A-Za-z0-9._~+@%/-])({words})(?![A-Za-z0-9._~+@%-])")
    local = {p.rstrip("/"): v.rstrip("/") or "/" for p, v in paths.items() if p.rstrip("/")}
    return pattern.sub(lambda m: local[m.group(1)], script)


def rewrite_argv(
    argv: Sequence[str], paths: Mapping[str, str], host_flag: str | None, pod_ip: str
) -> list[str]:
    """argv with image paths mapped to local ones (also inside a ``sh -c`` script) and ``host_flag`` set
    to ``pod_ip`` (added if absent)."""
    out: list[str] = []
    skip = False
    script_at = 2 if len(argv) > 2 and _is_shell(argv[0]) and _SHELL_C.fullmatch(argv[1]) else -1
    for index, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if index == script_at:
            out.append(rewrite_script(arg, paths))
            continue
        if host_flag is not None and arg == host_flag:
            skip = True
            continue
        if host_flag is not None and arg.startswith(host_flag + "="):
            continue
        out.append(_map_arg(arg, paths))
    if host_flag is not None:
        out += [host_flag, pod_ip]
    return out


def _is_shell(program: str) -> bool:
    return program.rsplit("/", 1)[-1] in _SHELLS


def termination_message(log: bytes) -> str:
    """kubelet's FallbackToLogsOnError message: the last 80 lines of the log, at most its last 2 KiB."""
    tail = log[-_MESSAGE_BYTES:]
    lines = tail.decode(errors="replace").splitlines()
    return "\n".join(lines[-_MESSAGE_LINES:])


def _field_ref(pod: Mapping[str, Any], path: str, pod_ip: str) -> str:
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": metadata.get("name", ""),
        "metadata.namespace": metadata.get("namespace", ""),
        "metadata.uid": metadata.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": pod_ip,
    }
    if path in simple:
        return str(simple[path])
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if match:
        return str((metadata.get(match.group(1)) or {}).get(match.group(2), ""))
    raise ValueError(
        f"env fieldRef.fieldPath {path!r} is not supported; use metadata.name, metadata.namespace, "
        "metadata.uid, metadata.labels['KEY'], metadata.annotations['KEY'], spec.nodeName, "
        "spec.serviceAccountName, status.podIP or status.hostIP"
    )


def _key_ref(ref: Mapping[str, Any], kind: str, namespace: str, lookup: Lookup) -> str | None:
    name, key = str(ref.get("name", "")), str(ref.get("key", ""))
    try:
        obj = lookup(kind, name, namespace)
    except NotFound:
        if ref.get("optional"):
            return None
        raise ValueError(  # noqa: B904 - the user sees the sentence, not the store's error
            f"{kind} {namespace}/{name} named by an env {kind[0].lower()}{kind[1:]}KeyRef is missing"
        )
    if kind == "Secret":
        data = obj.get("data") or {}
        if key in data:
            return base64.b64decode(data[key]).decode()
        string_data = obj.get("stringData") or {}
        if key in string_data:
            return str(string_data[key])
    else:
        data = obj.get("data") or {}
        if key in data:
            return str(data[key])
    if ref.get("optional"):
        return None
    raise ValueError(f"{kind} {namespace}/{name} has no key {key!r} (named by a container env entry)")


def container_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    base: Mapping[str, str],
    pod_ip: str,
    lookup: Lookup,
) -> dict[str, str]:
    """The process environment: ``base`` (inherited + image env), HOSTNAME, then the container's env."""
    metadata = pod.get("metadata") or {}
    env = dict(base)
    env["HOSTNAME"] = str(metadata.get("name", ""))
    namespace = str(metadata.get("namespace", ""))
    for entry in container.get("env") or []:
        name = str(entry["name"])
        if "valueFrom" in entry:
            source = entry["valueFrom"] or {}
            value: str | None
            if "fieldRef" in source:
                value = _field_ref(pod, str(source["fieldRef"].get("fieldPath", "")), pod_ip)
            elif "secretKeyRef" in source:
                value = _key_ref(source["secretKeyRef"], "Secret", namespace, lookup)
            elif "configMapKeyRef" in source:
                value = _key_ref(source["configMapKeyRef"], "ConfigMap", namespace, lookup)
            else:
                value = None  # resourceFieldRef: nothing sensible to give a local process
            if value is not None:
                env[name] = value
        else:
            env[name] = expand_vars(str(entry.get("value", "")), env)
    return env


@dataclass(frozen=True)
class Probe:
    """One probe of a container spec, with kube's defaults filled in."""

    kind: Literal["httpGet", "tcpSocket", "exec"]
    handler: Mapping[str, Any]
    initial_delay_s: float = 0
    period_s: float = 10
    timeout_s: float = 1
    success_threshold: int = 1
    failure_threshold: int = 3


def parse_probe(spec: Mapping[str, Any] | None) -> Probe | None:
    """A container's ``readinessProbe``/``livenessProbe``/``startupProbe`` (None when absent)."""
    if not spec:
        return None
    for kind in ("httpGet", "tcpSocket", "exec"):
        if kind in spec:
            return Probe(
                kind=kind,
                handler=dict(spec[kind] or {}),
                initial_delay_s=float(spec.get("initialDelaySeconds") or 0),
                period_s=float(spec.get("periodSeconds") or 10),
                timeout_s=float(spec.get("timeoutSeconds") or 1),
                success_threshold=int(spec.get("successThreshold") or 1),
                failure_threshold=int(spec.get("failureThreshold") or 3),
            )
    raise ValueError("a probe needs one of httpGet, tcpSocket or exec; grpc probes are not run by kaito.sim")


@dataclass
class ProbeState:
    """Consecutive results of one probe; :meth:`observe` says when the verdict flips (kubelet's worker)."""

    probe: Probe
    verdict: bool | None = None  # None until the first threshold is reached
    successes: int = 0
    failures: int = 0

    def observe(self, ok: bool) -> bool | None:
        """Record one result; returns the new verdict when it changed, else None."""
        if ok:
            self.successes, self.failures = self.successes + 1, 0
            if self.verdict is not True and self.successes >= self.probe.success_threshold:
                self.verdict = True
                return True
        else:
            self.failures, self.successes = self.failures + 1, 0
            if self.verdict is not False and self.failures >= self.probe.failure_threshold:
                self.verdict = False
                return False
        return None


def _port_of(container: Mapping[str, Any], port: Any) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise ValueError(f"probe port {port!r} names no port of container {container.get('name')}")


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


# --- the runtime -----------------------------------------------------------------------------------------


@dataclass
class _Instance:
    """One running container process."""

    process: asyncio.subprocess.Process
    log_path: Path
    killing: asyncio.Task[None] | None = None


@dataclass
class _Pod:
    """What the runtime keeps per pod uid: its address, scratch dir and live processes."""

    ip: str
    directory: Path
    processes: dict[str, _Instance] = field(default_factory=dict)
    logs: dict[tuple[str, int], Path] = field(default_factory=dict)
    messages: dict[tuple[str, int], Path] = field(default_factory=dict)
    grace_s: float | None = None


class ProcessRuntime:
    """Starts, probes and stops the processes of mapped containers for one kubelet."""

    def __init__(
        self,
        config: ProcessRuntimeConfig,
        lookup: Lookup,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self._lookup = lookup
        self._sleep = sleep
        self._root = Path(config.work_dir or tempfile.mkdtemp(prefix="kaito-sim-processes-"))
        self._own_root = config.work_dir is None
        prefix = config.address_prefix or f"127.{random.randint(16, 250)}.{random.randint(0, 255)}"
        self._network = ipaddress.ip_network(f"{prefix}.0/24")
        self._next_host = 2
        self._pods: dict[str, _Pod] = {}
        self._session: aiohttp.ClientSession | None = None
        self._kills: set[asyncio.Task[None]] = set()

    # -- what the kubelet asks --

    def handles(self, image: str) -> bool:
        """Whether a container with ``image`` runs as a process."""
        return image in self.config.images

    def handles_pod(self, pod_spec: Mapping[str, Any]) -> bool:
        """Whether any (init) container of the pod runs as a process (then it gets a loopback address)."""
        containers = [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or [])]
        return any(self.handles(str(c.get("image", ""))) for c in containers)

    def pod_ip(self, uid: str) -> str:
        """The loopback address of pod ``uid`` (allocated on first ask, kept until :meth:`forget`)."""
        pod = self._pods.get(uid)
        if pod is None:
            in_use = {p.ip for p in self._pods.values()}
            for _ in range(253):
                address = str(self._network.network_address + self._next_host)
                self._next_host = self._next_host + 1 if self._next_host < 254 else 2
                if address not in in_use:
                    break
            else:
                raise RuntimeError(f"every address of {self._network} is taken by a running pod")
            directory = self._root / uid
            directory.mkdir(parents=True, exist_ok=True)
            pod = self._pods[uid] = _Pod(address, directory)
        return pod.ip

    def set_grace(self, uid: str, seconds: float) -> None:
        """The pod is being deleted: stop its processes with this grace period."""
        pod = self._pods.get(uid)
        if pod is not None:
            pod.grace_s = seconds

    def forget(self, uid: str) -> None:
        """The pod is gone: kill what still runs, free its address and its directory."""
        pod = self._pods.pop(uid, None)
        if pod is None:
            return
        for instance in pod.processes.values():
            self._kill(instance, 0)
        shutil.rmtree(pod.directory, ignore_errors=True)

    def running(self) -> list[int]:
        """Process ids (each its own process group) of the containers running now."""
        return [
            i.process.pid
            for pod in self._pods.values()
            for i in pod.processes.values()
            if i.process.returncode is None
        ]

    def log_text(self, uid: str, container: str, instance: int) -> str:
        """What container instance ``instance`` (its restartCount when started) wrote to stdout/stderr."""
        pod = self._pods.get(uid)
        path = pod.logs.get((container, instance)) if pod is not None else None
        if path is None:
            return ""
        with contextlib.suppress(FileNotFoundError):
            return path.read_text(errors="replace")
        return ""

    def written_message(self, uid: str, container: str, instance: int) -> str:
        """What container instance ``instance`` wrote to its ``terminationMessagePath`` (its first 4 KiB)."""
        pod = self._pods.get(uid)
        path = pod.messages.get((container, instance)) if pod is not None else None
        if path is None:
            return ""
        with contextlib.suppress(FileNotFoundError), path.open("rb") as file:
            return file.read(_MESSAGE_FILE_BYTES).decode(errors="replace").strip()
        return ""

    async def stop_pod(self, uid: str) -> dict[str, int]:
        """Wait until every process of the pod has stopped; returns container -> exit code."""
        pod = self._pods.get(uid)
        if pod is None:
            return {}
        codes: dict[str, int] = {}
        for name, instance in list(pod.processes.items()):
            if instance.process.returncode is None:
                self._kill(instance, pod.grace_s if pod.grace_s is not None else self.config.stop_grace_s)
            codes[name] = _exit_code(await instance.process.wait())
        return codes

    async def close(self) -> None:
        """Stop every process (``stop_grace_s``), close the probe session, remove the pod directories."""
        for pod in self._pods.values():
            for instance in pod.processes.values():
                if instance.process.returncode is None:
                    self._kill(instance, self.config.stop_grace_s)
        waits = [i.process.wait() for p in self._pods.values() for i in p.processes.values()]
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)
        if self._kills:
            await asyncio.gather(*self._kills, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._pods.clear()
        if self._own_root:
            shutil.rmtree(self._root, ignore_errors=True)

    async def run(
        self,
        pod: Mapping[str, Any],
        container: Mapping[str, Any],
        instance: int,
        *,
        ready: ReadyCallback,
        event: EventCallback,
    ) -> tuple[int, str]:
        """Run one container instance until its process exits; returns (exit code, reason).

        Probes run beside it and call ``ready`` when readiness flips; a failed startup or liveness probe
        stops the process (it then exits and this returns). Cancelling this stops the process too (SIGTERM,
        SIGKILL after the grace period) without waiting for it; :meth:`stop_pod` waits.
        """
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        pod_ip = self.pod_ip(uid)
        record = self._pods[uid]
        name = str(container["name"])
        message_file = record.directory / "termination" / f"{name}-{instance}"
        message_file.parent.mkdir(parents=True, exist_ok=True)
        message_file.write_bytes(b"")
        record.messages[(name, instance)] = message_file
        try:
            argv, env, cwd = self._prepare(pod, container, record, message_file)
        except ValueError as err:
            event("Warning", "Failed", f"Error: {err}")
            return 128, "CreateContainerConfigError"
        log_path = record.directory / "logs" / f"{name}-{instance}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        record.logs[(name, instance)] = log_path
        with log_path.open("ab") as log:
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=log,
                    stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            except OSError as err:
                event("Warning", "Failed", f"Error: failed to start container {name!r}: {err}")
                return 128, "StartError"
        current = _Instance(process, log_path)
        record.processes[name] = current
        grace = float((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        watcher = asyncio.get_running_loop().create_task(
            self._watch(container, pod_ip, env, current, ready, event, grace), name=f"probes {uid}/{name}"
        )
        try:
            code = _exit_code(await process.wait())
            _signal_group(process.pid, signal.SIGKILL)  # children the leader left behind
        except asyncio.CancelledError:
            if process.returncode is None:
                self._kill(
                    current, record.grace_s if record.grace_s is not None else self.config.stop_grace_s
                )
            raise
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        return code, "Completed" if code == 0 else "Error"

    # -- inside --

    def _claimed_path(self, pod: Mapping[str, Any], volume_name: str) -> Path | None:
        """The directory of the PersistentVolume bound to the pod volume's claim, if it is one."""
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim = volume.get("persistentVolumeClaim") if volume.get("name") == volume_name else None
            if not claim:
                continue
            namespace = str((pod.get("metadata") or {}).get("namespace") or "")
            try:
                bound = self._lookup("PersistentVolumeClaim", str(claim.get("claimName", "")), namespace)
                pv = self._lookup(
                    "PersistentVolume", str((bound.get("spec") or {}).get("volumeName", "")), ""
                )
            except NotFound:  # an unbound claim: the pod's own directory, as emptyDir
                return None
            path = ((pv.get("spec") or {}).get("hostPath") or {}).get("path")
            return Path(path) if path else None
        return None

    def _prepare(
        self, pod: Mapping[str, Any], container: Mapping[str, Any], record: _Pod, message_file: Path
    ) -> tuple[list[str], dict[str, str], str]:
        image = str(container.get("image", ""))
        mapping = self.config.images[image]
        paths = dict(mapping.paths)
        paths[str(container.get("terminationMessagePath") or TERMINATION_MESSAGE_PATH)] = str(message_file)
        volumes = record.directory / "volumes"
        declared = {str(v.get("name")): v for v in (pod.get("spec") or {}).get("volumes") or []}
        namespace = str((pod.get("metadata") or {}).get("namespace", "default"))
        for mount in container.get("volumeMounts") or []:
            mount_path = str(mount.get("mountPath", ""))
            if mount_path and mount_path not in paths:
                local = self._claimed_path(pod, str(mount.get("name", ""))) or volumes / str(
                    mount.get("name", "volume")
                )
                source = declared.get(str(mount.get("name")), {}).get("configMap")
                if source is not None:
                    self._write_config_map(source, namespace, local)
                if mount.get("subPath"):
                    local = local / str(mount["subPath"])
                local.mkdir(parents=True, exist_ok=True)
                paths[mount_path] = str(local)
        bin_dir = self._bin_dir(image, mapping)
        base = {k: os.environ[k] for k in _INHERITED_ENV if k in os.environ}
        base["PATH"] = f"{bin_dir}{os.pathsep}{base.get('PATH', os.defpath)}"
        base.update({k: _map_path(v, paths) for k, v in mapping.env.items()})
        base[PATH_MAP_ENV] = json.dumps(paths, sort_keys=True)
        env = container_env(pod, container, base, record.ip, self._lookup)
        env = {k: _map_path(v, paths) for k, v in env.items()}
        command = [expand_vars(str(a), env) for a in container.get("command") or mapping.entrypoint]
        args = [expand_vars(str(a), env) for a in container.get("args") or []]
        if not command:
            raise ValueError(
                f"container {container['name']!r} has no command; the process runtime runs "
                f"image {image!r} only with an explicit command or an ImageMapping entrypoint (it cannot "
                "read the image)"
            )
        argv = rewrite_argv(command + args, paths, mapping.host_flag, record.ip)
        working_dir = container.get("workingDir")
        if working_dir and _map_path(str(working_dir), paths) != working_dir:
            cwd = Path(_map_path(str(working_dir), paths))
        elif working_dir:
            cwd = record.directory / "workdir" / str(container["name"])
        else:
            cwd = record.directory
        cwd.mkdir(parents=True, exist_ok=True)
        return argv, env, str(cwd)

    def _write_config_map(self, source: Mapping[str, Any], namespace: str, directory: Path) -> None:
        """A configMap volume's files: every key (or the listed ``items``), from the store."""
        name = str(source.get("name", ""))
        try:
            data = dict(self._lookup("ConfigMap", name, namespace).get("data") or {})
        except NotFound:
            if source.get("optional"):
                return
            raise ValueError(f'configmap "{name}" not found') from None
        items = source.get("items")
        files = {str(i["path"]): data[i["key"]] for i in items if i.get("key") in data} if items else data
        directory.mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            target = directory / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(str(text), encoding="utf-8")

    def _bin_dir(self, image: str, mapping: ImageMapping) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", image)
        directory = self._root / "bin" / safe
        if not directory.exists():
            directory.mkdir(parents=True)
            for name, target in mapping.executables.items():
                wrapper = directory / name
                wrapper.write_text(f'#!/bin/sh\nexec "{target}" "$@"\n')
                wrapper.chmod(0o755)
        return directory

    def _kill(self, instance: _Instance, grace_s: float) -> None:
        """SIGTERM to the process group now, SIGKILL after ``grace_s`` unless it has exited (once)."""
        if instance.killing is not None or instance.process.returncode is not None:
            return
        process = instance.process
        _signal_group(process.pid, signal.SIGTERM)

        async def finish() -> None:
            try:
                await asyncio.wait_for(process.wait(), grace_s)
            except TimeoutError:
                _signal_group(process.pid, signal.SIGKILL)
                await process.wait()
            _signal_group(process.pid, signal.SIGKILL)  # children the leader left behind

        instance.killing = asyncio.get_running_loop().create_task(finish(), name=f"kill {process.pid}")
        self._kills.add(instance.killing)
        instance.killing.add_done_callback(self._kills.discard)

    async def _watch(
        self,
        container: Mapping[str, Any],
        pod_ip: str,
        env: Mapping[str, str],
        instance: _Instance,
        ready: ReadyCallback,
        event: EventCallback,
        grace_s: float,
    ) -> None:
        """kubelet's probe workers for one container instance (startup, then readiness and liveness)."""
        started = time.monotonic()
        scale = self.config.probe_time_scale
        startup = parse_probe(container.get("startupProbe"))
        readiness = parse_probe(container.get("readinessProbe"))
        liveness = parse_probe(container.get("livenessProbe"))

        async def wait_until(delay: float) -> None:
            left = started + delay * scale - time.monotonic()
            if left > 0:
                await self._sleep(left)

        async def loop(probe: Probe, label: str, on_verdict: Callable[[bool], bool]) -> None:
            state = ProbeState(probe)
            await wait_until(probe.initial_delay_s)
            while instance.process.returncode is None:
                ok, why = await self._check(probe, container, pod_ip, env)
                if not ok:
                    event("Warning", "Unhealthy", f"{label} probe failed: {why}")
                verdict = state.observe(ok)
                if verdict is not None and on_verdict(verdict):
                    return
                await self._sleep(probe.period_s * scale)

        def kill_on_failure(label: str) -> Callable[[bool], bool]:
            def decide(verdict: bool) -> bool:
                if verdict:
                    return label == "Startup"  # a startup probe stops once it has passed
                name = container.get("name")
                event(
                    "Normal", "Killing", f"Container {name} failed {label.lower()} probe, will be restarted"
                )
                self._kill(instance, grace_s)
                return True

            return decide

        if startup is not None:
            await loop(startup, "Startup", kill_on_failure("Startup"))
            if instance.process.returncode is not None or instance.killing is not None:
                return
        tasks: list[Awaitable[None]] = []
        if readiness is None:
            ready(True)
        else:

            def set_ready(verdict: bool) -> bool:
                ready(verdict)
                return False

            tasks.append(loop(readiness, "Readiness", set_ready))
        if liveness is not None:
            tasks.append(loop(liveness, "Liveness", kill_on_failure("Liveness")))
        if tasks:
            await asyncio.gather(*tasks)

    async def _check(
        self, probe: Probe, container: Mapping[str, Any], pod_ip: str, env: Mapping[str, str]
    ) -> tuple[bool, str]:
        """Run one probe; (passed, why it failed)."""
        handler = probe.handler
        try:
            if probe.kind == "exec":
                command = [str(a) for a in handler.get("command") or []]
                process = await asyncio.create_subprocess_exec(
                    *command, env=dict(env), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
                )
                try:
                    out, _ = await asyncio.wait_for(process.communicate(), probe.timeout_s)
                except TimeoutError:
                    process.kill()
                    await process.wait()
                    return False, f"command timed out after {probe.timeout_s:g}s"
                return process.returncode == 0, out.decode(errors="replace").strip()
            host = str(handler.get("host") or pod_ip)
            port = _port_of(container, handler.get("port"))
            if probe.kind == "tcpSocket":
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), probe.timeout_s)
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                return True, ""
            scheme = str(handler.get("scheme") or "HTTP").lower()
            url = f"{scheme}://{host}:{port}{handler.get('path') or '/'}"
            headers = {str(h["name"]): str(h["value"]) for h in handler.get("httpHeaders") or []}
            if self._session is None:
                self._session = aiohttp.ClientSession()
            timeout = aiohttp.ClientTimeout(total=probe.timeout_s)
            async with self._session.get(url, headers=headers, timeout=timeout, ssl=False) as response:
                if 200 <= response.status < 400:
                    return True, ""
                return False, f"HTTP probe failed with statuscode: {response.status}"
        except TimeoutError:
            return False, f"probe timed out after {probe.timeout_s:g}s"
        except (OSError, aiohttp.ClientError, ValueError) as err:
            return False, str(err) or type(err).__name__


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
