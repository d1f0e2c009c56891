"""The AKS provisioner: one agent pool per Machine through azure-mgmt-containerservice's aio client.

The decisions (pool name, AgentPool body, what a pool state or an Azure error means) are the pure functions
of `kaito.provisioners.aks_pool`; this module is the thin async shell around the SDK.

Long-running operations are never awaited: `create` and `delete` start them with `polling=False` and
return; the Machine reconciler observes progress with `get` (a GET of the pool) on later reconciles, so a
pool that takes ten minutes never holds a reconcile worker, and a restarted controller re-derives
everything from GET. A create whose PUT meets AKS's 409 "in progress create node pool operation" adopts the
running operation (it is ours: the name is deterministic) instead of failing.

Credentials: in a cluster, `AksProvisioner.from_environment()` uses azure-identity's
WorkloadIdentityCredential when `AZURE_FEDERATED_TOKEN_FILE` is set, else DefaultAzureCredential. Against
the embedded endpoint of `kaito.sim`, pass an explicit credential (`StaticTokenCredential`), its `base_url`
and `connection_verify=<its CA file>`.

`list()` pages through the cluster's agent pools (the SDK follows `nextLink`) and keeps only those kaito
tagged as its own (`aks_pool.owned_pool`); `delete_owned` deletes one of them by pool name.

`throttled` counts the 429s that got past the SDK's own retries. Each becomes a ThrottledError carrying
the Retry-After, and until that time has passed every call fails fast with the remaining wait instead of
touching ARM: a reconcile triggered early by some watch event must not spend the subscription's request
budget while Azure asked us to stay away.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kaito import ctrl
from kaito.api import names
from kaito.api.machine import Machine
from kaito.provisioners.aks_pool import (
    build_agent_pool,
    classify_azure_error,
    observe_pool,
    owned_pool,
    pool_name,
)
from kaito.provisioners.base import (
    ObservedState,
    OperationInProgress,
    OwnedResource,
    Provisioner,
    ProvisionerError,
    ThrottledError,
)
from kaito.runtimes.resource_skus import gpu_config_from_resource_sku, is_unlisted_n_series
from kaito.runtimes.skus import GpuConfig

if TYPE_CHECKING:  # the Azure SDK (about 0.5 s to import) loads when an AksProvisioner is built
    from azure.core.credentials import AccessToken
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.core.exceptions import AzureError
    from azure.mgmt.containerservice.aio import ContainerServiceClient

__all__ = ["AksConfig", "AksProvisioner", "StaticTokenCredential"]

_SKUS_API_VERSION = "2021-07-01"

_HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


def _quiet_http_logging() -> None:
    """The Azure SDK logs every request and response (headers included) at INFO; an operator at INFO
    would then write a dozen lines per ARM call. Raised to WARNING unless someone chose a level for it."""
    logger = logging.getLogger(_HTTP_LOGGER)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)


@dataclass(frozen=True)
class AksConfig:
    """Which AKS cluster's pools to manage, and how to reach its ARM endpoint."""

    subscription_id: str
    resource_group: str
    cluster_name: str
    base_url: str | None = None  # None: public Azure (management.azure.com)
    connection_verify: str | bool = True  # a CA bundle path for a private endpoint
    retry_total: int | None = None  # the SDK's own retries of 429/5xx (None: azure-core's default, 3)
    client_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for label, value in (
            ("subscription_id", self.subscription_id),
            ("resource_group", self.resource_group),
            ("cluster_name", self.cluster_name),
        ):
            if not value:
                raise ValueError(f"AksConfig.{label} is empty; give the AKS cluster's {label}")

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(self.client_options)
        if self.base_url is not None:
            kwargs["base_url"] = self.base_url
        if self.connection_verify is not True:
            kwargs["connection_verify"] = self.connection_verify
        if self.retry_total is not None:
            kwargs["retry_total"] = self.retry_total
        return kwargs


