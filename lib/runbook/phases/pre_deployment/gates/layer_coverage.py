"""Coverage per layer (path prefix), from the `coverage json` report of the test run itself.

Checklist "Pre-Deployment §2 Test Coverage Verification": utility ≥ 85 %, backend endpoints
≥ 90 %, services ≥ 85 %, repositories ≥ 80 %. The coverage run *is* the test run: each pytest
gate with `coverage_report` has its coverage tool write a JSON report (and its own TOTAL line)
of that run — pytest-cov's options, or coverage.py's `coverage run -m pytest` then `coverage
json` and `coverage report` (`coverage_tool: coverage`, see `coverage_commands`) — and nothing
runs the suite again. A figure is coverage.py's own: (covered lines + covered branches) /
(statements + branches), so a run's total here equals the TOTAL line the tool printed — each
run gets a `coverage.total.<gate>` row that says which tool measured, which files and sources
were counted, and checks that agreement; the layers sit beside it. Paths in a report are
relative to the folder the tests ran in and are rebased onto the repository with that gate's
`cwd`. A report that cannot be trusted (its tests stopped at collection, pytest-cov or coverage
is missing, `coverage json` wrote nothing, the gate timed out) makes its rows ERROR naming why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, Field

from runbook.core.checks import STATUS_COLOURS, CheckResult, Severity, Status
from runbook.phases.pre_deployment.gates.coverage_commands import (
    cov_sources as cov_sources,  # re-export
)
from runbook.phases.pre_deployment.gates.params import (
    TEST_COVERAGE,
    CoverageLayer,
    PreDeploymentParams,
)

TOTAL_TOLERANCE = 0.05
TOTAL_SOURCE = {"pytest-cov": "pytest-cov's", "coverage": "`coverage report`'s"}


@dataclass
class FileCoverage:
    """One file's statements and branches (as (from, to) arcs), and which of them ran."""

    statements: set[int] = field(default_factory=set)
    executed: set[int] = field(default_factory=set)
    branches: set[tuple[int, int]] = field(default_factory=set)
    executed_branches: set[tuple[int, int]] = field(default_factory=set)

    def __iter__(self) -> Any:  # (statements, executed), as the line sets always were
        return iter((self.statements, self.executed))


LineSets = dict[str, FileCoverage]


class CoverageReportError(ValueError):
    """A coverage JSON report is missing or malformed."""


class CoverageRun(BaseModel):
    """The coverage of one test gate's run: its report, and why it cannot be used if not."""

    model_config = ConfigDict(extra="forbid")

    gate: str
    report: Path | None = None
    cwd: str = "."
    sources: list[str] = Field(default_factory=list, description="the --cov sources")
    tool: str = Field(default="pytest-cov", description="what measured: pytest-cov or coverage")
    total_line: str | None = Field(
        default=None,
        description="the TOTAL line of the tool that measured (pytest-cov's, or "
        "`coverage report`'s)",
    )
    total_line_percent: float | None = None
    problem: str | None = Field(default=None, description="why the report cannot be trusted")


def _arcs(entry: dict[str, Any], key: str) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in entry.get(key) or []}


def load_coverage(path: Path, *, repo: Path | None = None, cwd: str = ".") -> LineSets:
    """Statements, branches and what ran of each file of a `coverage json` report,
    repo-relative."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError("'files' is not an object")
        lines: LineSets = {}
        for name, entry in files.items():
            executed = {int(n) for n in entry["executed_lines"]}
            missing = {int(n) for n in entry["missing_lines"]}
            ran = _arcs(entry, "executed_branches")
            lines[_repo_relative(name, repo, cwd)] = FileCoverage(
                executed | missing, executed, ran | _arcs(entry, "missing_branches"), ran
            )
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
    """Union of several reports: a line or branch is covered when any report ran it."""
    merged: LineSets = {}
    for report in reports:
        for name, file in report.items():
            into = merged.setdefault(name, FileCoverage())
            into.statements |= file.statements
            into.executed |= file.executed
            into.branches |= file.branches
            into.executed_branches |= file.executed_branches
    return merged


def _counts(file: FileCoverage) -> tuple[int, int]:
    """(covered, total) as coverage.py counts them: lines plus branches."""
    covered = len(file.executed & file.statements) + len(file.executed_branches & file.branches)
    return covered, len(file.statements) + len(file.branches)


def measure(lines: LineSets, prefix: str = "", exclude: Sequence[str] = ()) -> dict[str, Any]:
    """Covered and total (statements + branches) of the files under `prefix`."""
    files: dict[str, dict[str, Any]] = {}
    for name in sorted(lines):
        if not name.startswith(prefix) or any(name.startswith(e) for e in exclude):
            continue
        file = lines[name]
        covered, total = _counts(file)
        files[name] = {"statements": len(file.statements), "branches": len(file.branches),
                       "covered": covered, "percent": _percent(covered, total)}  # fmt: skip
    covered = sum(f["covered"] for f in files.values())
    statements = sum(f["statements"] for f in files.values())
    branches = sum(f["branches"] for f in files.values())
    return {
        "files": len(files),
        "statements": statements,
        "branches": branches,
        "covered": covered,
        "percent": _percent(covered, statements + branches),
        "per_file": files,
    }


def measure_layer(lines: LineSets, layer: CoverageLayer) -> dict[str, Any]:
    """Covered and total of the files under the layer's prefix."""
    return measure(lines, layer.prefix, layer.exclude_prefixes)


