"""Leader election on a coordination.k8s.io/v1 Lease, with client-go's algorithm and defaults.

Timing (validated: lease_duration > renew_deadline > 1.2 · retry_period > 0):
* lease_duration (15 s): how long others wait, after last seeing the record change, before taking over.
* renew_deadline (10 s): how long the leader keeps retrying a failed renewal before giving up leadership.
* retry_period (2 s): the pause between attempts (acquire attempts are jittered by up to 1.2 times).

Expiry is judged from observed CHANGES of the record on the local monotonic clock — never by comparing
renewTime with our wall clock — so clock skew between replicas does not matter: a follower that sees the
same record for lease_duration seconds considers the leader gone. Updates carry metadata.resourceVersion,
so two candidates racing for an expired lease cannot both win (one gets 409 Conflict).

`release()` (on graceful stop) rewrites the record with an empty holder and a 1 s duration, so a
successor takes over at once instead of waiting out the lease.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any

from kaito.ctrl.client import GVK, Client
from kaito.ctrl.clock import Clock, SystemClock
from kaito.ctrl.errors import AlreadyExists, CtrlError, LeaderElectionLost, NotFound

__all__ = ["LeaderElectionConfig"]

log = logging.getLogger("kaito.ctrl.leader")

LEASE = GVK("coordination.k8s.io/v1", "Lease")


def _micro_time(clock: Clock) -> str:
    return clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LeaderElectionConfig:
    """Which Lease to hold, as whom, and client-go's three durations (seconds)."""

    name: str
    namespace: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        if not self.name or not self.namespace or not self.identity:
            raise ValueError(
                f"leader election needs a lease name, namespace and identity; got name={self.name!r} "
                f"namespace={self.namespace!r} identity={self.identity!r}"
            )
        if self.retry_period <= 0:
            raise ValueError(f"retry_period must be > 0 seconds, got {self.retry_period}")
        if self.renew_deadline <= 1.2 * self.retry_period:
            raise ValueError(
                f"renew_deadline ({self.renew_deadline}s) must be greater than 1.2 times retry_period "
                f"({1.2 * self.retry_period:g}s)"
            )
        if self.lease_duration <= self.renew_deadline:
            raise ValueError(
                f"lease_duration ({self.lease_duration}s) must be greater than renew_deadline "
                f"({self.renew_deadline}s)"
            )


class LeaderElector:
    """Acquires, renews and releases one Lease."""

    def __init__(
        self,
        client: Client,
        config: LeaderElectionConfig,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._observed: dict[str, Any] | None = None
        self._observed_at = 0.0
        self.is_leader = False

    @property
    def observed_holder(self) -> str:
        return str((self._observed or {}).get("holderIdentity") or "")

    def _record(self, acquire_time: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.config.identity,
            "leaseDurationSeconds": max(1, round(self.config.lease_duration)),
            "acquireTime": acquire_time,
            "renewTime": _micro_time(self.clock),
            "leaseTransitions": transitions,
        }

    async def try_acquire_or_renew(self) -> bool:
        """One attempt: True if we hold the lease afterwards."""
        cfg = self.config
        now = self.clock.monotonic()
        try:
            lease = await self.client.get(LEASE, cfg.name, cfg.namespace)
        except NotFound:
            record = self._record(_micro_time(self.clock), 0)
            body = {
                "apiVersion": LEASE.api_version,
                "kind": LEASE.kind,
                "metadata": {"name": cfg.name, "namespace": cfg.namespace},
                "spec": record,
            }
            try:
                created = await self.client.create(body)
            except AlreadyExists:
                return False
            self._remember(created, now)
            return True
        record = dict(lease.get("spec") or {})
        if record != self._observed:
            self._observed, self._observed_at = record, now
        holder = record.get("holderIdentity") or ""
        duration = float(record.get("leaseDurationSeconds") or cfg.lease_duration)
        if holder and holder != cfg.identity and self._observed_at + duration > now:
            return False  # someone else holds a lease we have not seen go stale
        if holder == cfg.identity:
            new = self._record(
                record.get("acquireTime") or _micro_time(self.clock), record.get("leaseTransitions", 0)
            )
        else:
            new = self._record(_micro_time(self.clock), int(record.get("leaseTransitions") or 0) + 1)
        lease = {**lease, "spec": new}
        try:
            updated = await self.client.update(lease)
        except CtrlError as exc:
            log.info("lease %s/%s: update failed: %s", cfg.namespace, cfg.name, exc)
            return False
        self._remember(updated, now)
        return True

    def _remember(self, lease: dict[str, Any], now: float) -> None:
        self._observed = dict(lease.get("spec") or {})
        self._observed_at = now

    async def _attempt(self) -> bool:
        try:
            async with asyncio.timeout(self.config.renew_deadline):  # a hung API call must not outlive it
                return await self.try_acquire_or_renew()
        except TimeoutError:
            log.warning(
                "lease %s/%s: no answer within %gs",
                self.config.namespace,
                self.config.name,
                self.config.renew_deadline,
            )
            return False
        except CtrlError as exc:
            log.warning("lease %s/%s: %s", self.config.namespace, self.config.name, exc)
            return False

    async def acquire(self) -> None:
        """Return once we hold the lease (retrying every retry_period, jittered)."""
        log.info(
            "attempting to acquire lease %s/%s as %s",
            self.config.namespace,
            self.config.name,
            self.config.identity,
        )
        while not await self._attempt():
            await self.clock.sleep(self.config.retry_period * (1.0 + 1.2 * self._rng.random()))
        self.is_leader = True
        log.info("acquired lease %s/%s as %s", self.config.namespace, self.config.name, self.config.identity)

    async def keep_renewing(self) -> None:
        """Renew every retry_period; raise LeaderElectionLost once renewals failed for renew_deadline."""
        cfg = self.config
        while True:
            await self.clock.sleep(cfg.retry_period)
            deadline = self.clock.monotonic() + cfg.renew_deadline
            while not await self._attempt():
                if self.clock.monotonic() + cfg.retry_period > deadline:
                    self.is_leader = False
                    raise LeaderElectionLost(
                        f"leader election lost: lease {cfg.namespace}/{cfg.name} not renewed within "
                        f"{cfg.renew_deadline:g}s by {cfg.identity}"
                    )
                await self.clock.sleep(cfg.retry_period)

    async def release(self) -> bool:
        """Give the lease up (empty holder, 1 s duration) if we hold it; True if released."""
        if not self.is_leader:
            return False
        self.is_leader = False
        cfg = self.config
        try:
            lease = await self.client.get(LEASE, cfg.name, cfg.namespace)
            spec = dict(lease.get("spec") or {})
            if spec.get("holderIdentity") != cfg.identity:
                return False
            now = _micro_time(self.clock)
            spec.update(holderIdentity=None, leaseDurationSeconds=1, acquireTime=now, renewTime=now)
            await self.client.update({**lease, "spec": {k: v for k, v in spec.items() if v is not None}})
        except CtrlError as exc:
            log.warning("lease %s/%s: release failed: %s", cfg.namespace, cfg.name, exc)
            return False
        log.info("released lease %s/%s", cfg.namespace, cfg.name)
        return True
