"""A fleet: several run directories (one per target or region, each its own evidence, e.g. the
artifacts of a CI matrix) merged into one report and one verdict.

Each run is verified before its verdict counts: its files against its manifest (wherever it
was copied), against the chain beside it when the folder it sits in has one, and its manifest's
signature (a bad one always; with a trusted key, an unsigned or otherwise signed run too). A
run that does not verify, has no manifest, or whose manifest cannot be read counts as
INCOMPLETE (fail closed). The fleet's verdict is the worst of its runs; no run at all is INCOMPLETE.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from runbook.core import evidence as ev
from runbook.core.verdict import Verdict, combine

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SEARCH_DEPTH = 3  # how deep a folder is searched for run directories (artifact/env/run-id)


class FleetMember(BaseModel):
    """One run of the fleet: where, what it recorded, whether it verified, what counts."""

    path: str
    environment: str | None = None
    target: str | None = None
    build_id: str | None = None
    run_id: str | None = None
    recorded: str | None = Field(None, description="the verdict its manifest records")
    verdict: Verdict = Field(description="what counts: recorded if verified, else INCOMPLETE")
    checked: str = Field("", description="what was verified: files, files + chain")
    problems: list[str] = Field(default_factory=list)
    failing: list[str] = Field(default_factory=list, description="failing blocker ids")
    report: str | None = None

    @property
    def label(self) -> str:
        parts = [p for p in (self.target, self.environment) if p]
        return " / ".join(parts) if parts else Path(self.path).name


class FleetReport(BaseModel):
    """Every member and the fleet's verdict (worst wins)."""

    verdict: Verdict
    members: list[FleetMember]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for m in self.members:
            out[m.verdict.value] = out.get(m.verdict.value, 0) + 1
        return out


def find_runs(paths: Iterable[Path]) -> list[Path]:
    """Each path as a run directory (it has a manifest.json), or the run directories found
    below it (up to SEARCH_DEPTH levels); a path holding none is kept, to be reported."""
    found: list[Path] = []
    for path in paths:
        if (path / ev.MANIFEST).is_file() or not path.is_dir():
            found.append(path)
            continue
        below = _runs_below(path, SEARCH_DEPTH)
        found.extend(below or [path])
    return list(dict.fromkeys(p.resolve() for p in found))


def _runs_below(folder: Path, depth: int) -> list[Path]:
    if depth == 0:
        return []
    out: list[Path] = []
    for child in sorted(p for p in folder.iterdir() if p.is_dir()):
        if (child / ev.MANIFEST).is_file():
            out.append(child)
        else:
            out += _runs_below(child, depth - 1)
    return out


def examine(run_dir: Path, trusted: Ed25519PublicKey | None = None) -> FleetMember:
    """One run directory verified (with `trusted`: signed by that key) and read; anything
    unverifiable is INCOMPLETE."""
    from runbook.governance.signing import SIG_VALID, verify_signature

    base: dict[str, Any] = {"path": str(run_dir)}
    report = ev.verify_files(run_dir)
    if report.problems and not (run_dir / ev.MANIFEST).is_file():
        return FleetMember(**base, verdict=Verdict.INCOMPLETE, problems=report.problems)
    raw = (run_dir / ev.MANIFEST).read_bytes()
    try:
        manifest = json.loads(raw)
        if not isinstance(manifest, dict):
            raise TypeError("not an object")
    except (ValueError, TypeError) as exc:
        return FleetMember(
            **base, verdict=Verdict.INCOMPLETE, problems=[f"{ev.MANIFEST} unreadable: {exc}"]
        )
    problems = report.lines()
    checked = "files"
    chain_file = run_dir.parent / ev.CHAIN
    if chain_file.is_file():
        position = ev.locate_in_chain(chain_file, raw)
        checked = "files + chain"
        if position.problem is not None:
            problems.append(f"{ev.CHAIN}: {position.problem}")
    signature = verify_signature(run_dir, trusted)
    if not signature.ok:
        problems.append(f"signature: {signature.detail}")
    elif signature.status == SIG_VALID:
        checked += " + signature"
    recorded = manifest.get("verdict")
    try:
        claimed = Verdict(str(recorded))
    except ValueError:
        claimed = None
        problems.append(f"the manifest records no known verdict ({recorded!r})")
    target = manifest.get("target")
    target = target if isinstance(target, dict) else {}
    return FleetMember(
        **base,
        environment=manifest.get("environment"),
        target=target.get("name"),
        build_id=manifest.get("build_id"),
        run_id=manifest.get("run_id"),
        recorded=str(recorded) if recorded is not None else None,
        verdict=claimed if claimed is not None and not problems else Verdict.INCOMPLETE,
        checked=checked,
        problems=problems,
        failing=_failing(manifest),
        report=str(run_dir / "report.html") if (run_dir / "report.html").is_file() else None,
    )


