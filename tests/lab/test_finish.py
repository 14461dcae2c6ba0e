"""`runbook finish` judges a lab run from its saved notebooks like a headless run: a notebook
nobody ran is a phase not started, a notebook stopped at the guard or with cells never executed
did not run to the end (never a pass), a widget signature recorded in `signoffs/` counts even
when the notebook was saved before it; the manifest says `mode: interactive` and how each box
was signed, and `runbook verify` passes; a finished run is sealed against later saves."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from lab_support import ROOT

from runbook.core.checks import CheckResult, Status
from runbook.core.evidence import verify
from runbook.core.parameters import load
from runbook.governance.signoff import SignOffParams, make_record, save_record, signoff_result
from runbook.orchestration import phase_plan as ph
from runbook.orchestration.finish import NotALabRun, finish_run
from runbook.orchestration.lab import create_lab_run

HEALTH = CheckResult(
    id="deploy.health.staging", section="§3.2", title="healthy", status=Status.PASS, phase="deploy"
)


def _lab_run(outputs: Path) -> Path:
    loaded = load("local", ["signoff.signed={}"])
    return create_lab_run(
        outputs, ROOT, loaded.source, loaded.overrides, loaded.params, [ph.BY_NAME["deploy"]]
    )


def _output(result: CheckResult) -> Any:
    return nbformat.v4.new_output("display_data", data=result._repr_mimebundle_())


def _run_cells(run_dir: Path, outputs: dict[int, list[Any]], executed: int | None = None) -> Path:
    """Mark the first `executed` code cells (all: None) of 03_deploy as run, with outputs."""
    path = run_dir / "notebooks" / "03_deploy.ipynb"
    nb = nbformat.read(path, as_version=4)
    code = [
        c
        for c in nb.cells
        if c.cell_type == "code" and "runbook-finish" not in c.metadata.get("tags", [])
    ]
    for n, cell in enumerate(code[: executed if executed is not None else len(code)], 1):
        cell.execution_count = n
        cell.outputs = outputs.get(n, [])
    nbformat.write(nb, path)
    return path


def _pending(item: str) -> CheckResult:
    settings = SignOffParams()
    return signoff_result(settings.item(item), None).model_copy(update={"phase": "deploy"})


def _manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "manifest.json").read_text())


def test_a_notebook_nobody_ran_is_a_phase_not_started(tmp_path: Path) -> None:
    run_dir = _lab_run(tmp_path)
    outcome = finish_run(run_dir, say=lambda _: None)
    assert outcome.verdict is not None and outcome.verdict.value == "INCOMPLETE"
    assert outcome.phases[0].status == "skipped"
    manifest = _manifest(run_dir)
    assert manifest["mode"] == "interactive" and manifest["run_id"] == run_dir.name
    assert verify(run_dir).ok
    with pytest.raises(NotALabRun, match="already finished"):
        finish_run(run_dir)


def test_a_signature_given_after_saving_counts_but_a_stopped_guard_does_not_pass(
    tmp_path: Path,
) -> None:
    run_dir = _lab_run(tmp_path)
    items = ["team-notified", "deployment-window", "rollback-plan"]
    guard_error = nbformat.v4.new_output(
        "error", ename="SignOffPending", evalue="required sign-off missing", traceback=[]
    )
    # saved right after Run All stopped at the guard (sign-off cell = 4th code cell)
    _run_cells(run_dir, {4: [_output(_pending(i)) for i in items], 5: [guard_error]}, executed=5)
    settings = SignOffParams()
    for item in items:  # the widgets wrote these; the notebook was not saved again
        save_record(
            run_dir,
            make_record(
                settings.item(item),
                by="Ada",
                role="tech-lead",
                note="",
                source="widget",
                results=[],
            ),
        )
    outcome = finish_run(run_dir, say=lambda _: None)
    results = {r.id: r for r in outcome.phases[0].results}
    assert all(results[f"signoff.{i}"].status is Status.PASS for i in items)
    assert results["runbook.deploy.execution"].status is Status.INCONCLUSIVE
    assert "sign-off guard" in results["runbook.deploy.execution"].explanation
    assert outcome.verdict is not None and outcome.verdict.value == "INCOMPLETE"
    signed = _manifest(run_dir)["signoffs"]["signoff.team-notified"]
    assert (signed["by"], signed["source"], signed["status"]) == ("Ada", "widget", "pass")


def test_cells_never_executed_are_not_a_pass(tmp_path: Path) -> None:
    run_dir = _lab_run(tmp_path)
    signed = [
        signoff_result(
            SignOffParams().item(i),
            make_record(
                SignOffParams().item(i),
                by="Ada",
                role="tech-lead",
                note="",
                source="widget",
                results=[],
            ),
        ).model_copy(update={"phase": "deploy"})
        for i in ["team-notified", "deployment-window", "rollback-plan"]
    ]
    _run_cells(run_dir, {3: [_output(HEALTH)], 4: [_output(r) for r in signed]}, executed=5)
    outcome = finish_run(run_dir, say=lambda _: None)
    execution = {r.id: r for r in outcome.phases[0].results}["runbook.deploy.execution"]
    assert execution.status is Status.INCONCLUSIVE and "never executed" in execution.explanation
    assert outcome.verdict is not None and outcome.verdict.value == "INCOMPLETE"


def test_finish_refuses_what_is_not_an_unfinished_lab_run(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "finish", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "not a lab run" in proc.stderr


def test_a_finished_run_refuses_later_saves(tmp_path: Path) -> None:
    from tornado.web import HTTPError

    from runbook.orchestration.lab_contents import SealedContentsManager

    run_dir = _lab_run(tmp_path)
    manager = SealedContentsManager(root_dir=str(run_dir))
    model = asyncio.run(manager.get("notebooks/03_deploy.ipynb"))
    asyncio.run(manager.save(model, "notebooks/03_deploy.ipynb"))  # unfinished: saved
    finish_run(run_dir, say=lambda _: None)
    with pytest.raises(HTTPError, match="finished"):
        asyncio.run(manager.save(model, "notebooks/03_deploy.ipynb"))
    assert verify(run_dir).ok


def test_the_finish_cell_wants_the_notebook_saved_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runbook.governance.signoff import HEADLESS_ENV, INTERACTIVE_ENV
    from runbook.orchestration.finish import UnsavedWork, finish_cell
    from runbook.orchestration.notebook import PhaseContext

    monkeypatch.delenv(HEADLESS_ENV, raising=False)
    monkeypatch.setenv(INTERACTIVE_ENV, "1")
    run_dir = _lab_run(tmp_path)
    ctx = PhaseContext("deploy", load("local").params, run_dir)
    ctx.results[HEALTH.id] = HEALTH  # recorded in the kernel, not yet saved
    with pytest.raises(UnsavedWork, match="save this notebook first"):
        finish_cell(ctx)
    assert not (run_dir / "manifest.json").exists()
    _run_cells(run_dir, {3: [_output(HEALTH)]})  # Ctrl+S
    outcome = finish_cell(ctx)
    assert outcome is not None and (run_dir / "manifest.json").is_file()
    assert verify(run_dir).ok


def test_a_deploy_run_although_an_earlier_phase_was_not_go_is_an_error(tmp_path: Path) -> None:
    loaded = load("local")
    phases = [ph.BY_NAME["environment"], ph.BY_NAME["deploy"]]
    run_dir = create_lab_run(
        tmp_path, ROOT, loaded.source, loaded.overrides, loaded.params, phases
    )  # the environment notebook is never run; the deploy one is, to the end
    _run_cells(run_dir, {3: [_output(HEALTH)]})
    outcome = finish_run(run_dir, say=lambda _: None)
    environment, deploy = outcome.phases
    assert environment.status == "skipped"
    order = {r.id: r for r in deploy.results}["runbook.deploy.order"]
    assert order.status is Status.ERROR and "environment (INCOMPLETE)" in order.explanation
    assert deploy.verdict.value == "NO-GO" and outcome.verdict is not None
    assert outcome.verdict.value == "NO-GO"
