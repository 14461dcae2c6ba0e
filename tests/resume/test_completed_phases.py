"""Which phases of a stopped run count as completed (and are reused): a notebook papermill
finished with every cell completed and no error, and, when the run has a manifest, recorded as
completed there. Notebooks written the way papermill writes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from runbook.orchestration.phase_plan import BY_NAME
from runbook.orchestration.resume import ResumeRefused, incomplete_reason, read_stopped

VERIFY = BY_NAME["verify"]


def write_run(
    run_dir: Path, *, statuses: tuple[str, ...] = ("completed", "completed"),
    end: bool = True, error: bool = False, manifest_status: str | None = None,
) -> Path:  # fmt: skip
    """A run directory with run.json and an executed verify notebook as papermill leaves it."""
    nb = nbformat.v4.new_notebook()
    for status in statuses:
        cell = nbformat.v4.new_code_cell("x = 1")
        cell.metadata["papermill"] = {"status": status}
        nb.cells.append(cell)
    if error:
        failure = nbformat.v4.new_output(
            "error", ename="TimeoutError", evalue="cell timed out", traceback=[]
        )
        nb.cells[-1].outputs = [failure]
    papermill: dict[str, Any] = {"exception": error, "duration": 4.2}
    papermill["end_time"] = "2026-12-06T16:00:00" if end else None
    nb.metadata["papermill"] = papermill
    (run_dir / "notebooks").mkdir(parents=True)
    nbformat.write(nb, run_dir / "notebooks" / VERIFY.notebook)
    (run_dir / "run.json").write_text(json.dumps({"run_id": run_dir.name,
                                                  "request": {"env": "local"}}))  # fmt: skip
    if manifest_status:
        manifest = {"phases": [{"name": "verify", "status": manifest_status}], "verdict": "X"}
        (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return run_dir


def test_a_notebook_papermill_finished_cleanly_is_completed(tmp_path: Path) -> None:
    assert incomplete_reason(read_stopped(write_run(tmp_path / "r")), VERIFY) is None


def test_a_notebook_cut_off_while_executing_is_not(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", statuses=("completed", "running", "pending"), end=False)
    assert "no end" in (incomplete_reason(read_stopped(run), VERIFY) or "")


def test_a_cell_that_timed_out_is_not(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", error=True)
    assert incomplete_reason(read_stopped(run), VERIFY) is not None


def test_the_manifest_saying_crashed_wins(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", manifest_status="crashed")
    assert "crashed" in (incomplete_reason(read_stopped(run), VERIFY) or "")


def test_a_phase_without_a_notebook_did_not_start(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r")
    assert "not started" in (incomplete_reason(read_stopped(run), BY_NAME["monitor"]) or "")


def test_an_unreadable_run_record_is_refused(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r")
    (run / "run.json").write_text("{")
    with pytest.raises(ResumeRefused, match="not a run record"):
        read_stopped(run)