class StaticTokenCredential:
    """An async credential handing out one fixed token: for endpoints that accept any bearer (kaito.sim).

    It satisfies azure-core's `AsyncTokenCredential` protocol without importing the SDK."""

    def __init__(self, token: str = "kaito-sim", *, lifetime_s: int = 3600) -> None:
        self._token = token
        self._lifetime_s = lifetime_s

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + self._lifetime_s)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticTokenCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class AksProvisioner(Provisioner):
    """Machines as AKS agent pools (one pool of one node each)."""

    name = names.PROVISIONER_AKS

    def __init__(
        self,
        config: AksConfig,
        credential: AsyncTokenCredential,
        *,
        client: ContainerServiceClient | None = None,
        clock: ctrl.Clock | None = None,
    ) -> None:
        self.config = config
        self.clock: ctrl.Clock = clock or ctrl.SystemClock()
        self._quiet_until: float | None = None  # monotonic time before which ARM asked not to be called
        self.credential = credential
        if client is None:
            from azure.mgmt.containerservice.aio import ContainerServiceClient

            kwargs = config.client_kwargs()
            if "transport" not in kwargs:
                from kaito.provisioners._aks_transport import SharedTlsTransport

                kwargs["transport"] = SharedTlsTransport(**kwargs)  # the kwargs azure-core would give it
            client = ContainerServiceClient(credential, config.subscription_id, **kwargs)
            _quiet_http_logging()
        self.client = client
        self.throttled = 0

    @classmethod
    def from_environment(cls, config: AksConfig) -> AksProvisioner:
        """In a cluster: workload identity when its token file is mounted, else DefaultAzureCredential."""
        from azure.identity.aio import DefaultAzureCredential, WorkloadIdentityCredential

        credential: AsyncTokenCredential
        if os.environ.get("AZURE_FEDERATED_TOKEN_FILE"):
            credential = WorkloadIdentityCredential()
        else:
            credential = DefaultAzureCredential()
        return cls(config, credential)

    async def close(self) -> None:
        await self.client.close()
        await self.credential.close()

    async def gpu_config(self, instance_type: str) -> GpuConfig | None:
        """An unlisted Standard_N* size, from ARM's resource SKUs (kaito.runtimes.resource_skus)."""
        if not is_unlisted_n_series(instance_type):
            return None
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        self._respect_retry_after()
        url = (
            f"/subscriptions/{self.config.subscription_id}/providers/Microsoft.Compute/skus"
            f"?api-version={_SKUS_API_VERSION}"
        )

        try:
            response = await self.client.send_request(HttpRequest("GET", url))
            response.raise_for_status()
            body = response.json()
        except AzureError as exc:
            raise self._classify(exc) from None
        for sku in body.get("value") or []:
            if sku.get("resourceType") == "virtualMachines" and str(sku.get("name", "")).lower() == (
                instance_type.lower()
            ):
                return gpu_config_from_resource_sku(sku)
        return None

    # ---- the contract -------------------------------------------------------------------------------

    async def create(self, machine: Machine) -> ObservedState:
        from azure.core.exceptions import AzureError

        self._respect_retry_after()
        existing = await self.get(machine)
        if existing.exists:
            return existing
        name = pool_name(machine.metadata.name or "")
        try:
            poller = await self.client.agent_pools.begin_create_or_update(
                self.config.resource_group,
                self.config.cluster_name,
                name,
                build_agent_pool(machine, created_at=self.clock.now()),
                polling=False,
            )
            body = await poller.result()
        except AzureError as exc:
            error = self._classify(exc)
            if isinstance(error, OperationInProgress):
                return await self.get(machine)  # our own create, started before a restart: adopt it
            raise error from exc
        return observe_pool(body)

    async def get(self, machine: Machine) -> ObservedState:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        self._respect_retry_after()
        name = pool_name(machine.metadata.name or "")
        try:
            pool = await self.client.agent_pools.get(
                self.config.resource_group, self.config.cluster_name, name
            )
        except ResourceNotFoundError:
            return ObservedState.gone(f"agent pool {name}")
        except AzureError as exc:
            raise self._classify(exc) from exc
        return observe_pool(pool)

    async def delete(self, machine: Machine) -> None:
        await self._delete_pool(pool_name(machine.metadata.name or ""))

    async def list(self) -> Sequence[OwnedResource]:
        from azure.core.exceptions import AzureError

        self._respect_retry_after()
        owned: list[OwnedResource] = []
        try:
            async for pool in self.client.agent_pools.list(
                self.config.resource_group, self.config.cluster_name
            ):
                found = owned_pool(pool)
                if found is not None:
                    owned.append(found)
        except AzureError as exc:
            raise self._classify(exc) from exc
        return owned

    async def delete_owned(self, owned: OwnedResource) -> None:
        await self._delete_pool(owned.name)

    async def _delete_pool(self, name: str) -> None:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        self._respect_retry_after()
        try:
            poller = await self.client.agent_pools.begin_delete(
                self.config.resource_group, self.config.cluster_name, name, polling=False
            )
            await poller.result()
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            error = self._classify(exc)
            if isinstance(error, OperationInProgress):
                return  # a delete is already running
            raise error from exc

    def matches(self, node: Mapping[str, Any], machine: Machine) -> bool:
        labels = (node.get("metadata") or {}).get("labels") or {}
        name = machine.metadata.name or ""
        return labels.get(names.LABEL_MACHINE) == name and labels.get("agentpool") == pool_name(name)

    def _respect_retry_after(self) -> None:
        if self._quiet_until is None:
            return
        left = self._quiet_until - self.clock.monotonic()
        if left <= 0:
            self._quiet_until = None
            return
        raise ThrottledError(
            "TooManyRequests",
            "Azure Resource Manager is throttling this subscription's requests.",
            retry_after=left,
        )

    def _classify(self, exc: AzureError) -> ProvisionerError:
        error = classify_azure_error(exc)
        if isinstance(error, ThrottledError):
            self.throttled += 1
            if error.retry_after:
                self._quiet_until = self.clock.monotonic() + error.retry_after
        return error
