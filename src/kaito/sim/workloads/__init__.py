"""kaito.sim.workloads."""

__all__: list[str] = []
