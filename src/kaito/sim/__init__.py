"""kaito.sim."""

__all__: list[str] = []