def _failing(manifest: dict[str, Any]) -> list[str]:
    bad = {"fail", "error", "inconclusive", "pending-sign-off"}
    results = manifest.get("results")
    if not isinstance(results, list):
        return []
    return [
        str(r.get("id"))
        for r in results
        if isinstance(r, dict) and r.get("severity") == "blocker" and r.get("status") in bad
    ]


def summarize(paths: Iterable[Path], trusted: Ed25519PublicKey | None = None) -> FleetReport:
    """The fleet of these run directories (or folders holding them): members and verdict;
    with `trusted`, every run must be signed by that key."""
    members = [examine(p, trusted) for p in find_runs(paths)]
    verdict = combine(m.verdict for m in members)  # no member: INCOMPLETE
    return FleetReport(verdict=verdict, members=members)


# -- renderings ------------------------------------------------------------------------------------
def _why(m: FleetMember) -> str:
    if m.problems:
        return f"unverifiable ({'; '.join(m.problems[:3])})"
    if m.failing:
        more = f" +{len(m.failing) - 5} more" if len(m.failing) > 5 else ""
        return ", ".join(m.failing[:5]) + more
    return ""


def text_lines(report: FleetReport) -> list[str]:
    """What `runbook summary` prints: one line per run, then the fleet's verdict."""
    lines = [
        f"{m.verdict.value:<17} {m.label:<40} {m.build_id or '-':<12} {m.run_id or '-'}"
        + (f"  [{m.checked}]" if m.checked else "")
        + (f"  {_why(m)}" if _why(m) else "")
        for m in report.members
    ]
    counts = ", ".join(f"{n} {v}" for v, n in sorted(report.counts().items()))
    return [*lines, f"fleet: {report.verdict.value} ({len(report.members)} run(s): {counts})"]


def markdown(report: FleetReport, link_base: Path | None = None) -> str:
    """A Markdown summary (e.g. for $GITHUB_STEP_SUMMARY or Azure's task.uploadsummary)."""
    rows = [
        f"## Fleet verdict: {_md(report.verdict.value)}",
        "",
        f"{len(report.members)} run(s): "
        + ", ".join(f"{n} {v}" for v, n in sorted(report.counts().items())),
        "",
        "| verdict | target / environment | build | run | verified | failing or why |",
        "|---|---|---|---|---|---|",
    ]
    for m in report.members:
        run = _md(m.run_id or Path(m.path).name)
        if m.report:
            target = os.path.relpath(m.report, link_base) if link_base else m.report
            run = f"[{run}]({target})"
        rows.append(
            f"| **{_md(m.verdict.value)}** | {_md(m.label)} | {_md(m.build_id or '-')} | {run} "
            f"| {_md(m.checked or 'no')} | {_md(_why(m))} |"
        )
    return "\n".join(rows) + "\n"


def html_page(report: FleetReport, out: Path) -> str:
    """A self-contained HTML page; each run links to its own report (relative to `out`)."""
    colours = {"GO": "#1a7f37", "INCOMPLETE": "#9a6700", "NO-GO": "#cf222e"}
    rows = []
    for m in report.members:
        colour = colours.get(m.verdict.value, "#cf222e")
        run = html.escape(m.run_id or Path(m.path).name)
        if m.report:
            href = html.escape(os.path.relpath(m.report, out.parent))
            run = f'<a href="{href}">{run}</a>'
        rows.append(
            f'<tr><td style="color:{colour};font-weight:bold">{html.escape(m.verdict.value)}'
            f"</td><td>{html.escape(m.label)}</td><td>{html.escape(m.build_id or '-')}</td>"
            f"<td>{run}</td><td>{html.escape(m.checked or 'no')}</td>"
            f"<td>{html.escape(_why(m))}</td></tr>"
        )
    colour = colours.get(report.verdict.value, "#cf222e")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Fleet verdict: "
        f"{html.escape(report.verdict.value)}</title><style>body{{font-family:sans-serif;"
        "margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
        "text-align:left;vertical-align:top}</style></head><body>"
        f'<h1>Fleet verdict: <span style="color:{colour}">'
        f"{html.escape(report.verdict.value)}</span></h1>"
        f"<p>{len(report.members)} run(s); worst wins; a run that does not verify counts as "
        "INCOMPLETE.</p><table><tr><th>verdict</th><th>target / environment</th><th>build</th>"
        "<th>run</th><th>verified</th><th>failing or why</th></tr>"
        + "".join(rows)
        + "</table></body></html>\n"
    )


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
