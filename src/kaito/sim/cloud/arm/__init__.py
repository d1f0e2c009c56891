"""kaito.sim.cloud.arm: the AKS ARM endpoint (managedClusters/agentPools over HTTPS) whose pools make Nodes.

:class:`~.server.ArmServer` is the HTTP shell; :class:`~.pools.AgentPoolService` the synchronous pool logic
(:mod:`.models` the wire shapes, :mod:`.nodes` the Nodes a pool makes, :mod:`.errors` ARM's error bodies,
:mod:`.faults` the knobs a test turns, :mod:`.clock` injectable time, :mod:`.snapshot` the ``arm`` section of
a cluster snapshot).
"""

from __future__ import annotations

from kaito.sim.cloud.arm.clock import Clock, LoopClock, ManualClock
from kaito.sim.cloud.arm.errors import ArmError
from kaito.sim.cloud.arm.faults import ArmFaults, QuotaLimit
from kaito.sim.cloud.arm.models import ClusterIds
from kaito.sim.cloud.arm.pools import AgentPoolService
from kaito.sim.cloud.arm.server import DEFAULT_SUBSCRIPTION_ID, ArmServer

__all__ = [
    "DEFAULT_SUBSCRIPTION_ID",
    "AgentPoolService",
    "ArmError",
    "ArmFaults",
    "ArmServer",
    "Clock",
    "ClusterIds",
    "LoopClock",
    "ManualClock",
    "QuotaLimit",
]
