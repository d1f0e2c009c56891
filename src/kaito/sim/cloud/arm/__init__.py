"""kaito.sim.cloud.arm."""

__all__: list[str] = []
