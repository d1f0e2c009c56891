"""kaito.sim.server."""

__all__: list[str] = []
