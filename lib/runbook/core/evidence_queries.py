"""Evidence sources: pick check results by id (exact or glob) and read numbers out of them.

A `SourceRef` names a result id (or an fnmatch pattern such as 'perf.p95.*') and a dotted path
into that result's payload ('observed', 'observed.error_rate', 'evidence.routes.(all).p50_ms').
Only results that measured something give numbers: a result whose status is error, skip,
inconclusive or pending sign-off is never read (its numbers, if any, cannot be trusted).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbook.core.checks import CheckResult, Status
from runbook.core.evidence import previous_manifests
from runbook.core.json_path import MISSING, lookup

MEASURED = {Status.PASS, Status.FAIL, Status.WARN}


class SourceRef(BaseModel):
    """Where a number comes from: result id (or glob) and a dotted path into its payload."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="result id, or an fnmatch pattern ('perf.p95.*')")
    path: str = Field(
        default="observed",
        description="dotted path into the result: 'observed', 'observed.overall', "
        "'evidence.routes.(all).p95_ms'",
    )

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        """A plain string is a result id whose `observed` is the number."""
        return {"id": value} if isinstance(value, str) else value

    def matches(self, result_id: str) -> bool:
        return fnmatchcase(result_id, self.id)


class SourceValue(BaseModel):
    """One number read from one result (or why none could be read)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    path: str
    status: str
    phase: str | None = None
    origin: str = "this run"
    value: float | None = None
    problem: str | None = None


def matching(results: Iterable[CheckResult], patterns: Iterable[str]) -> list[CheckResult]:
    """Results whose id matches any of the patterns (exact ids or globs), in input order."""
    patterns = list(patterns)
    return [r for r in results if any(fnmatchcase(r.id, p) for p in patterns)]


def as_number(value: Any) -> float | None:
    """A finite float from a JSON value (true counts as 1, false as 0); None otherwise."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return float(value)
    return None


def origin_of(result: CheckResult) -> str:
    """'this run', or the earlier run a result was taken from (set by `from_manifest`)."""
    return str(result.evidence.get("_origin", "this run")) if result.evidence else "this run"


def read_values(results: Iterable[CheckResult], sources: Iterable[SourceRef]) -> list[SourceValue]:
    """Every number the sources point at (one entry per matching result, with problems)."""
    results = list(results)
    found: list[SourceValue] = []
    for source in sources:
        for result in results:
            if not source.matches(result.id):
                continue
            entry = SourceValue(id=result.id, path=source.path, status=result.status.value,
                                phase=result.phase, origin=origin_of(result))  # fmt: skip
            if result.status not in MEASURED:
                entry.problem = f"status {result.status.value}: nothing measured"
            else:
                raw = lookup(result.model_dump(mode="json"), source.path)
                number = None if raw is MISSING else as_number(raw)
                if number is None:
                    entry.problem = (
                        f"no number at '{source.path}'"
                        if raw is MISSING
                        else f"'{source.path}' is {str(raw)[:80]!r}, not a number"
                    )
                entry.value = number
            found.append(entry)
    return found


def usable(values: Iterable[SourceValue]) -> list[SourceValue]:
    """The entries that carry a number."""
    return [v for v in values if v.value is not None]


def merge(own: Iterable[CheckResult], extra: Iterable[CheckResult] | None) -> list[CheckResult]:
    """This run's results plus `extra` ones whose id this run does not already have."""
    own = list(own)
    ids = {r.id for r in own}
    return own + [r for r in extra or [] if r.id not in ids]


def from_manifest(manifest: dict[str, Any], patterns: Iterable[str]) -> list[CheckResult]:
    """The results of an earlier run's manifest matching patterns, marked with their origin."""
    patterns = list(patterns)
    out = []
    for payload in manifest.get("results", []):
        try:
            result = CheckResult.from_payload(dict(payload))
        except ValueError:
            continue
        if any(fnmatchcase(result.id, p) for p in patterns):
            origin = f"run {manifest.get('run_id')} ({manifest.get('finished_at')})"
            out.append(
                result.model_copy(update={"evidence": {**result.evidence, "_origin": origin}})
            )
    return out


def manifest_age_hours(manifest: dict[str, Any], now: datetime | None = None) -> float | None:
    """Hours since an earlier run finished (None when its manifest says no time)."""
    text = manifest.get("finished_at") or manifest.get("started_at")
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return ((now or datetime.now(UTC)) - when).total_seconds() / 3600


def earlier_runs(run_dir: Path | str | None, phase: str) -> list[dict[str, Any]]:
    """Finished manifests of this run's environment that ran `phase`, newest first, this run
    excluded (run_dir is outputs/<env>/<run-id>; None, an interactive session: none)."""
    if run_dir is None:
        return []
    run = Path(run_dir)
    return previous_manifests(run.parent, phase=phase, exclude_run=run.name)
