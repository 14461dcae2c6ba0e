"""Dotted paths into JSON ('error.status_code', 'items.0.id'): the one lookup the checks use."""

from __future__ import annotations

from typing import Any, Final


class _Missing:
    """The value of a path that leads nowhere (distinct from a JSON null)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def lookup(data: Any, dotted: str) -> Any:
    """Follow `dotted` through objects (by key) and arrays (by index); MISSING when it leads
    nowhere. The empty path is the data itself."""
    current = data
    for part in dotted.split(".") if dotted else []:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current
