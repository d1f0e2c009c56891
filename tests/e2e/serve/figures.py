"""Figures the kaito.serve end-to-end tests measure (install time, time to Ready, first token)."""

from __future__ import annotations

__all__ = ["FIGURES"]

FIGURES: dict[str, str] = {}
