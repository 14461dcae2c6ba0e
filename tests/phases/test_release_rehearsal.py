"""The whole runbook, as `uv run runbook run --env local` runs it: a healthy release is GO with
zero downtime through all nine phases; a regressed release is ROLLBACK REQUIRED, rolled back
and verified, all in the evidence."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from phase_runs import Run, run_phases

from shared_runs import healthy_local_run


def test_healthy_release_is_go_through_every_phase_with_zero_downtime(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    run = Run(healthy_local_run(tmp_path_factory).completed())
    assert run.proc.returncode == 0, run.failing()
    assert [p["name"] for p in run.manifest["phases"]] == [
        "pre-deployment",
        "environment",
        "deploy",
        "verify",
        "performance",
        "monitor",
        "rollback",
        "post-deployment",
        "success-criteria",
    ]
    assert run.manifest["verdict"] == "GO"
    r = run.results
    zero = r["deploy.zero_downtime"]
    assert zero["status"] == "pass"
    records = zero["evidence"]["records"]
    assert len(records) > 10 and all(rec["ok"] for rec in records)
    assert zero["observed"]["versions"] == ["1.0.0", "1.1.0"]  # the swap happened under it
    assert r["deploy.swap"]["status"] == "pass"
    assert r["deploy.health.production"]["observed"]["version"] == "1.1.0"
    assert r["integration.jobs"]["status"] == "pass"
    assert r["perf.probe"]["status"] == "pass"
    assert r["rollback.decision"]["status"] == "pass"  # not required, nothing executed
    assert r["success.verdict"]["observed"] == "GO"
    assert r["signoff.team-notified"]["status"] == "pass"
    alert_rules = [v for k, v in r.items() if k.startswith("monitor.alert-rule.")]
    assert len(alert_rules) >= 7 and all(v["status"] == "pass" for v in alert_rules)
    assert r["celery.active_workers"]["status"] == "pass"
    # pre-deployment and environment ran side by side; performance ran alone
    spans = run.notebook_spans()
    assert spans["environment"][0] < spans["pre-deployment"][1]
    assert spans["pre-deployment"][0] < spans["environment"][1]
    perf = spans["performance"]
    assert all(
        end <= perf[0] or start >= perf[1]
        for name, (start, end) in spans.items()
        if name != "performance"
    )
    # the plots are in the notebooks and in the report
    report = (run.run_dir / "report.html").read_text()
    images = report.count("data:image/png;base64,")
    assert images >= 3  # deploy timeline, latency, error rate
    png = report.split("data:image/png;base64,")[1].split("'")[0]
    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"


def test_regressed_release_is_rolled_back_and_the_recovery_verified(tmp_path: Path) -> None:
    run = run_phases(
        tmp_path,
        params=(
            "deploy.package.source_dir=rehearsal/src/rehearsal/samples/releases/release-1.1.0-regressed",
        ),
    )
    assert run.proc.returncode == 1
    failing = run.failing()
    assert "smoke.list-notifications" in failing
    assert "perf.p95.GET /api/v1/sandbox/slow" in failing
    r = run.results
    assert r["rollback.decision"]["status"] == "fail"
    assert "Critical functionality broken" in r["rollback.decision"]["explanation"]
    for step in (
        "rollback.initiated",
        "rollback.previous_version_deployed",
        "rollback.health",
        "rollback.functionality_restored",
        "rollback.metrics_normal",
    ):
        assert r[step]["status"] == "pass", (step, r[step]["explanation"])
    assert r["rollback.verify.smoke.list-notifications"]["status"] == "pass"  # healthy again
    assert run.manifest["verdict"] == "ROLLBACK REQUIRED"
    assert run.proc.stdout.strip().splitlines()[-1].startswith("ROLLBACK REQUIRED: ")


def test_a_metric_source_returning_errors_is_incomplete_not_go(tmp_path: Path) -> None:
    run = run_phases(
        tmp_path,
        "monitor",
        params=("rehearsal.azure_standin.monitor.faults.metrics_error_status=503",),
    )
    assert run.proc.returncode == 1
    assert run.manifest["verdict"] == "INCOMPLETE"
    assert run.results["monitor.metrics.error-rate"]["status"] == "inconclusive"


def test_failed_zip_deploy_stops_before_the_swap(tmp_path: Path) -> None:
    run = run_phases(
        tmp_path, "deploy", params=("rehearsal.azure_standin.faults.fail_zip_deploy=true",)
    )
    assert run.proc.returncode == 1
    r = run.results
    assert r["deploy.zip_deploy"]["status"] == "fail"
    assert "deploy.swap" not in r
