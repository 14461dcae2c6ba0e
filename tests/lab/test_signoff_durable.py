"""Durable sign-offs: the widget writes its record to the run directory the moment it is given;
a re-executed cell (or a new kernel) shows that signature locked, not a blank form; the guard
checks every required item of its phase (also when the sign-off cell never ran) and passes
cleanly once signed; `runbook lab` kernels are interactive although their params are injected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook.core.checks import Status
from runbook.core.parameters import load
from runbook.governance.signoff import (
    HEADLESS_ENV,
    INTERACTIVE_ENV,
    SignOffParams,
    SignOffPending,
    is_headless,
    load_record,
    signoff_cell,
    signoff_phase,
    stop_if_pending,
)
from runbook.orchestration.notebook import PhaseContext

INJECTED = {"environment": "local"}  # what papermill injects in a lab notebook too


@pytest.fixture
def lab_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HEADLESS_ENV, raising=False)
    monkeypatch.setenv(INTERACTIVE_ENV, "1")


def _ctx(run_dir: Path) -> PhaseContext:
    return PhaseContext("deploy", load("local").params, run_dir)


def test_lab_kernels_are_interactive_and_runbook_run_is_headless(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(HEADLESS_ENV, raising=False)
    monkeypatch.delenv(INTERACTIVE_ENV, raising=False)
    assert is_headless(INJECTED) and not is_headless({})
    monkeypatch.setenv(INTERACTIVE_ENV, "1")
    assert not is_headless(INJECTED)
    monkeypatch.setenv(HEADLESS_ENV, "1")
    assert is_headless({})


@pytest.mark.usefixtures("lab_kernel")
def test_a_widget_signature_is_written_at_once_and_shown_again(tmp_path: Path) -> None:
    settings = SignOffParams()
    cell = signoff_cell(_ctx(tmp_path), "team-notified", INJECTED, settings)
    assert cell.widget is not None and cell.result.status is Status.PENDING_SIGN_OFF
    assert not (tmp_path / "signoffs").exists()
    cell.widget.who.value, cell.widget.note.value = "Ada", "announced in #deploys"
    cell.widget.button.click()
    saved = json.loads((tmp_path / "signoffs" / "team-notified.json").read_text())
    assert (saved["by"], saved["role"], saved["note"], saved["source"]) == (
        "Ada",
        "tech-lead",
        "announced in #deploys",
        "widget",
    )
    assert len(saved["evidence_sha256"]) == 64 and saved["at"]
    # the cell executed again, in a new kernel after the old one died: the signature, locked
    again = _ctx(tmp_path)
    shown = signoff_cell(again, "team-notified", INJECTED, settings)
    assert shown.widget is not None
    assert again.results["signoff.team-notified"].status is Status.PASS
    assert shown.widget.who.value == "Ada" and shown.widget.who.disabled
    assert shown.widget.button.disabled
    assert "Already signed" in shown.widget.message.value
    # a second signature of the same item (another tab) does not replace the first
    other = signoff_cell(_ctx(tmp_path), "deployment-window", INJECTED, settings).widget
    assert other is not None
    record = load_record(tmp_path, "team-notified")
    assert record is not None and record.by == "Ada"


@pytest.mark.usefixtures("lab_kernel")
def test_the_guard_fails_closed_and_passes_cleanly_after_signing(tmp_path: Path) -> None:
    settings = SignOffParams()
    skipped_cell = _ctx(tmp_path)  # the sign-off cell never ran in this kernel
    with pytest.raises(SignOffPending, match=r"signoff\.team-notified"):
        stop_if_pending(skipped_cell)
    ctx = _ctx(tmp_path)
    cells = signoff_phase(ctx, INJECTED, settings)
    with pytest.raises(SignOffPending, match="sign in the sign-off cell above"):
        stop_if_pending(ctx)
    for cell in cells:
        assert cell.widget is not None
        cell.widget.who.value = "Grace"
        cell.widget.button.click()
    stop_if_pending(ctx)  # the guard run again: passes, nothing raised
    # a kernel that never ran the sign-off cell finds the durable signatures
    fresh = _ctx(tmp_path)
    stop_if_pending(fresh)
    assert fresh.results["signoff.rollback-plan"].status is Status.PASS


@pytest.mark.usefixtures("lab_kernel")
def test_a_sign_off_that_cannot_be_recorded_is_not_given(tmp_path: Path) -> None:
    (tmp_path / "signoffs").write_text("a file where the folder should be")
    cell = signoff_cell(_ctx(tmp_path), "rollback-plan", INJECTED, SignOffParams())
    assert cell.widget is not None
    cell.widget.who.value = "Ada"
    cell.widget.button.click()
    assert "could not record the sign-off" in cell.widget.message.value
    assert cell.result.status is Status.PENDING_SIGN_OFF and not cell.widget.button.disabled
