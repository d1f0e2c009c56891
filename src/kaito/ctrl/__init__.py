"""kaito.ctrl."""

__all__: list[str] = []
