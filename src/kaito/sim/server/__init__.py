"""kaito.sim.server: the embedded Kubernetes API server — what kube-apiserver and etcd do.

- :mod:`.apiserver` serves REST, watch streams, discovery, Table printing, the scale and log subresources
  and the services/pods proxy over HTTP(S); it knows nothing of what runs pods (logs and process addresses
  come in through :class:`~.apiserver.LogProvider` and the proxy's resolver).
- :mod:`.store` is the generic registry core (revisions, preconditions, merges, watch fan-out, persistence
  hook); :mod:`.strategy` / :mod:`.strategies` hold what each kind does differently; :mod:`.persistence` is
  where committed writes go and start-up loads from; :mod:`.durable` is its SQLite backend (a data directory
  that survives SIGKILL).
- Admission: :mod:`.bodies` (shape and metadata types of a decoded body), :mod:`.defaults`,
  :mod:`.validation`, :mod:`.schema` + :mod:`.cel` (custom resources), :mod:`.fieldvalidation`,
  :mod:`.crds`; wire formats: :mod:`.patches`, :mod:`.protobuf`, :mod:`.printing`, :mod:`.jsonpath`,
  :mod:`.discovery`; access: :mod:`.authz`, :mod:`.tokenrequest`, :mod:`.kubeconfig`, :mod:`.tls`; faults a
  test injects: :mod:`.faults`.

Nothing here imports :mod:`kaito.sim.workloads` or :mod:`kaito.sim.cloud` (an import contract says so).
"""

from __future__ import annotations

from kaito.sim.server.apiserver import ApiServer, LogProvider
from kaito.sim.server.authz import Authorization, ServiceAccountCredentials
from kaito.sim.server.durable import DataDirInUse, SqliteBackend, open_data_dir
from kaito.sim.server.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    NotFound,
    TooManyRequests,
)
from kaito.sim.server.faults import Faults, Match
from kaito.sim.server.fieldvalidation import FieldValidation
from kaito.sim.server.kubeconfig import kubeconfig_dict, write_kubeconfig
from kaito.sim.server.persistence import (
    CommittedWrite,
    MemoryOnly,
    Persistence,
    SnapshotFile,
    StoredObject,
    StoreImage,
)
from kaito.sim.server.proxy import ServiceProxy
from kaito.sim.server.resources import BUILTIN_TYPES, ResourceRegistry, ResourceType
from kaito.sim.server.store import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, Store
from kaito.sim.server.strategies import default_strategies
from kaito.sim.server.strategy import Strategy, StrategyContext, StrategyRegistry
from kaito.sim.server.tls import TlsBundle
from kaito.sim.server.watch import Watch, WatchEvent

__all__ = [
    "APPLY_PATCH",
    "BUILTIN_TYPES",
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "AlreadyExists",
    "ApiError",
    "ApiServer",
    "Authorization",
    "BadRequest",
    "CommittedWrite",
    "Conflict",
    "DataDirInUse",
    "Faults",
    "FieldError",
    "FieldValidation",
    "Forbidden",
    "Gone",
    "InternalError",
    "Invalid",
    "LogProvider",
    "Match",
    "MemoryOnly",
    "NotFound",
    "Persistence",
    "ResourceRegistry",
    "ResourceType",
    "ServiceAccountCredentials",
    "ServiceProxy",
    "SnapshotFile",
    "SqliteBackend",
    "Store",
    "StoreImage",
    "StoredObject",
    "Strategy",
    "StrategyContext",
    "StrategyRegistry",
    "TlsBundle",
    "TooManyRequests",
    "Watch",
    "WatchEvent",
    "default_strategies",
    "kubeconfig_dict",
    "open_data_dir",
    "write_kubeconfig",
]
