"""The checklist catalogue (catalogue.yaml beside this file): every box of the checklist with
what proves it (checks, sign-offs, or why nothing does yet, or where it does not apply) and
every limit the checklist states, defined once."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from runbook.core.checklist.parse import BoxKind, ParsedBox

CATALOGUE_FILE = Path(__file__).with_name("catalogue.yaml")
ID_PATTERN = r"^[a-z0-9][a-z0-9.-]*/[a-z0-9][a-z0-9-]*$"


class CatalogueError(ValueError):
    """The catalogue file cannot be read or is inconsistent (the message says where)."""


class Mapping(BaseModel):
    """What proves a box in one environment: checks, sign-offs, or why nothing does yet."""

    model_config = ConfigDict(extra="forbid")

    checks: list[str] = Field(default_factory=list, description="result ids or globs")
    signoff: list[str] = Field(default_factory=list, description="sign-off result ids")
    unproved: str | None = Field(None, description="why no check proves it (checks: partial)")
    note: str = ""

    @model_validator(mode="after")
    def _says_something(self) -> Mapping:
        if not (self.checks or self.signoff or self.unproved):
            raise ValueError("a box needs 'checks', 'signoff' or 'unproved: <reason>'")
        if self.unproved is not None and not self.unproved.strip():
            raise ValueError("'unproved' needs a reason")
        if self.unproved and self.signoff:
            raise ValueError("a signed box is not unproved: drop 'unproved' or 'signoff'")
        return self

    @property
    def references(self) -> list[str]:
        """Every check pattern and sign-off id this mapping names."""
        return [*self.checks, *self.signoff]


class NotApplicable(BaseModel):
    """The environments where a box is not this run's to prove, and why."""

    model_config = ConfigDict(extra="forbid")

    environments: list[str] = Field(min_length=1)
    reason: str = Field(min_length=1)


class OnlyWhen(BaseModel):
    """The box applies only when result `id` has one of `status` (else: not applicable)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    status: list[str] = Field(min_length=1)
    reason: str = Field(min_length=1)


class CatalogueBox(Mapping):
    """One box: stable id, section path, text as written, kind, and its default mapping."""

    id: str = Field(pattern=ID_PATTERN)
    section: str = Field(min_length=1)
    text: str = Field(min_length=1)
    kind: BoxKind = "task"
    not_applicable: NotApplicable | None = None
    only_when: OnlyWhen | None = None
    environments: dict[str, Mapping] = Field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.section, self.text)

    def mapping_for(self, environment: str) -> Mapping | NotApplicable:
        """The mapping that holds in `environment` (its own, else the default), or why the
        box is not applicable there."""
        if self.not_applicable and environment in self.not_applicable.environments:
            return self.not_applicable
        if environment in self.environments:
            return self.environments[environment]
        return Mapping(
            checks=self.checks, signoff=self.signoff, unproved=self.unproved, note=self.note
        )

    def all_references(self) -> list[str]:
        """Check patterns and sign-off ids of every environment's mapping."""
        refs = list(self.references)
        for mapping in self.environments.values():
            refs += mapping.references
        return list(dict.fromkeys(refs))

    def all_signoffs(self) -> list[str]:
        refs = list(self.signoff)
        for mapping in self.environments.values():
            refs += mapping.signoff
        return list(dict.fromkeys(refs))

    def all_checks(self) -> list[str]:
        refs = list(self.checks)
        for mapping in self.environments.values():
            refs += mapping.checks
        return list(dict.fromkeys(refs))


class LimitUse(BaseModel):
    """A parameter that carries a limit: its default must equal the limit's value × scale."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="dotted; list items as name[id]")
    scale: float = Field(1.0, gt=0, description="the parameter's unit per the limit's unit")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data


class Limit(BaseModel):
    """One limit the checklist states: its value, unit, wording, boxes and parameters."""

    model_config = ConfigDict(extra="forbid")

    value: float
    unit: str
    checklist: str | None = Field(description="the wording; None: the runbook's own line")
    boxes: list[str] = Field(default_factory=list)
    parameters: list[LimitUse] = Field(default_factory=list)


class Catalogue(BaseModel):
    """The whole catalogue: its checklist, boxes (in checklist order) and limits."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    checklist: str = "DEPLOYMENT_CHECKLIST.md"
    limits: dict[str, Limit] = Field(default_factory=dict)
    boxes: list[CatalogueBox] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        problems = _duplicates("box id", [b.id for b in self.boxes])
        problems += _duplicates("box (section, text)", [" | ".join(b.key) for b in self.boxes])
        ids = {b.id for b in self.boxes}
        problems += [
            f"limit {name}: no box {box!r}"
            for name, limit in self.limits.items()
            for box in limit.boxes
            if box not in ids
        ]
        paths = [u.path for limit in self.limits.values() for u in limit.parameters]
        problems += _duplicates("limit parameter (two limits in one place)", paths)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def box(self, box_id: str) -> CatalogueBox:
        """The box with this id (KeyError naming it)."""
        for box in self.boxes:
            if box.id == box_id:
                return box
        raise KeyError(f"no checklist box {box_id!r} in the catalogue")

    def by_key(self) -> dict[tuple[str, str], CatalogueBox]:
        return {b.key: b for b in self.boxes}

    def without(self, box_id: str) -> Catalogue:
        """A copy without one box (what a deleted mapping looks like)."""
        return self.model_copy(update={"boxes": [b for b in self.boxes if b.id != box_id]})


def _duplicates(what: str, values: list[str]) -> list[str]:
    seen: set[str] = set()
    doubled = [v for v in values if v in seen or seen.add(v)]  # type: ignore[func-returns-value]
    return [f"{what} {v!r} appears more than once" for v in dict.fromkeys(doubled)]


def parse_catalogue(text: str, source: str = "catalogue") -> Catalogue:
    """A catalogue from YAML text; CatalogueError names `source` and every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{source}: malformed YAML: {exc}") from None
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise CatalogueError(f"{source}: {problems}") from None


@lru_cache(maxsize=4)
def load_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    """The catalogue at `path` (the packaged one by default), parsed once per process."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_catalogue(text, str(path))


def catalogue_sha256(path: Path = CATALOGUE_FILE) -> str:
    """sha256 of the catalogue file (recorded beside the view in the manifest)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Coverage(BaseModel):
    """A checklist against a catalogue: boxes the catalogue lacks, and the reverse."""

    missing: list[ParsedBox] = Field(default_factory=list, description="in the checklist only")
    absent: list[CatalogueBox] = Field(default_factory=list, description="in the catalogue only")

    @property
    def complete(self) -> bool:
        return not self.missing and not self.absent


def compare_with_checklist(catalogue: Catalogue, boxes: list[ParsedBox]) -> Coverage:
    """Which boxes of a parsed checklist the catalogue does not know (by section and text), and
    which catalogue boxes the checklist does not have."""
    known = catalogue.by_key()
    written = {b.key for b in boxes}
    return Coverage(
        missing=[b for b in boxes if b.key not in known],
        absent=[b for b in catalogue.boxes if b.key not in written],
    )
