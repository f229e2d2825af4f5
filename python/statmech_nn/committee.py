"""committee: filled in by its capability issue."""

from __future__ import annotations

__all__: list = []
