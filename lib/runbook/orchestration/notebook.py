"""What a phase notebook calls: one context per phase that records and displays results.

ctx = notebook.start("verify", env, params, run_dir)
ctx.check(smoke.step("smoke.health"))   # displays the row and emits the JSON MIME output
ctx.summary(fail_on_verdict)            # the phase verdict, computed from the results

Under plain papermill (no `runbook run` around the notebook) `start` validates and opens a run
of its own and `summary` fails the execution on a verdict other than GO (`standalone`).
Every resolved secret is masked in what the kernel shows and records (`capture`).
"""

from __future__ import annotations

import html
import io
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook.core.checks import CheckResult
from runbook.core.parameters import Parameters, from_notebook, project_root
from runbook.core.verdict import Verdict, VerdictReport, judge
from runbook.orchestration.standalone import StandaloneRun


class PhaseContext:
    """Parameters, evidence folder and recorded results of one phase in one kernel."""

    def __init__(
        self,
        phase: str,
        params: Parameters,
        run_dir: Path | None,
        standalone: StandaloneRun | None = None,
    ):
        self.phase = phase
        self.params = params
        self.run_dir = run_dir
        self.standalone = standalone
        self.root = project_root()
        os.chdir(self.root)  # every relative path in parameters is relative to the checkout
        if run_dir is None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            run_dir = self.root / "outputs" / "interactive" / stamp
        self.evidence_dir = run_dir / "evidence" / phase
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        self.results: dict[str, CheckResult] = {}

    def check(self, *items: CheckResult | Iterable[CheckResult]) -> None:
        """Record results and display each (readable row + machine-readable JSON) as soon as it
        is produced: an iterator's earlier results survive a cell that dies later."""
        from IPython.display import display

        for item in items:
            batch = [item] if isinstance(item, CheckResult) else item  # shown as produced
            for result in batch:
                if result.phase is None:
                    result = result.model_copy(update={"phase": self.phase})
                self.results[result.id] = result
                display(result)

    def show(self, obj: Any) -> None:
        """Display a table or a figure (never a check result: use `check`). A matplotlib
        figure is rendered to PNG here, so it is saved in the notebook whatever the backend."""
        from IPython.display import Image, display

        if (
            isinstance(obj, dict | list | tuple)
            and obj
            and all(hasattr(o, "savefig") for o in (obj.values() if isinstance(obj, dict) else obj))
        ):
            for figure in obj.values() if isinstance(obj, dict) else obj:
                self.show(figure)
            return
        if hasattr(obj, "savefig"):
            buffer = io.BytesIO()
            obj.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
            display(Image(data=buffer.getvalue(), format="png"))
            return
        display(obj)

    def prior_results(self) -> list[CheckResult]:
        """Results of the phases this run already executed (read from their saved notebooks)."""
        from runbook.core.evidence import results_from_notebook

        if self.run_dir is None:
            return []
        folder = self.run_dir / "notebooks"
        if not folder.is_dir():
            return []
        return [
            r
            for nb in sorted(folder.glob("*.ipynb"))
            for r in results_from_notebook(nb)
            if r.phase != self.phase
        ]

    def verdict(self) -> VerdictReport:
        return judge(self.results.values())

    def summary(self, fail_on_verdict: bool = True) -> None:
        """Display the phase's results as a table with the computed verdict. Under plain
        papermill, also write the run's manifest and raise PhaseNotGo (naming the failing
        checks) when the verdict is not GO, unless `fail_on_verdict` is False."""
        report = self.verdict()
        self._show_summary(report)
        if self.standalone is None:
            return  # runbook run judges the saved notebook; the lab only shows
        from runbook.orchestration.standalone import PhaseNotGo, not_go_message

        overall, reasons, _ = self.standalone.finish(list(self.results.values()))
        print(f"{overall.value}: {self.standalone.run_dir}")
        if fail_on_verdict and overall is not Verdict.GO:
            raise PhaseNotGo(not_go_message(self.phase, overall, reasons, self.standalone.run_dir))

    def _show_summary(self, report: VerdictReport) -> None:
        from IPython.display import HTML, display

        rows = "".join(
            f"<tr><td>{html.escape(r.status.value)}</td><td><code>{html.escape(r.id)}</code></td>"
            f"<td>{html.escape(r.severity.value)}</td><td>{html.escape(r.title)}</td></tr>"
            for r in self.results.values()
        )
        reasons = "".join(f"<li>{html.escape(x)}</li>" for x in report.reasons)
        display(
            HTML(
                f"<h3>Phase {html.escape(self.phase)}: {report.verdict.value}</h3>"
                f"<table><tr><th>status</th><th>id</th><th>severity</th><th>title</th></tr>{rows}"
                f"</table><ul>{reasons}</ul>"
            )
        )


def _finish_when_a_cell_raises(ctx: PhaseContext, run: StandaloneRun) -> None:
    """Plain papermill stops at the first cell that raises: the run is finished then, with
    what was recorded and the error (see StandaloneRun.crashed)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return

    def after_cell(result: Any) -> None:
        error = getattr(result, "error_in_exec", None)
        if error is not None and not run.finished:
            try:
                run.crashed(list(ctx.results.values()), error)
            except Exception as exc:  # noqa: BLE001 - the cell's own error is the one to show
                print(f"warning: the run could not be finished: {exc}", file=sys.stderr)

    shell.events.register("post_run_cell", after_cell)


def start(
    phase: str, env: str, params: dict[str, Any] | None = None, run_dir: str | None = None
) -> PhaseContext:
    """Open a phase: mask secrets in everything the kernel shows, then validate the injected
    parameters (runbook run), load the lab's (interactive), or — under plain papermill —
    validate like `runbook run --phase` and open a run directory of its own (InvalidInput
    names every problem). Every secret the parameters reference is resolved now, so it is
    masked wherever it would appear."""
    from runbook.core.secret_refs import resolved_values
    from runbook.orchestration import capture, standalone

    capture.install()
    if standalone.entry(params, run_dir) is standalone.Entry.STANDALONE:
        opened = standalone.open_run(phase, env, params, run_dir)
        ctx = PhaseContext(phase, opened.loaded.params, opened.run_dir, opened)
        _finish_when_a_cell_raises(ctx, opened)
    else:
        ctx = PhaseContext(phase, from_notebook(env, params), Path(run_dir) if run_dir else None)
    resolved_values(ctx.params)  # registers each value for masking; unset ones say so later
    return ctx
