"""Verdict rules and the check result's MIME round trip."""

from __future__ import annotations

import pytest

from runbook.core.checks import CHECK_MIME, CheckResult, Severity, Status
from runbook.core.verdict import Verdict, combine, judge


def result(status: Status, severity: Severity = Severity.BLOCKER, id: str = "x") -> CheckResult:
    return CheckResult(id=id, section="s", title="t", status=status, severity=severity)


def test_all_pass_is_go() -> None:
    assert judge([result(Status.PASS, id="a"), result(Status.SKIP, id="b")]).verdict is Verdict.GO


@pytest.mark.parametrize("status", [Status.FAIL, Status.ERROR])
def test_blocker_fail_or_error_is_no_go(status: Status) -> None:
    report = judge([result(Status.PASS, id="a"), result(status, id="b")])
    assert report.verdict is Verdict.NO_GO
    assert report.reasons[0].startswith("b:")


@pytest.mark.parametrize("status", [Status.PENDING_SIGN_OFF, Status.INCONCLUSIVE])
def test_unproven_blocker_is_incomplete_never_go(status: Status) -> None:
    report = judge([result(Status.PASS, id="a"), result(status, id="b")])
    assert report.verdict is Verdict.INCOMPLETE


def test_no_go_outranks_incomplete() -> None:
    report = judge([result(Status.PENDING_SIGN_OFF, id="a"), result(Status.FAIL, id="b")])
    assert report.verdict is Verdict.NO_GO


def test_warning_failure_does_not_block() -> None:
    report = judge([result(Status.PASS, id="a"), result(Status.FAIL, Severity.WARNING, id="w")])
    assert report.verdict is Verdict.GO
    assert report.counts == {"pass": 1, "fail": 1}


def test_no_results_is_incomplete() -> None:
    assert judge([]).verdict is Verdict.INCOMPLETE


def test_combine_takes_the_worst() -> None:
    assert combine([Verdict.GO, Verdict.INCOMPLETE]) is Verdict.INCOMPLETE
    assert combine([Verdict.INCOMPLETE, Verdict.NO_GO, Verdict.GO]) is Verdict.NO_GO
    assert combine([]) is Verdict.INCOMPLETE


def test_mime_bundle_round_trips() -> None:
    original = result(Status.FAIL, id="smoke.health").model_copy(
        update={"observed": {"status": 500}, "threshold": {"status": [200]}}
    )
    bundle = original._repr_mimebundle_()
    assert "FAIL" in bundle["text/plain"] and "smoke.health" in bundle["text/html"]
    payload = bundle[CHECK_MIME]
    assert payload["schema_version"] == 1
    assert CheckResult.from_payload(payload) == original


def test_unknown_schema_version_is_refused() -> None:
    payload = result(Status.PASS).to_payload() | {"schema_version": 99}
    with pytest.raises(ValueError, match="schema_version"):
        CheckResult.from_payload(payload)


def test_success_criteria_can_declare_rollback_required_but_never_hide_a_failure() -> None:
    from runbook.orchestration.phase_exec import declared_verdict as _declared_verdict

    declared = result(Status.FAIL, id="success.verdict").model_copy(
        update={"observed": {"verdict": "ROLLBACK REQUIRED"}}
    )
    assert _declared_verdict([declared]) is Verdict.ROLLBACK_REQUIRED
    bogus = declared.model_copy(update={"observed": {"verdict": "PROBABLY FINE"}})
    assert _declared_verdict([bogus]) is None
    assert _declared_verdict([result(Status.PASS)]) is None
    as_text = declared.model_copy(update={"observed": "ROLLBACK REQUIRED"})
    assert _declared_verdict([as_text]) is Verdict.ROLLBACK_REQUIRED
