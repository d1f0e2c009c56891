"""The embedded cluster assembled: store, garbage collector, API server, workloads and ARM endpoint.

``async with Cluster() as c:`` gives a running cluster on loopback and a kubeconfig file pointing at it
(``c.kubeconfig``), which any real client can load. The parts, started in this order and stopped in reverse:

- the :class:`~kaito.sim.server.store.Store` (loaded from ``snapshot_path`` when that file exists);
- the garbage collector loop (:mod:`kaito.sim.workloads.gc`: ownerReferences, namespace deletion);
- the :class:`~kaito.sim.server.apiserver.ApiServer` on ``127.0.0.1:port`` (``port=0`` picks a free one),
  over TLS with a freshly minted CA, authenticating every request (:mod:`kaito.sim.server.authz`);
- the workload simulator (:mod:`kaito.sim.workloads.simulator`: scheduler, kubelet, Deployment/StatefulSet/Job
  controllers) when ``workloads=True``; its pod logs are what ``GET pods/{name}/log`` returns; with
  ``process_runtime=ProcessRuntimeConfig(...)`` containers of the mapped images run as real local
  processes (:mod:`kaito.sim.workloads.processes`), and Services get ClusterIPs reachable on this machine
  (:mod:`kaito.sim.workloads.cluster_ips`);
- the ARM agentPools endpoint (:mod:`kaito.sim.cloud.arm.server`, always HTTPS) when ``arm=True``;
- the fake Karpenter (:mod:`kaito.sim.cloud.karpenter`: the NodeClaim CRD, NodeClaims turned into Nodes) when
  ``karpenter=True``, with ``karpenter_options`` as its keyword arguments (``c.karpenter``);
- authentication and RBAC (:mod:`kaito.sim.server.authz`): the kubeconfig carries a random admin token (user
  ``kaito-admin``, group ``system:masters``) and the CA; a request without a token may only read health and
  ``/version``, anything else without a valid token is 401; a token from :meth:`Cluster.service_account_token`
  (or ``kubectl create token``) is held to the Roles bound to its ServiceAccount (``authorization=False``
  lets every valid token do anything instead).

Secure by default, as kube-apiserver, k3s and kind are: ``Cluster()`` serves HTTPS only and refuses
anonymous requests. ``Cluster(insecure=True)`` is the explicit opt-out for a test that needs plain HTTP
without credentials: no TLS, no authentication, every request allowed. Files at rest hold credentials or
Secrets, so they are private to the user: the kubeconfigs and the snapshot are written 0600, a directory this
creates for them 0700, and the temporary directory (TLS keys, ServiceAccount kubeconfigs) is 0700.

With ``snapshot_path``, the store persists through a
:class:`~kaito.sim.server.persistence.SnapshotFile` (it loads from the file at start and sees every committed
write; the file is written on stop), so a test can stop a cluster, start another on the same file and find the
same objects — what an operator sees when its API server restarts. The file holds the store's image with the
ARM endpoint's pools beside it (key ``arm``, :mod:`kaito.sim.cloud.arm.snapshot`), so the restarted cloud
still has the pools that made its Nodes, under the same ids, with their operations resumed; a cluster started
without ARM carries that section over unchanged. The restarted cluster listens on new ports with a new CA:
clients follow it by re-reading the rewritten kubeconfig and ``arm.url``/``ca_path``.
Karpenter needs no section: it re-derives every NodeClaim's next step from the claim at start.

With ``data_dir``, the cluster is durable instead (:mod:`kaito.sim.server.durable`): every committed write is
in ``DIR/kaito-sim.db`` (SQLite, WAL) before the request that made it is answered, and the ARM endpoint's
section is saved in the same database after every change of its pools (a write request, an operation's end,
a Node turning Ready), so a cluster killed with SIGKILL and started again on the same directory has every
acknowledged object, the same resourceVersions going on upwards, watches resumable from a retained
resourceVersion (410 Gone for older ones) and its cloud's pools. Karpenter's state is its NodeClaims and
Nodes, which are in the store. ``data_dir`` and ``snapshot_path`` exclude each other. The optional
parts are imported lazily, so a cluster without them needs none of their code. Nothing here is global: two
clusters in one process are independent.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import ssl
import tempfile
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from kaito.sim.server.apiserver import ApiServer, LogProvider
from kaito.sim.server.authz import Authorization, ServiceAccountCredentials, write_token_kubeconfig
from kaito.sim.server.durable import SqliteBackend, open_data_dir
from kaito.sim.server.faults import Faults
from kaito.sim.server.kubeconfig import write_kubeconfig
from kaito.sim.server.persistence import SnapshotFile
from kaito.sim.server.store import Store
from kaito.sim.server.tls import TlsBundle
from kaito.sim.workloads.gc import GarbageCollector

if TYPE_CHECKING:
    from kaito.sim.cloud.arm.server import ArmServer
    from kaito.sim.cloud.karpenter import KarpenterSimulator
    from kaito.sim.workloads.cluster_ips import ClusterIpForwarder
    from kaito.sim.workloads.kubelet import Timings
    from kaito.sim.workloads.processes import ProcessRuntimeConfig
    from kaito.sim.workloads.simulator import WorkloadSimulator

__all__ = ["Cluster"]

_HOST = "127.0.0.1"


class Cluster:
    """A running embedded cluster (see the module docstring). Use as ``async with Cluster(...) as c``."""

    def __init__(
        self,
        *,
        port: int = 0,
        tls: bool | None = None,
        workloads: bool = True,
        arm: bool = True,
        snapshot_path: Path | str | None = None,
        data_dir: Path | str | None = None,
        timings: Timings | None = None,
        kubeconfig_path: Path | str | None = None,
        arm_options: dict[str, Any] | None = None,
        authorization: bool | None = None,
        insecure: bool = False,
        process_runtime: ProcessRuntimeConfig | None = None,
        karpenter: bool = False,
        karpenter_options: dict[str, Any] | None = None,
    ) -> None:
        self.port = port
        self.insecure = insecure
        self.tls, self._want_authorization = _security(tls, authorization, insecure)
        if snapshot_path is not None and data_dir is not None:
            raise ValueError(
                f"snapshot_path ({snapshot_path}) and data_dir ({data_dir}) were both given; a cluster keeps "
                "its state in one of them: data_dir (durable, every write) or snapshot_path (saved at stop)"
            )
        self.snapshot_path = Path(snapshot_path) if snapshot_path is not None else None
        self.data_dir = Path(data_dir).expanduser() if data_dir is not None else None
        self.timings = timings
        self.faults = Faults()
        self.store = Store()
        self.arm: ArmServer | None = None
        self.karpenter: KarpenterSimulator | None = None
        self._want_karpenter = karpenter
        self._karpenter_options = dict(karpenter_options or {})
        self.workloads: WorkloadSimulator | None = None
        self.apiserver: ApiServer | None = None
        self.tls_bundle: TlsBundle | None = None
        self.authorization: Authorization | None = None
        self._want_workloads = workloads
        self._want_arm = arm
        self._process_runtime = (
            process_runtime  # None: every container is simulated (kaito.sim.workloads.processes)
        )
        self.cluster_ips: ClusterIpForwarder | None = None  # with the process runtime: reachable ClusterIPs
        self._arm_options = dict(arm_options or {})
        self._kubeconfig_path = Path(kubeconfig_path) if kubeconfig_path is not None else None
        self._tmpdir: Path | None = None
        self._arm_section: Any = None  # the snapshot's ARM section, restored at start and kept without ARM
        self._snapshot: SnapshotFile | None = None
        self._durable: SqliteBackend | None = None
        self._data_dir_lock: Any = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._gc: GarbageCollector | None = None
        self._started = False

    # -- what clients need --

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:PORT`` of the API server (empty before start)."""
        return self.apiserver.url if self.apiserver is not None else ""

    @property
    def kubeconfig(self) -> Path:
        """Path of the kubeconfig file written at start (context ``kaito-sim``)."""
        if self._kubeconfig_path is None:
            raise RuntimeError("the cluster is not started yet; use `async with Cluster() as c` first")
        return self._kubeconfig_path

    @property
    def admin_token(self) -> str | None:
        """The bearer token of the admin kubeconfig (None on an insecure cluster, which checks none)."""
        return self.authorization.admin_token if self.authorization is not None else None

    def client_ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context trusting only this cluster's CA (None on an insecure, plain-HTTP cluster)."""
        return self.tls_bundle.client_context() if self.tls and self.tls_bundle is not None else None

    @property
    def log_provider(self) -> LogProvider | None:
        return self.apiserver.log_provider if self.apiserver is not None else None

    @log_provider.setter
    def log_provider(self, provider: LogProvider | None) -> None:
        if self.apiserver is None:
            raise RuntimeError("the cluster is not started yet; set log_provider after start")
        self.apiserver.log_provider = provider

    def service_account_token(
        self, namespace: str, name: str, *, expiration_seconds: int | None = None
    ) -> ServiceAccountCredentials:
        """A token for the existing ServiceAccount ``namespace/name`` and a kubeconfig sending it.

        Needs a started cluster that is not ``insecure``: an insecure one checks no token, so a token would
        prove nothing.
        """
        if self.authorization is None or self._tmpdir is None:
            raise RuntimeError(
                "service_account_token needs a started Cluster() without insecure=True; "
                "an insecure cluster checks no token, so every request has full access"
            )
        token = self.authorization.mint(namespace, name, expiration_seconds=expiration_seconds)
        ca = self.tls_bundle.ca_pem() if self.tls and self.tls_bundle else None
        path = self._tmpdir / "serviceaccounts" / f"{namespace}.{name}.{self.authorization.tokens}"
        write_token_kubeconfig(path, self.url, token, namespace=namespace, ca_pem=ca)
        return ServiceAccountCredentials(namespace, name, token, path)

    # -- lifecycle --

    async def start(self) -> Cluster:
        """Start every part (see the module docstring); idempotent."""
        if self._started:
            return self
        self._started = True
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def _start(self) -> None:
        if self.snapshot_path is not None:
            self._snapshot = SnapshotFile(self.snapshot_path)
            if self.snapshot_path.exists():
                self.store = Store(persistence=self._snapshot)
                self._arm_section = self._snapshot.sections.get("arm")
            else:
                self.store.use_persistence(self._snapshot)
        if self.data_dir is not None:
            self._durable, self._data_dir_lock = open_data_dir(self.data_dir)
            self.store.use_persistence(self._durable)
            self._arm_section = self._durable.section("arm")
        self.faults.store = self.store
        self._tmpdir = Path(tempfile.mkdtemp(prefix="kaito-sim-"))
        if self.tls or self._want_arm:
            self.tls_bundle = TlsBundle.generate(self._tmpdir / "tls")
        self._start_gc()
        ssl_context = self.tls_bundle.server_context() if self.tls and self.tls_bundle else None
        self.apiserver = ApiServer(self.store, faults=self.faults, ssl_context=ssl_context)
        if not self.insecure:
            self.authorization = Authorization(self.store, rbac=self._want_authorization)
            self.apiserver.app.middlewares.append(self.authorization.middleware)
        await self.apiserver.start(_HOST, self.port)
        if self._want_workloads:
            await self._start_workloads()
        if self._want_arm:
            await self._start_arm()
        if self._want_karpenter:
            from kaito.sim.cloud.karpenter import KarpenterSimulator

            self.karpenter = KarpenterSimulator(self.store, **self._karpenter_options)
            self.karpenter.start()
        path = self._kubeconfig_path or self._tmpdir / "kubeconfig"
        ca = self.tls_bundle.ca_pem() if self.tls and self.tls_bundle else None
        if self.authorization is not None:
            token = self.authorization.admin_token
            self._kubeconfig_path = write_kubeconfig(path, self.url, ca_pem=ca, token=token)
        else:
            self._kubeconfig_path = write_kubeconfig(path, self.url, ca_pem=ca)

    def _start_gc(self) -> None:
        gc = GarbageCollector(self.store)
        self._gc = gc
        self._tasks.append(asyncio.create_task(gc.run(), name="kaito-sim-gc"))

    async def _start_workloads(self) -> None:
        from kaito.sim.workloads.simulator import WorkloadSimulator

        workloads = WorkloadSimulator(
            self.store,
            timings=self.timings,
            process_runtime=self._process_runtime,
            volume_dir=self._tmpdir / "volumes" if self._tmpdir else None,
        )
        self.workloads = workloads
        await workloads.start()
        if self._process_runtime is not None:  # ClusterIPs reachable on this machine (workloads.cluster_ips)
            from kaito.sim.workloads.cluster_ips import ClusterIpForwarder, readdress_services

            prefix = f"127.{random.randint(251, 254)}.{random.randint(0, 255)}"  # pods' /24s: 127.16-250.x
            self.store.cluster_ip_prefix = prefix
            readdress_services(self.store, f"{prefix}.0/24")
            recorder = workloads.recorder
            self.cluster_ips = ClusterIpForwarder(
                self.store,
                f"{prefix}.0/24",
                warn=lambda svc, reason, msg: recorder.event(
                    svc, "Warning", reason, msg, component="kube-proxy"
                ),
            )
            self.cluster_ips.start()
        if self.apiserver is not None:
            self.apiserver.log_provider = workloads.logs

    async def _start_arm(self) -> None:
        from kaito.sim.cloud.arm.server import ArmServer
        from kaito.sim.cloud.arm.snapshot import ids_options

        saved = ids_options(self._arm_section) if self._arm_section is not None else {}
        arm = ArmServer(self.store, tls=self.tls_bundle, **{**saved, **self._arm_options})
        if self._arm_section is not None:
            arm.restore(self._arm_section)  # refused: self.arm stays None and stop() keeps the section
        self.arm = arm
        durable = self._durable
        if durable is not None:
            arm.service.on_change = lambda: durable.save_section("arm", arm.snapshot())
        await arm.start(host=_HOST, port=0)

    async def stop(self) -> None:
        """Stop every part in reverse order, save the snapshot, remove temporary files; idempotent."""
        if not self._started:
            return
        self._started = False
        if self.karpenter is not None:
            self.karpenter.stop()
        if self.arm is not None:
            await self.arm.stop()
        if self.cluster_ips is not None:
            await self.cluster_ips.stop()
        if self.workloads is not None:
            await self.workloads.stop()
        if self.apiserver is not None:
            await self.apiserver.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.store.drop_watches()
        if self._snapshot is not None:
            self._snapshot.save(arm=self.arm.snapshot() if self.arm is not None else self._arm_section)
        if self._durable is not None:
            if self.arm is not None:
                self._durable.save_section("arm", self.arm.snapshot())
            self._durable.close()
            self._durable = None
        if self._data_dir_lock is not None:
            self._data_dir_lock.close()
            self._data_dir_lock = None
        if self._tmpdir is not None:  # the generated kubeconfig and TLS files; a given kubeconfig path stays
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    async def __aenter__(self) -> Cluster:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _security(tls: bool | None, authorization: bool | None, insecure: bool) -> tuple[bool, bool]:
    """(tls, rbac) from the constructor's options: secure unless ``insecure``; contradictions refused."""
    if insecure:
        if tls or authorization:
            given = "tls=True" if tls else "authorization=True"
            raise ValueError(
                f"insecure=True serves plain HTTP without authentication, but {given} was also given; "
                "drop one of them"
            )
        return False, False
    if tls is False:
        raise ValueError(
            "tls=False would send the admin token in clear text (and kubectl sends none over plain HTTP); "
            "the cluster serves HTTPS with authentication, or plain HTTP without any with insecure=True"
        )
    return True, authorization is not False
