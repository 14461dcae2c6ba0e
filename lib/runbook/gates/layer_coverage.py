"""Statement coverage per layer (path prefix), from `coverage json` reports.

Checklist "Pre-Deployment §2 Test Coverage Verification": utility ≥ 85 %, backend endpoints
≥ 90 %, services ≥ 85 %, repositories ≥ 80 %. A layer is covered statements / statements over
the files under its prefix. Paths in a report are relative to the directory the tests ran in;
when the report comes from a gate, they are rebased onto the repository with that gate's `cwd`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from matplotlib.figure import Figure

from runbook.checks import STATUS_COLOURS, CheckResult, Status
from runbook.gates.params import CoverageLayer, PreDeploymentParams

# file -> (statement lines, executed lines)
LineSets = dict[str, tuple[set[int], set[int]]]


class CoverageReportError(ValueError):
    """A coverage JSON report is missing or malformed."""


def load_coverage(path: Path, *, repo: Path | None = None, cwd: str = ".") -> LineSets:
    """Statement and executed lines per file of a `coverage json` report, repo-relative."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError("'files' is not an object")
        lines: LineSets = {}
        for name, entry in files.items():
            executed = {int(n) for n in entry["executed_lines"]}
            missing = {int(n) for n in entry["missing_lines"]}
            lines[_repo_relative(name, repo, cwd)] = (executed | missing, executed)
    except FileNotFoundError:
        raise CoverageReportError(f"coverage report {path} does not exist") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CoverageReportError(f"coverage report {path} is unusable: {exc!r}") from None
    return lines


def _repo_relative(name: str, repo: Path | None, cwd: str) -> str:
    path = Path(name)
    if path.is_absolute():
        if repo is not None and path.is_relative_to(repo.absolute()):
            return path.relative_to(repo.absolute()).as_posix()
        return path.as_posix()
    return (PurePosixPath(cwd) / PurePosixPath(path.as_posix())).as_posix().removeprefix("./")


def merge_coverage(reports: Sequence[LineSets]) -> LineSets:
    """Union of several reports: a line is covered when any report executed it."""
    merged: LineSets = {}
    for report in reports:
        for name, (statements, executed) in report.items():
            old_statements, old_executed = merged.get(name, (set(), set()))
            merged[name] = (old_statements | statements, old_executed | executed)
    return merged


def measure_layer(lines: LineSets, layer: CoverageLayer) -> dict[str, Any]:
    """Covered and total statements of the files under the layer's prefix."""
    files: dict[str, dict[str, Any]] = {}
    for name in sorted(lines):
        if not name.startswith(layer.prefix) or any(
            name.startswith(prefix) for prefix in layer.exclude_prefixes
        ):
            continue
        statements, executed = lines[name]
        covered = len(executed & statements)
        files[name] = {
            "statements": len(statements),
            "covered": covered,
            "percent": _percent(covered, len(statements)),
        }
    total = sum(f["statements"] for f in files.values())
    covered = sum(f["covered"] for f in files.values())
    return {
        "files": len(files),
        "statements": total,
        "covered": covered,
        "percent": _percent(covered, total),
        "per_file": files,
    }


def _percent(covered: int, total: int) -> float | None:
    return round(100.0 * covered / total, 2) if total else None


def coverage_reports(results: Sequence[CheckResult], evidence_dir: Path) -> dict[str, Path]:
    """Gate id -> coverage JSON path, for the gate results that wrote one."""
    return {
        r.id: evidence_dir / r.evidence["coverage_json"]
        for r in results
        if isinstance(r.evidence.get("coverage_json"), str)
    }


def coverage_checks(
    params: PreDeploymentParams, coverage_json: Path | Mapping[str, Path]
) -> list[CheckResult]:
    """One check per coverage layer, from one report or from {gate id: report} (see
    `coverage_reports`); a layer reads the report of its `report` gate, else all of them."""
    cwd_of = {g.id: g.cwd for g in params.gates}
    if isinstance(coverage_json, Mapping):
        sources = dict(coverage_json)
    else:
        sources = {"": Path(coverage_json)}
    loaded: dict[str, LineSets | CoverageReportError] = {}
    for key, path in sources.items():
        try:
            loaded[key] = load_coverage(path, repo=params.repo, cwd=cwd_of.get(key, "."))
        except CoverageReportError as exc:
            loaded[key] = exc
    return [_layer_check(layer, loaded, sources) for layer in params.coverage_layers]