def _percent(covered: int, total: int) -> float | None:
    return round(100.0 * covered / total, 2) if total else None


def displayed(percent: float, precision: int) -> float:
    """`percent` as coverage.py displays it with `precision` decimals (never 100 or 0 unless
    exact)."""
    step = 10.0**-precision
    if 0 < percent < step:
        return step
    if 100 - step < percent < 100:
        return round(100 - step, precision)
    return round(percent, precision)


def _problem(result: CheckResult) -> str | None:
    evidence = result.evidence
    if evidence.get("collection_errors") is not None or (
        isinstance(result.observed, dict) and result.observed.get("collection_errors")
    ):
        modules = evidence.get("collection_errors") or []
        count = (result.observed or {}).get("collection_errors", len(modules))
        where = f" in {', '.join(modules[:5])}" if modules else ""
        return (f"tests stopped at collection: {count} error{'s' if count != 1 else ''}{where}; "
                f"no test ran, so {result.id} measured no coverage")  # fmt: skip
    if evidence.get("missing_plugin") or evidence.get("missing_tool"):
        return result.explanation
    if isinstance(evidence.get("coverage_problem"), str):
        return f"{result.id} measured no usable coverage: {evidence['coverage_problem']}"
    if not isinstance(evidence.get("coverage_json"), str):
        return f"{result.id} wrote no coverage report ({result.status.value}: {result.explanation})"
    if result.status is Status.ERROR:
        return f"{result.id} did not finish cleanly ({result.explanation})"
    return None


def coverage_reports(results: Sequence[CheckResult], evidence_dir: Path) -> dict[str, CoverageRun]:
    """Gate id -> the coverage of its run, for every test gate that was to measure coverage
    (with the reason when its report cannot be used)."""
    runs: dict[str, CoverageRun] = {}
    for r in results:
        if not (r.evidence.get("coverage_report") or isinstance(r.evidence.get("coverage_json"),
                                                                 str)):  # fmt: skip
            continue
        name = r.evidence.get("coverage_json")
        runs[r.id] = CoverageRun(
            gate=r.id,
            report=evidence_dir / name if isinstance(name, str) else None,
            cwd=r.evidence.get("cwd", "."),
            sources=r.evidence.get("cov_sources") or cov_sources(r.evidence.get("argv") or []),
            tool=r.evidence.get("coverage_tool") or "pytest-cov",
            total_line=r.evidence.get("cov_total_line"),
            total_line_percent=r.evidence.get("cov_total_percent"),
            problem=_problem(r),
        )
    return runs


def coverage_checks(
    params: PreDeploymentParams, coverage_json: Path | Mapping[str, Path | CoverageRun]
) -> list[CheckResult]:
    """One `coverage.total.<gate>` row per run (given as `CoverageRun`s, see
    `coverage_reports`), then one check per coverage layer; a layer reads the report of its
    `report` gate, else all of them. A single path is read by every layer."""
    cwd_of = {g.id: g.cwd for g in params.gates}
    if isinstance(coverage_json, Mapping):
        sources = {k: v if isinstance(v, CoverageRun) else CoverageRun(gate=k, report=Path(v),
                   cwd=cwd_of.get(k, ".")) for k, v in coverage_json.items()}  # fmt: skip
    else:
        sources = {"": CoverageRun(gate="", report=Path(coverage_json))}
    loaded: dict[str, LineSets | CoverageReportError] = {}
    for key, run in sources.items():
        if run.problem is not None or run.report is None:
            loaded[key] = CoverageReportError(run.problem or f"{key} wrote no coverage report")
            continue
        try:
            loaded[key] = load_coverage(run.report, repo=params.repo, cwd=run.cwd)
        except CoverageReportError as exc:
            loaded[key] = exc
    totals = [_total_check(run, loaded[key], params) for key, run in sources.items()
              if isinstance(coverage_json, Mapping) and isinstance(coverage_json[key],
                                                                   CoverageRun)]  # fmt: skip
    return totals + [_layer_check(layer, loaded, sources) for layer in params.coverage_layers]


