"""The checklist view: each state computed from results by the catalogue's rules."""

from __future__ import annotations

from runbook.core.checklist.catalogue import CatalogueBox
from runbook.core.checklist.view import BoxState, ChecklistView, box_view, compare_views
from runbook.core.checks import CheckResult, Status


def result(rid: str, status: Status, phase: str = "verify", **extra) -> CheckResult:
    return CheckResult(id=rid, section="s", title=rid, status=status, phase=phase, **extra)


def box(**mapping) -> CatalogueBox:
    return CatalogueBox(id="steps-1.2/example", section="S › T", text="Example box", **mapping)


def test_all_mapped_checks_passing_prove_the_box_and_link_each() -> None:
    view = box_view(
        box(checks=["smoke.health", "perf.p95.*"]),
        [
            result("smoke.health", Status.PASS),
            result("perf.p95.GET /a", Status.PASS, "performance"),
            result("perf.p95.GET /b", Status.PASS, "performance"),
        ],
        "local",
    )
    assert view.state is BoxState.PROVED
    assert [(e.id, e.phase) for e in view.evidence] == [
        ("smoke.health", "verify"),
        ("perf.p95.GET /a", "performance"),
        ("perf.p95.GET /b", "performance"),
    ]


def test_one_failing_or_erroring_check_fails_the_box() -> None:
    for bad in (Status.FAIL, Status.ERROR):
        view = box_view(
            box(checks=["perf.p95.*"]),
            [
                result("perf.p95.GET /a", Status.PASS),
                result("perf.p95.GET /b", bad, explanation="p95 340 ms"),
            ],
            "local",
        )
        assert view.state is BoxState.FAILED and "p95 340 ms" in view.reason


def test_skipped_inconclusive_warned_or_partly_absent_is_not_proved() -> None:
    for status in (Status.SKIP, Status.INCONCLUSIVE, Status.WARN):
        view = box_view(box(checks=["a"]), [result("a", status)], "local")
        assert view.state is BoxState.NOT_PROVED
    view = box_view(box(checks=["a", "b"]), [result("a", Status.PASS)], "local")
    assert view.state is BoxState.NOT_PROVED and "b did not run" in view.reason
    view = box_view(box(checks=["a", "b"]), [result("c", Status.PASS)], "local")
    assert view.state is BoxState.NOT_RUN


def test_signoff_states_say_who_signed() -> None:
    signed = result(
        "signoff.team-notified",
        Status.PASS,
        "deploy",
        observed={"by": "Ada", "role": "tech-lead", "source": "parameters"},
    )
    view = box_view(box(signoff=["signoff.team-notified"]), [signed], "production")
    assert view.state is BoxState.SIGNED and view.signed_by == ["Ada (tech-lead)"]
    pending = result("signoff.team-notified", Status.PENDING_SIGN_OFF, "deploy")
    assert (
        box_view(box(signoff=["signoff.team-notified"]), [pending], "production").state
        is BoxState.PENDING
    )
    assert (
        box_view(box(signoff=["signoff.team-notified"]), [], "production").state is BoxState.NOT_RUN
    )
    # checks and a sign-off: the checks must hold too
    both = box(checks=["deploy.record"], signoff=["signoff.team-notified"])
    assert (
        box_view(both, [signed, result("deploy.record", Status.FAIL)], "production").state
        is BoxState.FAILED
    )
    assert (
        box_view(both, [signed, result("deploy.record", Status.PASS)], "production").state
        is BoxState.SIGNED
    )


def test_unproved_is_visible_and_partial_evidence_can_still_fail_it() -> None:
    mapping = box(unproved="no check reads the pool", checks=["redis.connection"])
    view = box_view(mapping, [result("redis.connection", Status.PASS)], "local")
    assert view.state is BoxState.UNPROVED and "partial evidence" in view.reason
    assert (
        box_view(mapping, [result("redis.connection", Status.FAIL)], "local").state
        is BoxState.FAILED
    )


def test_not_applicable_by_environment_and_per_environment_mappings() -> None:
    mapped = box(
        checks=["deploy.zip_deploy"],
        not_applicable={"environments": ["staging"], "reason": "Phase 1 box"},
        environments={"development": {"checks": ["deploy.start"]}},
    )
    assert box_view(mapped, [], "staging").state is BoxState.NOT_APPLICABLE
    dev = box_view(mapped, [result("deploy.start", Status.PASS, "deploy")], "development")
    assert dev.state is BoxState.PROVED and dev.checks == ["deploy.start"]
    local = box_view(mapped, [result("deploy.start", Status.PASS, "deploy")], "local")
    assert local.state is BoxState.NOT_RUN


def test_rollback_steps_apply_only_when_a_rollback_was_required() -> None:
    step = box(
        checks=["rollback.initiated"],
        only_when={"id": "rollback.decision", "status": ["fail"], "reason": "no rollback"},
    )
    calm = [result("rollback.decision", Status.PASS), result("rollback.initiated", Status.SKIP)]
    assert box_view(step, calm, "local").state is BoxState.NOT_APPLICABLE
    storm = [result("rollback.decision", Status.FAIL), result("rollback.initiated", Status.SKIP)]
    assert box_view(step, storm, "local").state is BoxState.NOT_PROVED


def test_counts_coverage_line_manifest_round_trip_and_comparison() -> None:
    from runbook.core.checklist import checklist_view

    results = [result("smoke.health", Status.PASS)]
    view = checklist_view(results, "local")
    data = view.to_manifest()
    assert data["total"] == len(view.boxes) == 193 == sum(data["counts"].values())
    assert data["coverage"].startswith("193 boxes: ")
    again = ChecklistView.from_manifest(data)
    assert again.counts == view.counts
    worse = checklist_view([result("smoke.health", Status.FAIL)], "local")
    changed = {c.id: (c.old, c.new) for c in compare_views(view, worse)}
    assert changed["steps-1.2/health-endpoint-responds-get-health"] == ("proved", "failed")
