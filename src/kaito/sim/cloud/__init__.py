"""kaito.sim.cloud."""

__all__: list[str] = []
