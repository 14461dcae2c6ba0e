"""Secret references: parameters carry the *name* of a secret, the kernel resolves its value.

A value is never printed, logged, stored or hashed; errors name only the reference. Every value
resolved is registered for masking (`core.masking`): whatever a check records or displays shows
`***$NAME***` instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runbook.core import masking

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class SecretRef(BaseModel):
    """Where a secret lives: the environment variable that holds it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str = Field(pattern=ENV_NAME_PATTERN, description="environment variable holding the value")

    def describe(self) -> str:
        return f"${self.env}"


class SecretUnavailable(LookupError):
    """A secret reference that cannot be resolved (the message names the reference, not a value)."""


def resolve(ref: SecretRef) -> str:
    """Return the secret's value (registered for masking), or raise SecretUnavailable naming
    the reference."""
    value = os.environ.get(ref.env)
    if value is None or value == "":
        raise SecretUnavailable(
            f"secret reference {ref.describe()} is not set in the environment of this run"
        )
    masking.register(value, ref.describe())
    return value


def iter_refs(obj: Any) -> Iterator[tuple[str, SecretRef]]:
    """Yield (dotted path, SecretRef) for every secret reference inside a parameters model."""
    yield from _walk(obj, "")


def _walk(obj: Any, path: str) -> Iterator[tuple[str, SecretRef]]:
    if isinstance(obj, SecretRef):
        yield path, obj
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield from _walk(getattr(obj, name), f"{path}.{name}" if path else name)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _walk(value, f"{path}.{i}")


def missing(obj: Any) -> list[str]:
    """Every unresolvable secret reference in `obj`, as 'path ($NAME)' strings."""
    out = []
    for path, ref in iter_refs(obj):
        try:
            resolve(ref)
        except SecretUnavailable:
            out.append(f"{path} ({ref.describe()})")
    return out


def resolved_values(obj: Any) -> list[str]:
    """Values of every resolvable secret in `obj` (for the evidence scanner only)."""
    values = []
    for _, ref in iter_refs(obj):
        try:
            values.append(resolve(ref))
        except SecretUnavailable:
            continue
    return values
