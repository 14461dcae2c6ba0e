"""Deploy, verify and performance together: a healthy release is GO with zero downtime; a
regressed release is NO-GO naming its regression."""

from __future__ import annotations

import base64
from pathlib import Path

from phase_runs import run_phases

PHASES = ("deploy", "verify", "performance")


def test_healthy_release_deploys_with_zero_downtime_and_is_go(tmp_path: Path) -> None:
    run = run_phases(tmp_path, *PHASES)
    assert run.proc.returncode == 0, run.failing()
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
    # the plots are in the notebooks and in the report
    report = (run.run_dir / "report.html").read_text()
    images = report.count("data:image/png;base64,")
    assert images >= 3  # deploy timeline, latency, error rate
    png = report.split("data:image/png;base64,")[1].split("'")[0]
    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"


def test_regressed_release_is_no_go_naming_the_regression(tmp_path: Path) -> None:
    run = run_phases(tmp_path, *PHASES, params=(
        "deploy.package.source_dir=samples/releases/release-1.1.0-regressed",))
    assert run.proc.returncode == 1
    failing = run.failing()
    assert "smoke.list-notifications" in failing
    assert "perf.p95.GET /api/v1/sandbox/slow" in failing
    assert run.manifest["verdict"] == "NO-GO"


def test_failed_zip_deploy_stops_before_the_swap(tmp_path: Path) -> None:
    run = run_phases(tmp_path, "deploy", params=("azure_standin.faults.fail_zip_deploy=true",))
    assert run.proc.returncode == 1
    r = run.results
    assert r["deploy.zip_deploy"]["status"] == "fail"
    assert "deploy.swap" not in r