def _layer_check(
    layer: CoverageLayer,
    loaded: Mapping[str, LineSets | CoverageReportError],
    sources: Mapping[str, Path],
) -> CheckResult:
    if "" in loaded:  # a single report given: every layer reads it
        keys = [""]
    elif layer.report is None:
        keys = list(loaded)
    else:
        keys = [layer.report] if layer.report in loaded else []
    base: dict[str, Any] = {
        "id": layer.id,
        "section": layer.section,
        "title": layer.title,
        "severity": layer.severity,
        "threshold": f"≥ {layer.threshold_percent:g}%",
    }
    evidence: dict[str, Any] = {
        "prefix": layer.prefix,
        "exclude_prefixes": layer.exclude_prefixes,
        "threshold_percent": layer.threshold_percent,
        "reports": [str(sources[k]) for k in keys],
    }
    if not keys:
        source = f"from gate {layer.report!r} " if layer.report else ""
        return CheckResult(
            **base,
            status=Status.ERROR,
            explanation=f"no coverage report {source}was given (did its test gate run?)",
            evidence=evidence,
        )
    problems = [str(v) for k in keys if isinstance(v := loaded[k], CoverageReportError)]
    if problems:
        return CheckResult(
            **base, status=Status.ERROR, explanation="; ".join(problems), evidence=evidence
        )
    lines = merge_coverage([v for k in keys if not isinstance(v := loaded[k], Exception)])
    measure = measure_layer(lines, layer)
    evidence.update(measure)
    observed = {k: measure[k] for k in ("percent", "covered", "statements", "files")}
    if measure["percent"] is None:
        return CheckResult(
            **base,
            status=Status.INCONCLUSIVE,
            observed=observed,
            explanation=f"no statements measured under {layer.prefix!r}: nothing was proven",
            evidence=evidence,
        )
    ok = measure["percent"] >= layer.threshold_percent
    return CheckResult(
        **base,
        status=Status.PASS if ok else Status.FAIL,
        observed=observed,
        explanation=(
            f"{measure['percent']:.1f}% of {measure['statements']} statements in "
            f"{measure['files']} files under {layer.prefix} "
            + ("meets" if ok else "is below")
            + f" {layer.threshold_percent:g}%"
        ),
        evidence=evidence,
    )


def coverage_chart(results: Sequence[CheckResult]) -> Figure:
    """A bar per coverage layer (its percent, coloured by status) with its gate marked."""
    layers = [r for r in results if "threshold_percent" in r.evidence]
    fig = Figure(figsize=(max(4.0, 1.6 * len(layers) + 1.5), 3.6), layout="constrained")
    ax = fig.add_subplot()
    for i, result in enumerate(layers):
        percent = result.evidence.get("percent")
        gate = float(result.evidence["threshold_percent"])
        colour = STATUS_COLOURS.get(result.status, "#555")
        ax.bar(i, percent or 0.0, width=0.6, color=colour)
        ax.hlines(gate, i - 0.4, i + 0.4, colors="black", linestyles="dashed", linewidth=1.5)
        if percent is None:
            ax.text(i, 2, f"no data ({result.status.value})", ha="center", fontsize=9)
        else:  # inside the bar, so it never sits on the gate line
            inside = percent >= 12
            ax.text(i, percent - 7 if inside else percent + 2, f"{percent:.1f}%", ha="center",
                    fontsize=9, color="white" if inside else "black")  # fmt: skip
    ax.set_xticks(range(len(layers)), [r.id.removeprefix("coverage.") for r in layers])
    ax.set_ylim(0, 108)
    ax.set_ylabel("statement coverage (%)")
    ax.set_title("Coverage per layer (dashed: gate)")
    return fig
