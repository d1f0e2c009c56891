"""kaito.provisioners."""

__all__: list[str] = []
