"""The limits of the catalogue against the parameter models: each parameter that carries a limit
must default to the catalogue's value (× its scale), so two places can no longer drift apart."""

from __future__ import annotations

import math
import re
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from runbook.core.checklist.catalogue import Catalogue, load_catalogue

_SPLIT = re.compile(r"[^.\[]+(?:\[[^\]]*\])?")
_PART = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(\[(?P<item>[^\]]+)\])?$")


class ParameterPathError(LookupError):
    """A limit's parameter path names no field of the models (the message says which part)."""


def parameter_default(model: type[BaseModel], path: str) -> Any:
    """The default value at dotted `path` of `model` (sections that default to None are walked
    through their type; `name[x]` picks the item whose id is x of a list's default)."""
    node: Any = model
    parts = _SPLIT.findall(path)
    if ".".join(parts) != path:
        raise ParameterPathError(f"{path}: not a dotted path like a.b[id].c")
    for i, part in enumerate(parts):
        match = _PART.match(part)
        if match is None:
            raise ParameterPathError(f"{path}: {part!r} is not a field name")
        name, item = match.group("name"), match.group("item")
        value, annotation = _field(node, name, path)
        if item is not None:
            found = [x for x in value or [] if getattr(x, "id", None) == item]
            if not found:
                raise ParameterPathError(f"{path}: no item with id {item!r} in {name}'s default")
            value = found[0]
        if i == len(parts) - 1:
            return value
        node = value if isinstance(value, BaseModel) else _model_of(annotation, path)
    return node


def _field(node: Any, name: str, path: str) -> tuple[Any, Any]:
    if isinstance(node, BaseModel):
        if name not in type(node).model_fields:
            raise ParameterPathError(f"{path}: {type(node).__name__} has no field {name!r}")
        return getattr(node, name), type(node).model_fields[name].annotation
    fields = node.model_fields
    if name not in fields:
        raise ParameterPathError(f"{path}: {node.__name__} has no field {name!r}")
    info = fields[name]
    value = info.get_default(call_default_factory=True)
    return (None if value is PydanticUndefined else value), info.annotation


def _model_of(annotation: Any, path: str) -> type[BaseModel]:
    """The model class behind Optional[...] (the section's type when it defaults to None)."""
    for _ in range(3):
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        break
    raise ParameterPathError(f"{path}: {annotation!r} is not a section of parameters")


def limit_drift(model: type[BaseModel], catalogue: Catalogue | None = None) -> list[str]:
    """Sentences naming every parameter whose default differs from its catalogue limit (or
    whose path names nothing); empty when all agree."""
    catalogue = catalogue or load_catalogue()
    problems = []
    for name, limit in catalogue.limits.items():
        for use in limit.parameters:
            try:
                default = parameter_default(model, use.path)
            except ParameterPathError as exc:
                problems.append(f"limit {name}: {exc}")
                continue
            wanted = limit.value * use.scale
            if not isinstance(default, int | float) or not math.isclose(
                float(default), wanted, rel_tol=1e-9, abs_tol=1e-12
            ):
                problems.append(
                    f"limit {name}: {use.path} defaults to {default!r}, the "
                    f"catalogue says {wanted:g} ({limit.value:g} {limit.unit})"
                )
    return problems


class CatalogueLimit:
    """A parameter default read from the catalogue: `Field(default_factory=CatalogueLimit(name))`
    gives the limit's value × `scale`, so the number is written only in the catalogue."""

    __slots__ = ("name", "scale")

    def __init__(self, name: str, scale: float = 1.0) -> None:
        self.name, self.scale = name, scale

    def __call__(self) -> float:
        value = limit_value(self.name) * self.scale
        return float(round(value, 12))

    def __repr__(self) -> str:
        return f"CatalogueLimit({self.name!r}, scale={self.scale:g})"


def limit_value(name: str, catalogue: Catalogue | None = None) -> float:
    """The value of one catalogue limit (KeyError naming it)."""
    limits = (catalogue or load_catalogue()).limits
    if name not in limits:
        raise KeyError(f"no limit {name!r} in the checklist catalogue; known: " + ", ".join(limits))
    return limits[name].value
