"""kaito.controllers."""

__all__: list[str] = []
