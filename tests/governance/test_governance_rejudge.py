"""Re-judging a real saved run from its raw samples: a stricter p95 flips GO to NO-GO, fewer
zero-downtime requests than required makes it INCOMPLETE; the run directory never changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from governance_support import copy_env

from runbook.core import evidence as ev
from runbook.core.parameters import ParameterError
from runbook.governance.rejudge import RejudgeError, rejudge, save_rejudge


def test_without_overrides_the_recorded_verdict_is_reproduced(real_run) -> None:
    report = rejudge(real_run.run_dir, [])
    assert report.old_verdict == report.recomputed_verdict == report.new_verdict == "GO"
    assert not [c for c in report.checks if c.changed]


def test_a_stricter_p95_flips_the_verdict_without_touching_the_run(real_run, tmp_path) -> None:
    before = ev.hash_tree(real_run.run_dir)
    manifest_before = (real_run.run_dir / ev.MANIFEST).read_bytes()
    report = rejudge(real_run.run_dir, ["performance.gates.p95_ms=0.01"])
    assert (report.old_verdict, report.new_verdict) == ("GO", "NO-GO")
    changed = {c.id: (c.old_status, c.new_status) for c in report.checks if c.changed}
    p95 = [k for k in changed if k.startswith("perf.p95.")]
    assert p95 and all(changed[k] == ("pass", "fail") for k in p95)
    assert set(changed) == set(p95)  # every other result keeps its recorded status
    assert report.phases["performance"] == {"old": "GO", "new": "NO-GO"}
    assert report.phases["verify"] == {"old": "GO", "new": "GO"}
    # nothing in the run directory changed, and it still verifies
    assert ev.hash_tree(real_run.run_dir) == before
    assert (real_run.run_dir / ev.MANIFEST).read_bytes() == manifest_before
    assert ev.verify(real_run.run_dir).ok
    saved = save_rejudge(report, tmp_path / "rejudge-1")
    assert saved.is_file() and '"new_verdict": "NO-GO"' in saved.read_text()
    with pytest.raises(RejudgeError):
        save_rejudge(report, real_run.run_dir / "rejudge-1")


def test_zero_downtime_records_are_rejudged(real_run) -> None:
    requests = next(
        c for c in rejudge(real_run.run_dir, []).checks if c.id == "deploy.zero_downtime"
    ).old_observed["requests"]
    report = rejudge(real_run.run_dir, [f"deploy.probe.min_requests={requests + 1}"])
    change = next(c for c in report.checks if c.id == "deploy.zero_downtime")
    assert (change.old_status, change.new_status) == ("pass", "inconclusive")
    assert (report.old_verdict, report.new_verdict) == ("GO", "INCOMPLETE")


def test_altered_runs_and_bad_overrides_are_refused(real_run, tmp_path: Path) -> None:
    with pytest.raises(ParameterError):
        rejudge(real_run.run_dir, ["performance.gates.p95_ms=fast"])
    report = rejudge(real_run.run_dir, ["target.timeout_s=1"])
    assert report.new_verdict == "GO" and any("target.timeout_s" in n for n in report.notes)
    env_copy = copy_env(real_run.run_dir.parent, tmp_path)
    run_copy = env_copy / real_run.run_dir.name
    assert rejudge(run_copy, []).new_verdict == "GO"
    samples = run_copy / "evidence" / "performance" / "load-samples.csv.gz"
    shutil.copy(samples, samples.with_suffix(".bak"))
    with pytest.raises(RejudgeError, match=r"added: evidence/performance/load-samples\.csv\.bak"):
        rejudge(run_copy, [])
