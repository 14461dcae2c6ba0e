"""Sign-offs: headless from parameters and from a CI variable (PASS, source recorded, bound to
the evidence so far), missing -> PENDING_SIGN_OFF (a required one makes the verdict
INCOMPLETE), and the widget: in-process by clicking Sign, and in a real kernel, where the click
replaces the cell's pending output with the signed result saved in the notebook."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest
from governance_support import ROOT
from nbclient import NotebookClient
from pydantic import ValidationError

from runbook.core.checks import CHECK_MIME, CheckResult, Severity, Status
from runbook.core.evidence import results_from_notebook
from runbook.core.parameters import load, public_dump
from runbook.core.verdict import Verdict, judge
from runbook.governance.signoff import (
    HEADLESS_ENV,
    INTERACTIVE_ENV,
    SignOffParams,
    evidence_digest,
    evidence_matches,
    signoff_cell,
    signoff_phase,
)
from runbook.orchestration.notebook import PhaseContext

PRIOR = CheckResult(id="deploy.health.staging", section="§3.2", title="healthy", status=Status.PASS)


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PhaseContext:
    monkeypatch.delenv(HEADLESS_ENV, raising=False)
    context = PhaseContext("deploy", load("local").params, tmp_path)
    context.results[PRIOR.id] = PRIOR.model_copy(update={"phase": "deploy"})
    return context


HEADLESS = {"environment": "local"}  # any non-empty injected params: papermill ran the cell


def test_headless_signoff_from_parameters_passes_with_its_source(ctx: PhaseContext) -> None:
    settings = SignOffParams.model_validate(
        {
            "signed": {
                "team-notified": {
                    "by": "Ada Lovelace",
                    "role": "tech-lead",
                    "note": "announced in #deploys",
                }
            }
        }
    )
    cell = signoff_cell(ctx, "team-notified", HEADLESS, settings)
    result = ctx.results["signoff.team-notified"]
    assert cell.result is result and result.status is Status.PASS and result.phase == "deploy"
    record = result.evidence["signoff"]
    assert (record["by"], record["role"], record["source"]) == (
        "Ada Lovelace",
        "tech-lead",
        "parameters",
    )
    assert record["evidence_sha256"] == evidence_digest([ctx.results[PRIOR.id]])[0]
    from runbook.governance.signoff import SignOff

    assert evidence_matches(SignOff.model_validate(record), ctx.results.values())


def test_headless_signoff_from_a_ci_variable(
    ctx: PhaseContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = SignOffParams.model_validate(
        {
            "ci": {
                "system": "github",
                "approver_env": "GOV_TEST_APPROVER",
                "role": "engineering-manager",
                "items": ["deployment-window", "rollback-plan"],
                "context_env": ["GOV_TEST_RUN_ID"],
            }
        }
    )
    signoff_cell(ctx, "deployment-window", HEADLESS, settings)
    assert ctx.results["signoff.deployment-window"].status is Status.PENDING_SIGN_OFF
    monkeypatch.setenv("GOV_TEST_APPROVER", "octocat")
    monkeypatch.setenv("GOV_TEST_RUN_ID", "4242")
    signoff_cell(ctx, "deployment-window", HEADLESS, settings)
    result = ctx.results["signoff.deployment-window"]
    assert result.status is Status.PASS
    assert result.observed == {
        "by": "octocat",
        "role": "engineering-manager",
        "source": "ci:github",
    }
    assert result.evidence["signoff"]["context"] == {"GOV_TEST_RUN_ID": "4242"}


def test_missing_signoffs_are_pending_and_required_ones_block(ctx: PhaseContext) -> None:
    cells = signoff_phase(ctx, HEADLESS, SignOffParams())
    assert {c.item.id for c in cells} == {"team-notified", "deployment-window", "rollback-plan"}
    assert all(c.result.status is Status.PENDING_SIGN_OFF for c in cells)
    assert all(c.widget is None for c in cells)
    assert judge(ctx.results.values()).verdict is Verdict.INCOMPLETE
    optional = SignOffParams().item("lessons-learned")
    assert not optional.required
    lone = signoff_cell(ctx, optional, HEADLESS, SignOffParams()).result
    assert lone.severity is Severity.WARNING
    assert judge([PRIOR, lone]).verdict is Verdict.GO


def test_signoff_parameters_are_validated() -> None:
    with pytest.raises(ValidationError, match="may not sign"):
        SignOffParams.model_validate({"signed": {"team-notified": {"by": "x", "role": "intern"}}})
    with pytest.raises(ValidationError, match="no such item"):
        SignOffParams.model_validate({"signed": {"typo": {"by": "x", "role": "tech-lead"}}})
    with pytest.raises(ValidationError):
        SignOffParams.model_validate(
            {"ci": {"approver_env": "not a name", "role": "tech-lead", "items": ["team-notified"]}}
        )


def test_the_widget_signs_when_its_button_is_clicked(ctx: PhaseContext) -> None:
    cell = signoff_cell(ctx, "rollback-plan", {}, SignOffParams())
    widget = cell.widget
    assert widget is not None
    assert ctx.results["signoff.rollback-plan"].status is Status.PENDING_SIGN_OFF
    widget.button.click()  # nobody named: refused, still pending
    assert ctx.results["signoff.rollback-plan"].status is Status.PENDING_SIGN_OFF
    later = CheckResult(
        id="deploy.swap", section="§3.2", title="swap", status=Status.PASS, phase="deploy"
    )
    ctx.results[later.id] = later
    widget.who.value, widget.role.value = "Grace Hopper", "engineering-manager"
    widget.note.value = "swap-back rehearsed"
    widget.button.click()
    result = ctx.results["signoff.rollback-plan"]
    assert result.status is Status.PASS and cell.result is result
    record = result.evidence["signoff"]
    assert (record["by"], record["source"]) == ("Grace Hopper", "widget")
    assert record["evidence_ids"] == ["deploy.health.staging", "deploy.swap"]
    assert widget.button.disabled


NOTEBOOK_CELLS = [
    ('env = "local"\nparams = {}\nrun_dir = ""\nsettings = {}', ["parameters"]),
    (
        "from runbook.orchestration import notebook\nfrom runbook.governance import signoff\n"
        "from runbook.core.checks import CheckResult, Status\n"
        "ctx = notebook.start('deploy', env, params, run_dir)\n"
        "ctx.check(CheckResult(id='deploy.health.staging', section='§3.2', title='healthy', "
        "status=Status.PASS))",
        [],
    ),
    (
        "cell = signoff.signoff_cell(ctx, 'team-notified', params, "
        "signoff.SignOffParams.model_validate(settings))\ncell",
        [],
    ),
    (
        "if cell.widget is not None:\n    w = cell.widget\n    w.who.value = 'Ada'\n"
        "    w.role.value = 'tech-lead'\n    w.button.click()",
        [],
    ),
]


def _notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    for source, tags in NOTEBOOK_CELLS:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def test_in_a_kernel_the_click_replaces_the_pending_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(HEADLESS_ENV, raising=False)
    monkeypatch.setenv(INTERACTIVE_ENV, "1")  # a `runbook lab` kernel (inherits it)
    path = _notebook(tmp_path / "signoff.ipynb")
    nb = nbformat.read(path, as_version=4)
    first = f'env = "local"\nparams = {{}}\nrun_dir = {str(tmp_path)!r}\nsettings = {{}}'
    nb.cells[0].source = first
    NotebookClient(
        nb, kernel_name="python3", timeout=60, resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    nbformat.write(nb, tmp_path / "executed.ipynb")
    results = {r.id: r for r in results_from_notebook(tmp_path / "executed.ipynb")}
    signed = results["signoff.team-notified"]
    assert signed.status is Status.PASS and signed.phase == "deploy"
    assert signed.evidence["signoff"]["source"] == "widget"
    assert signed.evidence["signoff"]["evidence_ids"] == ["deploy.health.staging"]
    # the signed result replaced the pending one in the sign-off cell itself
    payloads = [
        o["data"][CHECK_MIME] for o in nb.cells[2].outputs if CHECK_MIME in o.get("data", {})
    ]
    assert [p["status"] for p in payloads] == ["pass"]
    assert not any(CHECK_MIME in o.get("data", {}) for o in nb.cells[3].outputs)


def test_under_papermill_the_cell_is_headless(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOV_TEST_APPROVER", "octocat")  # inherited by the kernel
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        str(_notebook(tmp_path / "signoff.ipynb")),
        str(out),
        kernel_name="python3",
        parameters={
            "env": "local",
            "params": public_dump(load("local").params),
            "run_dir": str(tmp_path),
            "settings": {
                "ci": {
                    "approver_env": "GOV_TEST_APPROVER",
                    "role": "tech-lead",
                    "items": ["team-notified"],
                }
            },
        },
        progress_bar=False,
        cwd=str(ROOT),
        execution_timeout=60,
    )
    results = {r.id: r for r in results_from_notebook(out)}
    assert results["signoff.team-notified"].status is Status.PASS
    assert results["signoff.team-notified"].observed["source"] == "ci:github"
