"""What a phase notebook calls: one context per phase that records and displays results.

ctx = notebook.start("verify", env, params, run_dir)
ctx.check(smoke.step("smoke.health"))   # displays the row and emits the JSON MIME output
ctx.summary()                           # the phase verdict, computed from the results
"""

from __future__ import annotations

import html
import io
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook.core.checks import CheckResult
from runbook.core.parameters import Parameters, from_notebook, project_root
from runbook.core.verdict import VerdictReport, judge


class PhaseContext:
    """Parameters, evidence folder and recorded results of one phase in one kernel."""

    def __init__(self, phase: str, params: Parameters, run_dir: Path | None):
        self.phase = phase
        self.params = params
        self.run_dir = run_dir
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

    def summary(self) -> None:
        """Display the phase's results as a table with the computed verdict."""
        from IPython.display import HTML, display

        report = self.verdict()
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


def start(
    phase: str, env: str, params: dict[str, Any] | None = None, run_dir: str | None = None
) -> PhaseContext:
    """Open a phase: validate the injected parameters (or load the env's file interactively)."""
    return PhaseContext(phase, from_notebook(env, params), Path(run_dir) if run_dir else None)
