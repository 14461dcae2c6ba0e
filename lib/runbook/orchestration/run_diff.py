"""What changed between two runs: the checks whose status changed, the measured values that
moved (with the baseline judge's view of whether a latency or error-rate move is real, from the
runs' raw load samples), the parameters that differ (as the manifests keep them: secret
references, never values), the sign-offs, and optionally the executed notebooks' content.

The notebook diff is nbdime's, on copies of the notebooks with what differs on every execution
taken out: execution counts, notebook/cell/output metadata (papermill's times) and cell ids are
ignored through nbdime's own ignore settings; the injected-parameters cell (compared in the
parameters section), check outputs' measurements (compared in the measured values), figures'
pixels, and times, run ids, loopback ports, temporary paths and durations inside output text
are replaced by placeholders. Nothing of either run directory is changed.
"""

from __future__ import annotations

import copy
import html
import io
import json
import math
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError

from runbook.core import evidence
from runbook.core.baseline_judge import JudgeSettings, judge_rates, judge_samples
from runbook.core.checks import CHECK_MIME, STATUS_COLOURS, CheckResult, Status
from runbook.core.evidence_queries import MEASURED
from runbook.core.json_path import MISSING, lookup

P95_PREFIX = "perf.p95."
ERROR_RATE_ID = "perf.error_rate"
SAMPLES_DIR = "evidence/performance"
ALL_ROUTES = "overall"
INJECTED_TAG = "injected-parameters"
SIGNOFF_MARK = "signoff"

# Volatile parts of output text and parameter values, most specific first.
VOLATILE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b\d{8}T\d{6,12}Z-[0-9a-f]{6}\b"), "<run-id>"),
    (
        re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"),
        "<time>",
    ),
    (re.compile(r"\b(127\.0\.0\.1|localhost|\[::1\]):\d+"), r"\1:<port>"),
    (re.compile(r"/tmp/[^\s'\"<>,;)\]}]+"), "<tmp>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{16,}\b"), "<hex>"),
    (re.compile(r"\bT_[0-9a-f]{5}(?=[_ \"'.]|\b)"), "T_<styler>"),  # pandas Styler's table id
    (re.compile(r"\bat 0x[0-9a-f]+\b"), "at <address>"),  # object reprs
    (re.compile(r"\b\d+(\.\d+)?\s?(ms|s|seconds)\b"), "<duration>"),
]


class RunDiffError(RuntimeError):
    """A run to compare cannot be found or read."""


def normalise_text(text: str) -> str:
    """`text` with times, run ids, loopback ports, temp paths, ids and durations replaced."""
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


# -- the judge's view ------------------------------------------------------------------------


@dataclass
class JudgeView:
    """The baseline judge's view of one move: pass / marginal / fail / inconclusive, and why."""

    outcome: str
    explanation: str


def judge_settings(manifest: dict[str, Any]) -> tuple[JudgeSettings, str]:
    """The judge's settings run B was judged with (`post_deployment.judge` of its saved
    parameters), or the defaults when it kept none or they no longer validate; and a note."""
    from runbook.phases.post_deployment.judge import JudgeParams

    raw = lookup(manifest.get("parameters") or {}, "post_deployment.judge")
    if raw is MISSING or not isinstance(raw, dict):
        return JudgeSettings(), "the judge's default settings (run B kept none)"
    try:
        return JudgeParams.model_validate(raw).settings(), "run B's judge settings"
    except ValidationError:
        return JudgeSettings(), "the judge's default settings (run B's do not validate)"


# -- loading ----------------------------------------------------------------------------------


@dataclass
class LoadedRun:
    """One side of the diff: its directory, manifest, results by id and whether it verifies."""

    path: Path
    manifest: dict[str, Any]
    results: dict[str, CheckResult]
    integrity: list[str]  # empty: every hash matches

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id") or self.path.name)


