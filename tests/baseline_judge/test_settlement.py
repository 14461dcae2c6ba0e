"""Inconclusive goes to a person: a blocker that ends INCONCLUSIVE is settled by a sign-off
naming the check and the sha256 of its evidence; without one the verdict stays INCOMPLETE; a
settlement whose hash, role or check does not fit is refused and recorded. Applied where a phase
is judged (`phase_exec.judge_phase`, reading a saved notebook) and by `runbook rejudge` on a
finished run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from pydantic import ValidationError

from runbook.core import evidence as ev
from runbook.core.checks import CHECK_MIME, CheckResult, Severity, Status
from runbook.core.verdict import Verdict, judge
from runbook.governance.rejudge import rejudge
from runbook.governance.settlement import (
    KEY,
    REFUSED_KEY,
    SettlementEntry,
    SettlementParams,
    apply_settlements,
    evidence_sha256,
    is_settled,
    unsettled,
)
from runbook.orchestration import phase_plan as ph
from runbook.orchestration.phase_exec import judge_phase

CHECK = "post.baseline.degradation"


def inconclusive(check_id: str = CHECK) -> CheckResult:
    return CheckResult(
        id=check_id, section="Post-Deployment Tasks §4", title="no degradation > 20 %",
        status=Status.INCONCLUSIVE, phase="post-deployment", observed={"p95_ms": 0.24},
        explanation="perhaps degraded, a person decides: p95 +24 %, 98 % CI +12 to +31 %",
        evidence={"judge": {"ci": [0.12, 0.31]}},
    )  # fmt: skip


def passed(check_id: str = "post.baseline.documented") -> CheckResult:
    return CheckResult(id=check_id, section="§4", title="documented", status=Status.PASS,
                       phase="post-deployment")  # fmt: skip


def settlement(result: CheckResult, *, by: str = "Ada Lovelace", role: str = "tech-lead",
               digest: str | None = None) -> SettlementParams:  # fmt: skip
    return SettlementParams(settled=[SettlementEntry(
        check=result.id, evidence_sha256=digest or evidence_sha256(result), by=by, role=role,
        note="p95 rose with the new thumbnail size; accepted for this release",
    )])  # fmt: skip


def test_without_a_settlement_the_inconclusive_blocker_keeps_the_run_incomplete() -> None:
    results = [passed(), inconclusive()]
    assert judge(results).verdict is Verdict.INCOMPLETE
    assert unsettled(results) == [(CHECK, evidence_sha256(results[1]))]


def test_a_settlement_naming_the_check_and_its_hash_settles_it() -> None:
    result = inconclusive()
    settled = apply_settlements([passed(), result], settlement(result))
    report = judge(settled)
    assert report.verdict is Verdict.GO
    check = settled[1]
    assert check.status is Status.INCONCLUSIVE  # the check itself could not decide
    assert is_settled(check) and not unsettled(settled)
    assert "settled by Ada Lovelace (tech-lead) via parameters against evidence " in (
        check.explanation
    )
    record = check.evidence[KEY]["signoff"]
    assert record["by"] == "Ada Lovelace" and record["evidence_sha256"] == evidence_sha256(result)
    assert report.settled and report.settled[0].startswith(f"{CHECK}: perhaps degraded")
    # the hash of a settled result is still the hash the person named
    assert evidence_sha256(check) == evidence_sha256(result)


def test_a_settlement_whose_hash_is_not_the_evidence_is_refused_and_recorded() -> None:
    result = inconclusive()
    changed = result.model_copy(update={"observed": {"p95_ms": 0.4}})  # other evidence
    settled = apply_settlements([changed], settlement(result))
    assert judge(settled).verdict is Verdict.INCOMPLETE
    refusal = settled[0].evidence[REFUSED_KEY][0]
    assert "the evidence changed since it was looked at" in refusal["why"]
    assert refusal["signoff"]["by"] == "Ada Lovelace" and not is_settled(settled[0])


def test_editing_a_settled_result_unsettles_it() -> None:
    result = inconclusive()
    settled = apply_settlements([result], settlement(result))[0]
    forged = settled.model_copy(update={"observed": {"p95_ms": 0.9}})
    assert not is_settled(forged) and judge([forged]).verdict is Verdict.INCOMPLETE


def test_a_role_that_may_not_settle_is_refused_when_parameters_are_read() -> None:
    with pytest.raises(ValidationError, match="role 'development-team' may not settle"):
        settlement(inconclusive(), role="development-team")


def test_only_an_inconclusive_blocker_can_be_settled() -> None:
    failed = inconclusive().model_copy(update={"status": Status.FAIL})
    settled = apply_settlements([failed], settlement(failed))
    assert judge(settled).verdict is Verdict.NO_GO
    assert "only an inconclusive blocker" in settled[0].evidence[REFUSED_KEY][0]["why"]
    warning = inconclusive().model_copy(update={"severity": Severity.WARNING})
    assert not is_settled(apply_settlements([warning], settlement(warning))[0])


def test_a_phase_judged_from_its_saved_notebook_honours_the_settlement(tmp_path: Path) -> None:
    """The orchestrator's own path: results read back from an executed notebook's outputs."""
    results = [passed(), inconclusive()]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("ctx.check(...)", outputs=[
        nbformat.v4.new_output("display_data", data={CHECK_MIME: r.to_payload(),
                                                     "text/plain": r.summary_line()})
        for r in results
    ])]  # fmt: skip
    out = tmp_path / "08_post_deployment.ipynb"
    nbformat.write(nb, out)
    phase = ph.BY_NAME["post-deployment"]
    recorded = ev.results_from_notebook(out)[1]
    assert judge_phase(phase, out, "completed", None, 0.0).verdict is Verdict.INCOMPLETE
    outcome = judge_phase(phase, out, "completed", None, 0.0, settlement(recorded))
    assert outcome.verdict is Verdict.GO
    assert is_settled(next(r for r in outcome.results if r.id == CHECK))
    wrong = settlement(recorded, digest="0" * 64)
    assert judge_phase(phase, out, "completed", None, 0.0, wrong).verdict is Verdict.INCOMPLETE


def finished_run(env_dir: Path, results: list[CheckResult]) -> Path:
    """A finished run directory whose manifest records these results and valid parameters."""
    run_id, run_dir = ev.new_run_dir(env_dir)
    (run_dir / "report.html").write_text("<html>INCOMPLETE</html>")
    ev.write_manifest(run_dir, {
        "run_id": run_id, "environment": "local", "verdict": "INCOMPLETE",
        "started_at": datetime.now(UTC).isoformat(), "finished_at": datetime.now(UTC).isoformat(),
        "parameters": {"environment": "local",
                       "target": {"name": "t", "base_url": "http://127.0.0.1:9",
                                  "token": {"env": "NO_SUCH_TOKEN"}}},
        "phases": [{"name": "post-deployment", "status": "completed", "verdict": "INCOMPLETE"}],
        "results": [r.to_payload() for r in results],
    })  # fmt: skip
    return run_dir


def test_rejudge_settles_a_finished_run_headless_and_names_what_waits(tmp_path: Path) -> None:
    run_dir = finished_run(tmp_path / "local", [passed(), inconclusive()])
    manifest_before = (run_dir / ev.MANIFEST).read_bytes()
    waiting = rejudge(run_dir, [])
    assert waiting.new_verdict == "INCOMPLETE"
    recorded = CheckResult.from_payload(json.loads(manifest_before)["results"][1])
    digest = evidence_sha256(recorded)
    assert any(f"evidence_sha256: {digest}" in n and CHECK in n for n in waiting.notes)

    entry = (f"settlement.settled=[{{check: {CHECK}, evidence_sha256: {digest}, "
             "by: Ada Lovelace, role: engineering-manager, note: accepted}]")  # fmt: skip
    report = rejudge(run_dir, [entry])
    assert (report.old_verdict, report.new_verdict) == ("INCOMPLETE", "GO")
    assert any(n.startswith(f"{CHECK} settled by Ada Lovelace") for n in report.notes)
    assert (run_dir / ev.MANIFEST).read_bytes() == manifest_before  # the run is untouched

    refused = rejudge(run_dir, [entry.replace(digest, "f" * 64)])
    assert refused.new_verdict == "INCOMPLETE"
    assert any("refused" in n and "evidence changed" in n for n in refused.notes)


def test_in_jupyterlab_the_sign_off_form_settles_the_inconclusive_blocker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interactive path: `settle_inconclusive` shows the existing sign-off widget for each
    unsettled blocker; clicking Sign binds the record to that result's hash and settles it."""
    from runbook.core.parameters import load
    from runbook.governance.settlement import settle_inconclusive
    from runbook.governance.signoff import HEADLESS_ENV
    from runbook.orchestration.notebook import PhaseContext

    monkeypatch.delenv(HEADLESS_ENV, raising=False)
    ctx = PhaseContext("post-deployment", load("local").params, tmp_path)
    for result in (passed(), inconclusive()):
        ctx.results[result.id] = result
    digest = evidence_sha256(ctx.results[CHECK])
    widgets = settle_inconclusive(ctx, {})
    assert len(widgets) == 1 and judge(ctx.results.values()).verdict is Verdict.INCOMPLETE
    form = widgets[0]
    form.who.value, form.role.value = "Grace Hopper", "engineering-manager"
    form.note.value = "the p95 rise is the new thumbnail size"
    form.button.click()
    settled = ctx.results[CHECK]
    assert is_settled(settled) and judge(ctx.results.values()).verdict is Verdict.GO
    record = settled.evidence[KEY]["signoff"]
    assert (record["by"], record["source"], record["evidence_sha256"]) == (
        "Grace Hopper", "widget", digest,
    )  # fmt: skip
    assert "settled by Grace Hopper (engineering-manager) via widget" in settled.explanation
