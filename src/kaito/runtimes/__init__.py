"""kaito.runtimes."""

__all__: list[str] = []
