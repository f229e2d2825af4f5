"""fisher: filled in by its capability."""

from __future__ import annotations

__all__: list = []