def resolve_run(ref: str, outputs: Path | None) -> Path:
    """A run directory given as a path or as a run id under outputs/<env>/."""
    path = Path(ref)
    if path.is_dir():
        return path.resolve()
    if outputs is None:
        raise RunDiffError(f"{ref!r} is not a run directory (and no outputs folder to look in)")
    found = [d for d in outputs.glob(f"*/{ref}") if d.is_dir()] if outputs.is_dir() else []
    if len(found) == 1:
        return found[0].resolve()
    if len(found) > 1:
        where = ", ".join(str(d) for d in found)
        raise RunDiffError(f"run id {ref!r} is ambiguous: {where}; give the directory")
    raise RunDiffError(f"{ref!r} is neither a run directory nor a run id under {outputs}/<env>/")


def load_run(ref: str, outputs: Path | None) -> LoadedRun:
    """Read a finished run (RunDiffError when it has no readable manifest)."""
    path = resolve_run(ref, outputs)
    try:
        manifest = json.loads((path / evidence.MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDiffError(f"{path}: no {evidence.MANIFEST} (the run did not finish)") from None
    except (OSError, ValueError) as exc:
        raise RunDiffError(f"{path}: {evidence.MANIFEST} cannot be read ({exc})") from None
    results: dict[str, CheckResult] = {}
    for payload in manifest.get("results", []) or []:
        try:
            result = CheckResult.from_payload(dict(payload))
        except (ValueError, TypeError):
            continue
        results[result.id] = result
    return LoadedRun(path, manifest, results, evidence.verify(path).lines())


# -- checks and values ------------------------------------------------------------------------


@dataclass
class StatusChange:
    """A check whose status differs (None: the check is absent from that run)."""

    id: str
    phase: str | None
    title: str
    before: str | None
    after: str | None
    explanation: str


@dataclass
class ValueMove:
    """A number of a check's `observed` that moved, with the judge's view when it has one."""

    check_id: str
    path: str
    before: float
    after: float
    judge: JudgeView | None = None

    @property
    def relative(self) -> float | None:
        """(after − before) / |before|; None when before is 0."""
        return None if self.before == 0 else (self.after - self.before) / abs(self.before)

    def describe(self) -> str:
        rel = self.relative
        change = "from 0" if rel is None else f"{rel:+.1%}"
        return f"{self.check_id} {self.path}: {_num(self.before)} → {_num(self.after)} ({change})"


def _num(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.4g}"


def numbers(value: Any, prefix: str = "observed") -> dict[str, float]:
    """Every finite number inside a JSON value, by dotted path (booleans are not numbers)."""
    if isinstance(value, bool) or value is None:
        return {}
    if isinstance(value, int | float):
        return {prefix: float(value)} if math.isfinite(float(value)) else {}
    if isinstance(value, dict):
        out: dict[str, float] = {}
        for key, inner in value.items():
            out.update(numbers(inner, f"{prefix}.{key}"))
        return out
    if isinstance(value, list):
        out = {}
        for i, inner in enumerate(value):
            out.update(numbers(inner, f"{prefix}.{i}"))
        return out
    return {}


def status_changes(a: LoadedRun, b: LoadedRun) -> list[StatusChange]:
    """Checks whose status differs, or that only one run has, in B's order then A's."""
    out = []
    for check_id in dict.fromkeys([*b.results, *a.results]):
        ra, rb = a.results.get(check_id), b.results.get(check_id)
        before = ra.status.value if ra else None
        after = rb.status.value if rb else None
        if before == after:
            continue
        shown = rb or ra
        assert shown is not None
        out.append(
            StatusChange(
                check_id,
                shown.phase,
                shown.title,
                before,
                after,
                (rb.explanation if rb else "not in run B") or "",
            )
        )
    return out


def value_moves(a: LoadedRun, b: LoadedRun) -> list[ValueMove]:
    """Numbers of checks that measured in both runs and moved, largest relative move first."""
    moves = []
    for check_id, rb in b.results.items():
        ra = a.results.get(check_id)
        if ra is None or ra.status not in MEASURED or rb.status not in MEASURED:
            continue
        before, after = numbers(ra.observed), numbers(rb.observed)
        for path in before.keys() & after.keys():
            if before[path] != after[path]:
                moves.append(ValueMove(check_id, path, before[path], after[path]))
    return sorted(moves, key=lambda m: -(math.inf if m.relative is None else abs(m.relative)))


# -- raw samples for the judge ----------------------------------------------------------------


def judge_moves(moves: list[ValueMove], a: LoadedRun, b: LoadedRun) -> str:
    """Attach the baseline judge's view (A's raw load samples the baseline, B's the candidate)
    to p95 and error-rate moves; returns a note saying what was done, or why not."""
    from runbook.phases.post_deployment.judge import read_samples

    untrusted = [r.run_id for r in (a, b) if any(SAMPLES_DIR in line for line in r.integrity)]
    if untrusted:
        return f"the load samples of run {', '.join(untrusted)} do not verify: relative change only"
    sa, sb = read_samples(a.path, SAMPLES_DIR), read_samples(b.path, SAMPLES_DIR)
    if sa is None or sb is None:
        missing = ", ".join(r.run_id for r, s in ((a, sa), (b, sb)) if s is None)
        return f"no raw load samples in run {missing}: relative change only"
    settings, whose = judge_settings(b.manifest)
    for move in moves:
        if move.check_id.startswith(P95_PREFIX) and move.path == "observed":
            route = move.check_id[len(P95_PREFIX) :]
            if route in sa.latency and route in sb.latency:
                j = judge_samples(sa.latency[route], sb.latency[route], settings, metric=route)
                move.judge = JudgeView(j.outcome, j.explanation)
        elif move.check_id == ERROR_RATE_ID and move.path.startswith("observed."):
            route = move.path[len("observed.") :]
            if route == ALL_ROUTES:
                counts_a = (sa.total_errors, sa.total_requests)
                counts_b = (sb.total_errors, sb.total_requests)
            elif route in sa.requests and route in sb.requests:
                counts_a = (sa.errors[route], sa.requests[route])
                counts_b = (sb.errors[route], sb.requests[route])
            else:
                continue
            j = judge_rates(*counts_a, *counts_b, settings, metric=f"error rate {route}")
            move.judge = JudgeView(j.outcome, j.explanation)
    return (
        f"the baseline judge compared run A's raw load samples (baseline) with run B's, "
        f"with {whose}"
    )


# -- parameters and sign-offs -----------------------------------------------------------------


@dataclass
class ParamChange:
    """A parameter leaf that differs; `repointed`: only loopback ports / temp paths differ."""

    key: str
    before: str | None
    after: str | None
    repointed: bool = False


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of a JSON value by dotted key; a secret reference {env: NAME} stays one leaf."""
    if isinstance(value, dict) and value and not (set(value) <= {"env", "secret"}):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _shown(value: Any) -> str:
    if isinstance(value, dict) and set(value) <= {"env", "secret"}:
        ref = value.get("env") or value.get("secret")
        return f"${ref}" if isinstance(ref, str) else f"secret reference {json.dumps(ref)}"
    return json.dumps(value, default=str, ensure_ascii=False)


def parameter_changes(a: LoadedRun, b: LoadedRun) -> list[ParamChange]:
    """Parameter leaves that differ between the runs' saved parameters, sorted by key."""
    fa = flatten(a.manifest.get("parameters") or {})
    fb = flatten(b.manifest.get("parameters") or {})
    out = []
    for key in sorted(fa.keys() | fb.keys()):
        va, vb = fa.get(key, _ABSENT), fb.get(key, _ABSENT)
        if va == vb:
            continue
        sa = None if va is _ABSENT else _shown(va)
        sb = None if vb is _ABSENT else _shown(vb)
        repointed = sa is not None and sb is not None and normalise_text(sa) == normalise_text(sb)
        out.append(ParamChange(key, sa, sb, repointed))
    return out


_ABSENT = object()


@dataclass
class SignoffRow:
    """A sign-off check in either run: its status and who signed, on each side."""

    id: str
    title: str
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _signoff_text(result: CheckResult | None) -> str:
    if result is None:
        return "absent"
    if result.status is Status.PASS and isinstance(result.observed, dict):
        who = result.observed.get("by")
        role = result.observed.get("role")
        return f"signed by {who}" + (f" ({role})" if role else "")
    return result.status.value


def signoffs(a: LoadedRun, b: LoadedRun) -> list[SignoffRow]:
    """Every sign-off check of either run (ids naming a sign-off, or pending one)."""

    def is_signoff(r: CheckResult) -> bool:
        return SIGNOFF_MARK in r.id.split(".") or r.status is Status.PENDING_SIGN_OFF

    ids = [i for i, r in {**a.results, **b.results}.items() if is_signoff(r)]
    rows = []
    for check_id in dict.fromkeys(ids):
        shown = b.results.get(check_id) or a.results[check_id]
        rows.append(
            SignoffRow(
                check_id,
                shown.title,
                _signoff_text(a.results.get(check_id)),
                _signoff_text(b.results.get(check_id)),
            )
        )
    return rows


# -- notebooks --------------------------------------------------------------------------------

_NBDIME_LOCK = threading.Lock()


@contextmanager
def _nbdime_ignoring_execution() -> Iterator[None]:
    """nbdime's documented ignores (metadata, ids, execution counts) for the duration only:
    they are module-level settings of nbdime, reset afterwards."""
    differ = import_module("nbdime.diffing.notebooks")  # untyped: attributes are Any
    with _NBDIME_LOCK:
        differ.set_notebook_diff_targets(metadata=False, identifier=False, details=False)
        try:
            yield
        finally:
            differ.reset_notebook_differ()


def _stable_output(output: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(output)
    out.pop("metadata", None)
    out.pop("execution_count", None)
    if "text" in out:
        text = out["text"] if isinstance(out["text"], str) else "".join(out["text"])
        out["text"] = normalise_text(text)
    if "traceback" in out:
        out["traceback"] = [normalise_text(line) for line in out["traceback"]]
    if "evalue" in out:
        out["evalue"] = normalise_text(str(out["evalue"]))
    data = out.get("data")
    if isinstance(data, dict):
        if CHECK_MIME in data:
            payload = data[CHECK_MIME]
            payload = json.loads(payload) if isinstance(payload, str) else payload
            out["data"] = {
                "text/plain": f"[{str(payload.get('status', '?')).upper()}] {payload.get('id')} "
                f"({payload.get('severity')}) {payload.get('title')}"
            }
        else:
            stable: dict[str, Any] = {}
            for mime, value in data.items():
                if mime.startswith("image/"):
                    stable[mime] = f"<{mime} figure>"
                elif isinstance(value, str | list):
                    text = value if isinstance(value, str) else "".join(value)
                    stable[mime] = normalise_text(text)
                else:
                    stable[mime] = json.loads(normalise_text(json.dumps(value)))
            out["data"] = stable
    return out


def stable_notebook(nb: dict[str, Any]) -> dict[str, Any]:
    """A copy of an executed notebook without what changes on every execution."""
    out = copy.deepcopy(nb)
    out["metadata"] = {}
    for cell in out.get("cells", []):
        tags = (cell.get("metadata") or {}).get("tags") or []
        cell["metadata"] = {}
        cell.pop("id", None)
        if cell.get("cell_type") != "code":
            continue
        cell["execution_count"] = None
        if INJECTED_TAG in tags:
            cell["source"] = "# Parameters (injected; compared in the parameters section)"
        cell["outputs"] = [_stable_output(o) for o in cell.get("outputs", [])]
    return out


@dataclass
class NotebookDiff:
    """The content diff of one notebook present in either run."""

    name: str
    text: str
    changed: bool


def _read_nb(path: Path) -> dict[str, Any]:
    """The notebook as nbformat reads it (multi-line strings joined, as nbdime expects)."""
    import nbformat

    nb: dict[str, Any] = nbformat.read(path, as_version=4)
    return nb


def diff_notebook(path_a: Path, path_b: Path) -> NotebookDiff:
    """nbdime's content diff of two executed notebooks, volatile parts ignored, as text."""
    import nbformat

    nbdime = import_module("nbdime")
    prettyprint = import_module("nbdime.prettyprint")

    a = nbformat.from_dict(stable_notebook(_read_nb(path_a)))
    b = nbformat.from_dict(stable_notebook(_read_nb(path_b)))
    with _nbdime_ignoring_execution():
        di = nbdime.diff_notebooks(a, b)
    if not di:
        return NotebookDiff(path_b.name, "", False)
    buffer = io.StringIO()
    include = SimpleNamespace(
        sources=True, outputs=True, attachments=True, metadata=False, id=False, details=False
    )
    config = prettyprint.PrettyPrintConfig(
        out=buffer, include=include, use_git=False, use_diff=False, use_color=False
    )
    prettyprint.pretty_print_diff(a, di, "", config)
    return NotebookDiff(path_b.name, buffer.getvalue().rstrip(), True)


def notebook_diffs(a: LoadedRun, b: LoadedRun) -> list[NotebookDiff]:
    """A diff per notebook of either run (one present on one side only is said so)."""
    names_a = {p.name: p for p in (a.path / "notebooks").glob("*.ipynb")}
    names_b = {p.name: p for p in (b.path / "notebooks").glob("*.ipynb")}
    out = []
    for name in sorted(names_a.keys() | names_b.keys()):
        if name not in names_b:
            out.append(NotebookDiff(name, "only in run A (the phase did not run in B)", True))
        elif name not in names_a:
            out.append(NotebookDiff(name, "only in run B (the phase did not run in A)", True))
        else:
            out.append(diff_notebook(names_a[name], names_b[name]))
    return out


# -- the whole diff ---------------------------------------------------------------------------


def runbook_version(manifest: dict[str, Any]) -> str:
    """'0.1.0 @ a231f00': the runbook version and commit a run was made with."""
    info = manifest.get("runbook") or {}
    git = str(info.get("git") or "")[:7]
    return f"{info.get('version', '?')}" + (f" @ {git}" if git else "")


@dataclass
class RunDiff:
    """Run A (earlier, the baseline) against run B."""

    a: LoadedRun
    b: LoadedRun
    changes: list[StatusChange]
    moves: list[ValueMove]
    hidden_moves: int
    min_change: float
    judge_note: str
    parameters: list[ParamChange]
    signoffs: list[SignoffRow]
    notebooks: list[NotebookDiff] | None = None

    def only_in(self, side: str) -> dict[str, list[str]]:
        """Check ids present in one run only ("A" or "B"), by phase."""
        out: dict[str, list[str]] = {}
        for c in self.changes:
            if (side == "A" and c.after is None) or (side == "B" and c.before is None):
                out.setdefault(c.phase or "run", []).append(c.id)
        return out

    def lines(self) -> list[str]:
        """The diff as text."""
        a, b = self.a, self.b
        out = [
            f"{side}: {run.run_id} ({run.manifest.get('environment')}, build "
            f"{run.manifest.get('build_id')}, runbook {runbook_version(run.manifest)}) "
            f"{run.manifest.get('verdict')}"
            for side, run in (("A", a), ("B", b))
        ]
        for side, run in (("A", a), ("B", b)):
            if run.integrity:
                out.append(f"warning: run {side} does not verify: {'; '.join(run.integrity)}")
        both = [c for c in self.changes if c.before and c.after]
        out.append(f"\nchecks whose status changed ({len(both)}):")
        out += [
            f"  {c.id}: {c.before} → {c.after}" + (f" — {c.explanation}" if c.explanation else "")
            for c in both
        ] or ["  none"]
        for side, only in (("A", self.only_in("A")), ("B", self.only_in("B"))):
            if only:
                out.append(f"checks only in run {side} ({sum(map(len, only.values()))}):")
                out += [f"  {phase}: {', '.join(ids)}" for phase, ids in only.items()]
        out.append(
            f"\nmeasured values that moved by {self.min_change:.0%} or more "
            f"({len(self.moves)}; {self.hidden_moves} smaller moves not listed; {self.judge_note}):"
        )
        for m in self.moves:
            out.append(f"  {m.describe()}")
            if m.judge:
                out.append(f"    judge: {m.judge.outcome.upper()} — {m.judge.explanation}")
        if not self.moves:
            out.append("  none")
        real = [p for p in self.parameters if not p.repointed]
        repointed = [p for p in self.parameters if p.repointed]
        out.append(
            f"\nparameters that differ ({len(real)}; secret references shown, never values):"
        )
        out += [f"  {p.key}: {p.before or 'absent'} → {p.after or 'absent'}" for p in real] or [
            "  none"
        ]
        if repointed:
            out.append(
                f"  ({len(repointed)} more differ only by loopback ports or temporary paths, the "
                "local services each run starts: " + ", ".join(p.key for p in repointed) + ")"
            )
        changed = [s for s in self.signoffs if s.changed]
        out.append(f"\nsign-offs ({len(self.signoffs)}, {len(changed)} changed):")
        out += [
            f"  {s.id}: {s.before} → {s.after}" if s.changed else f"  {s.id}: {s.after}"
            for s in self.signoffs
        ] or ["  none"]
        if self.notebooks is not None:
            changed_nb = [n for n in self.notebooks if n.changed]
            out.append(
                f"\nnotebooks ({len(changed_nb)} of {len(self.notebooks)} changed; "
                "execution counts, metadata and volatile output parts ignored):"
            )
            for nb in self.notebooks:
                out.append(f"  {nb.name}: " + ("changed" if nb.changed else "same content"))
                if nb.changed:
                    out += ["    " + line for line in nb.text.splitlines()]
        return out


def diff_runs(
    ref_a: str,
    ref_b: str,
    *,
    outputs: Path | None,
    notebooks: bool = False,
    min_change: float = 0.05,
) -> RunDiff:
    """Compare two finished runs (A the baseline); RunDiffError when one cannot be read."""
    a, b = load_run(ref_a, outputs), load_run(ref_b, outputs)
    moves = value_moves(a, b)
    shown = [m for m in moves if m.relative is None or abs(m.relative) >= min_change]
    note = judge_moves(shown, a, b)
    return RunDiff(
        a=a,
        b=b,
        changes=status_changes(a, b),
        moves=shown,
        hidden_moves=len(moves) - len(shown),
        min_change=min_change,
        judge_note=note,
        parameters=parameter_changes(a, b),
        signoffs=signoffs(a, b),
        notebooks=notebook_diffs(a, b) if notebooks else None,
    )


# -- HTML -------------------------------------------------------------------------------------

OUTCOME_COLOURS = {
    "pass": "#1a7f37",
    "marginal": "#bf8700",
    "fail": "#cf222e",
    "inconclusive": "#8250df",
}


def _status_html(status: str | None) -> str:
    if status is None:
        return "<i>absent</i>"
    colour = STATUS_COLOURS.get(Status(status), "#555") if status in set(Status) else "#555"
    return f"<b style='color:{colour}'>{html.escape(status.upper())}</b>"


def render_html(diff: RunDiff) -> str:
    """The diff as one HTML page."""
    e = html.escape
    a, b = diff.a, diff.b
    integrity = "".join(
        f"<p class='warn'>run {side} does not verify: {e('; '.join(run.integrity))}</p>"
        for side, run in (("A", a), ("B", b))
        if run.integrity
    )
    changes = "".join(
        f"<tr class='status-change'><td><code>{e(c.id)}</code><br>{e(c.title)}</td>"
        f"<td>{e(c.phase or '')}</td><td>{_status_html(c.before)}</td>"
        f"<td>{_status_html(c.after)}</td><td>{e(c.explanation)}</td></tr>"
        for c in diff.changes
    )
    moves = "".join(
        f"<tr class='move'><td><code>{e(m.check_id)}</code></td><td><code>{e(m.path)}</code></td>"
        f"<td>{e(_num(m.before))}</td><td>{e(_num(m.after))}</td>"
        f"<td>{'from 0' if m.relative is None else f'{m.relative:+.1%}'}</td><td>"
        + (
            f"<b style='color:{OUTCOME_COLOURS.get(m.judge.outcome, '#555')}'>"
            f"{e(m.judge.outcome.upper())}</b> {e(m.judge.explanation)}"
            if m.judge
            else "<span class='why'>relative change only</span>"
        )
        + "</td></tr>"
        for m in diff.moves
    )
    params = "".join(
        f"<tr class='param{' repointed' if p.repointed else ''}'><td><code>{e(p.key)}</code></td>"
        f"<td><code>{e(p.before or 'absent')}</code></td><td><code>{e(p.after or 'absent')}"
        f"</code></td><td>{'re-pointed local service' if p.repointed else ''}</td></tr>"
        for p in diff.parameters
    )
    signs = "".join(
        f"<tr><td><code>{e(s.id)}</code><br>{e(s.title)}</td><td>{e(s.before)}</td>"
        f"<td>{e(s.after)}</td><td>{'changed' if s.changed else ''}</td></tr>"
        for s in diff.signoffs
    )
    notebooks = ""
    if diff.notebooks is not None:
        notebooks = (
            "<h2>Notebooks</h2><p class='why'>nbdime content diff; execution counts, "
            "metadata and volatile output parts (times, ports, run ids, durations, figure "
            "pixels, check measurements) ignored.</p>"
            + "".join(
                f"<h3>{e(n.name)}: {'changed' if n.changed else 'same content'}</h3>"
                + (f"<pre class='nbdiff'>{e(n.text)}</pre>" if n.changed else "")
                for n in diff.notebooks
            )
        )

    def head(run: LoadedRun, side: str) -> str:
        m = run.manifest
        return (
            f"<tr><th>{side}</th><td>{e(run.run_id)}</td><td>{e(str(m.get('environment')))}"
            f"</td><td>{e(str(m.get('build_id')))}</td><td>{e(runbook_version(m))}</td>"
            f"<td>{e(str(m.get('verdict')))}</td><td><code>{e(str(run.path))}</code></td></tr>"
        )

    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>PixCrawler runbook — diff {e(a.run_id)} → {e(b.run_id)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 13px; }}
th, td {{ border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top;
          max-width: 40em; overflow-wrap: anywhere; }}
th {{ background: #f6f8fa; }}
.why {{ color: #57606a; font-size: 12px; }}
.warn {{ color: #cf222e; }}
tr.repointed {{ color: #57606a; }}
pre.nbdiff {{ background: #f6f8fa; padding: 8px; font-size: 12px; overflow-x: auto; }}
</style></head><body>
<h1>Diff of two runs</h1>
<table><tr><th></th><th>run</th><th>environment</th><th>build</th><th>runbook</th><th>verdict</th><th>path</th>
</tr>{head(a, "A")}{head(b, "B")}</table>
{integrity}
<h2>Checks whose status changed ({len(diff.changes)})</h2>
<table><tr><th>check</th><th>phase</th><th>A</th><th>B</th><th>B's explanation</th></tr>
{changes}</table>
<h2>Measured values that moved ({len(diff.moves)})</h2>
<p class='why'>moves of {diff.min_change:.0%} or more; {diff.hidden_moves} smaller moves not
listed; {e(diff.judge_note)}.</p>
<table><tr><th>check</th><th>value</th><th>A</th><th>B</th><th>change</th><th>judge</th></tr>
{moves}</table>
<h2>Parameters that differ ({sum(1 for p in diff.parameters if not p.repointed)})</h2>
<p class='why'>as the manifests keep them: secret references (<code>$NAME</code>), never values.</p>
<table><tr><th>parameter</th><th>A</th><th>B</th><th></th></tr>{params}</table>
<h2>Sign-offs ({len(diff.signoffs)})</h2>
<table><tr><th>sign-off</th><th>A</th><th>B</th><th></th></tr>{signs}</table>
{notebooks}
</body></html>
"""


def write_html(path: Path, page: str) -> Path:
    """Write the page atomically; EvidenceWriteError names it when it cannot be written."""
    path = path.resolve()
    evidence.write_evidence(path, page)
    return path