def total_check_id(gate_id: str) -> str:
    """'code.tests.backend' -> 'coverage.total.backend'."""
    return f"coverage.total.{gate_id.removeprefix('code.tests.')}"


def _total_check(
    run: CoverageRun, lines: LineSets | CoverageReportError, params: PreDeploymentParams
) -> CheckResult:
    said = TOTAL_SOURCE.get(run.tool, f"{run.tool}'s")
    evidence: dict[str, Any] = {"gate": run.gate, "report": str(run.report), "cwd": run.cwd,
                                "cov_sources": run.sources, "measured_by": run.tool,
                                "total_line": run.total_line}  # fmt: skip
    base: dict[str, Any] = {
        "id": total_check_id(run.gate), "section": f"{TEST_COVERAGE} — what was measured",
        "title": f"Coverage measured by {run.gate}", "severity": Severity.BLOCKER,
        "threshold": f"the run's total equals {said} own TOTAL line",
    }  # fmt: skip
    if isinstance(lines, CoverageReportError):
        return CheckResult(**base, status=Status.ERROR, explanation=str(lines), evidence=evidence)
    counted = measure(lines)
    evidence.update(counted)
    percent = counted["percent"]
    observed = {k: counted[k] for k in ("percent", "covered", "statements", "branches", "files")}
    observed.update(tool_total=run.total_line_percent, measured_by=run.tool)
    option = "--cov" if run.tool == "pytest-cov" else "--source"
    what = (f"{counted['files']} files of {option}={','.join(run.sources) or '(config)'} run in "
            f"{run.cwd}/")  # fmt: skip
    if percent is None:
        return CheckResult(**base, status=Status.INCONCLUSIVE, observed=observed, evidence=evidence,
                           explanation=f"nothing was measured ({what})")  # fmt: skip
    if run.total_line_percent is None:
        return CheckResult(**base, status=Status.PASS, observed=observed, evidence=evidence,
                           explanation=f"{percent:.2f}% of {what} ({run.tool} printed no TOTAL "
                           "line to compare with)")  # fmt: skip
    line = run.total_line or ""
    precision = len(line.rstrip("%").split()[-1].partition(".")[2]) if line else 0
    shown = displayed(percent, precision)
    agrees = abs(shown - run.total_line_percent) <= TOTAL_TOLERANCE
    return CheckResult(
        **base, status=Status.PASS if agrees else Status.ERROR, observed=observed,
        evidence=evidence,
        explanation=(f"{percent:.2f}% of {what}; {said} TOTAL says "
                     f"{run.total_line_percent:g}%" + ("" if agrees else
                     " — they disagree, so the per-layer figures cannot be trusted")),
    )  # fmt: skip


def _layer_check(
    layer: CoverageLayer,
    loaded: Mapping[str, LineSets | CoverageReportError],
    sources: Mapping[str, CoverageRun],
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
        "reports": [str(sources[k].report) for k in keys],
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
    measured = measure_layer(lines, layer)
    evidence.update(measured)
    observed = {k: measured[k] for k in ("percent", "covered", "statements", "files")}
    if measured["percent"] is None:
        return CheckResult(
            **base,
            status=Status.INCONCLUSIVE,
            observed=observed,
            explanation=f"no statements measured under {layer.prefix!r}: nothing was proven",
            evidence=evidence,
        )
    ok = measured["percent"] >= layer.threshold_percent
    return CheckResult(
        **base,
        status=Status.PASS if ok else Status.FAIL,
        observed=observed,
        explanation=(
            f"{measured['percent']:.1f}% of {measured['statements']} statements in "
            f"{measured['files']} files under {layer.prefix} "
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
