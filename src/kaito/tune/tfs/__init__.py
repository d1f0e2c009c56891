"""Stand-ins for /workspace/tfs of KAITO's base image (see kaito.tune.base_image), run as scripts."""

__all__: list[str] = []  # scripts, not an API: KAITO's shell line runs them by path
