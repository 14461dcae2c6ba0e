"""`runbook trends` and `runbook diff` on real runs of the rehearsal.

One module fixture makes three real runs into a temporary outputs folder (`runbook run`, as a
person types it):
1. release r1: the performance phase only (no deploy: its deploy duration is a gap);
2. release r2: deploy and performance, healthy;
3. release r2 again under a sandbox latency fault of 1100 ms on the slow route: its p95 fails,
   crosses the 1 s rollback line, the rollback phase swaps back, the verdict is ROLLBACK
   REQUIRED.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from runbook.orchestration.run_diff import (
    LoadedRun,
    normalise_text,
    parameter_changes,
)

SLOW = "GET /api/v1/sandbox/slow"
TOKEN = "sbx-history-test-token-not-to-be-shown"
FAULT = (
    "rehearsal.sandbox.faults.latency_ms=1100",
    f'rehearsal.sandbox.faults.latency_routes=["{SLOW}"]',
)


@dataclass
class Runs:
    outputs: Path
    ids: list[str]
    dirs: list[Path]


def _cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PIXCRAWLER_SANDBOX_TOKEN": TOKEN},
    )


def _run(outputs: Path, phases: list[str], params: list[str]) -> Path:
    args = ["run", "--env", "local", "--outputs", str(outputs)]
    for phase in phases:
        args += ["--phase", phase]
    for param in params:
        args += ["--param", param]
    proc = _cli(*args)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert ": " in last, proc.stdout + proc.stderr
    return Path(last.split(": ", 1)[1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    outputs = tmp_path_factory.mktemp("history") / "outputs"
    dirs = [
        _run(outputs, ["performance"], ["build_id=r1"]),
        _run(outputs, ["deploy", "performance"], ["build_id=r2"]),
    ]
    trends = _cli("trends", "--env", "local", "--outputs", str(outputs))  # before run 3
    assert trends.returncode == 0, trends.stdout + trends.stderr
    dirs.append(
        _run(
            outputs,
            ["deploy", "performance", "rollback", "success-criteria"],
            ["build_id=r2", *FAULT],
        )
    )
    verdicts = [json.loads((d / "manifest.json").read_text())["verdict"] for d in dirs]
    assert verdicts == ["GO", "GO", "ROLLBACK REQUIRED"], verdicts
    return Runs(outputs, [d.name for d in dirs], dirs)


def _page_data(page: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="trends-data">(.*?)</script>', page, re.S
    )
    assert found, "the page embeds its numbers"
    return json.loads(found.group(1).replace("<\\/", "</"))


# -- trends -----------------------------------------------------------------------------------


def test_trends_page_has_every_run_its_build_verdict_and_the_series_against_limits(
    runs: Runs, tmp_path: Path
) -> None:
    out = tmp_path / "trends.html"
    proc = _cli("trends", "--env", "local", "--outputs", str(runs.outputs), "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"trends of 3 run(s) of local: {out}" in proc.stdout
    page = out.read_text()
    data = _page_data(page)
    assert [r["run_id"] for r in data["runs"]] == runs.ids  # oldest first
    assert [r["build"].split(" ")[0] for r in data["runs"]] == ["r1", "r2", "r2"]
    assert [r["verdict"] for r in data["runs"]] == ["GO", "GO", "ROLLBACK REQUIRED"]
    for run_id, verdict in zip(runs.ids, ["GO", "GO", "ROLLBACK REQUIRED"], strict=True):
        row = re.search(rf"<tr class='run' data-run='{run_id}'>.*?</tr>", page, re.S)
        assert row and "class='build'>r" in row.group(0) and verdict in row.group(0)
    # releases: the first run, then the change r1 -> r2; the faulted r2 is no new release
    assert [r["release"] for r in data["runs"]] == [True, True, False]
    assert [bool(r["rollback"]) for r in data["runs"]] == [False, False, True]
    assert data["runs"][2]["rollback"].startswith("rolled back")

    slow = data["series"][f"p95:{SLOW}"]["points"]
    assert [p["limit"] for p in slow] == [200.0, 200.0, 200.0]  # performance.gates.p95_ms
    assert slow[0]["value"] < 200 and slow[1]["value"] < 200 and slow[2]["value"] > 1000
    errors = data["series"]["error_rate"]["points"]
    assert [p["limit"] for p in errors] == [0.01, 0.01, 0.01]
    assert all(p["value"] is not None for p in errors)

    deploy = data["series"]["deploy_duration_s"]["points"]
    assert deploy[0]["value"] is None and "deploy phase not in this run" in deploy[0]["gap"]
    assert deploy[1]["value"] > 0 and deploy[2]["value"] > 0
    assert "deploy phase not in this run" in page  # the gap is named under its figure
    assert all(sum(r["counts"].values()) > 0 for r in data["runs"])
    assert page.count("data:image/svg+xml;base64,") == len(data["series"]) + 1


def test_the_run_report_links_the_trends_page_once_it_exists(runs: Runs) -> None:
    assert (runs.outputs / "local" / "trends.html").is_file()
    first = (runs.dirs[0] / "report.html").read_text()
    assert "runbook trends --env local" in first and "../trends.html" not in first
    third = (runs.dirs[2] / "report.html").read_text()
    assert "<a href='../trends.html'>" in third


def test_trends_last_n_keeps_the_newest_runs(runs: Runs, tmp_path: Path) -> None:
    out = tmp_path / "last2.html"
    proc = _cli(
        "trends", "--env", "local", "--outputs", str(runs.outputs), "--last", "2", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [r["run_id"] for r in _page_data(out.read_text())["runs"]] == runs.ids[1:]


def test_trends_without_runs_says_so_and_fails(tmp_path: Path) -> None:
    proc = _cli("trends", "--env", "nowhere", "--outputs", str(tmp_path))
    assert proc.returncode == 1
    assert "no runs for environment 'nowhere'" in proc.stdout
    (tmp_path / "staging" / "20261206T000000000000Z-abcdef").mkdir(parents=True)
    proc = _cli("trends", "--env", "staging", "--outputs", str(tmp_path))
    assert proc.returncode == 1
    assert "no finished runs for environment 'staging'" in proc.stdout
    assert "unfinished (no manifest)" in proc.stdout


# -- diff -------------------------------------------------------------------------------------


def test_diff_names_status_changes_moved_values_parameters_and_signoffs(
    runs: Runs, tmp_path: Path
) -> None:
    html_out = tmp_path / "diff.html"
    proc = _cli(
        "diff", runs.ids[1], runs.ids[2], "--outputs", str(runs.outputs), "--html", str(html_out)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    assert f"{SLOW}: pass → fail" in text
    assert "perf.rollback_lines: pass → fail" in text
    assert "checks only in run B" in text and "rollback.initiated" in text
    moved = re.search(rf"  perf\.p95\.{re.escape(SLOW)} observed: ([\d.]+) → ([\d.]+)", text)
    assert moved and float(moved.group(1)) < 200 < 1000 < float(moved.group(2))
    judged = text.split(moved.group(0), 1)[1].splitlines()[1]
    assert judged.startswith("    judge: FAIL — ") and "98 % CI" in judged, judged
    assert "real regression" in judged
    assert "rehearsal.sandbox.faults.latency_ms: absent → 1100" in text
    assert "target.base_url" in text  # re-pointed local service, listed apart
    assert "build_id" not in text.split("parameters that differ")[1].split("sign-offs")[0]
    assert "signoff.team-notified: signed by rehearsal (tech-lead)" in text
    assert "rollback.signoff.notify_team: absent → pending-sign-off" in text
    page = html_out.read_text()
    assert f"<code>perf.p95.{SLOW}</code>" in page and "class='status-change'" in page
    assert "rehearsal.sandbox.faults.latency_ms" in page
    assert TOKEN not in text and TOKEN not in page


def test_diff_notebooks_show_content_changes_not_execution_noise(runs: Runs) -> None:
    a, b = runs.dirs[1], runs.dirs[2]
    deploy_a = json.loads((a / "notebooks" / "03_deploy.ipynb").read_text())
    deploy_b = json.loads((b / "notebooks" / "03_deploy.ipynb").read_text())
    assert deploy_a["metadata"]["papermill"] != deploy_b["metadata"]["papermill"]  # real noise
    proc = _cli("diff", str(a), str(b), "--notebooks")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout.split("\nnotebooks (", 1)[1]
    assert "03_deploy.ipynb: same content" in text
    assert "05_performance.ipynb: changed" in text
    assert f"-  [PASS] perf.p95.{SLOW}" in text and f"+  [FAIL] perf.p95.{SLOW}" in text
    assert "07_rollback.ipynb: changed" in text and "only in run B" in text
    for noise in ("execution_count", "papermill", "start_time", "127.0.0.1:"):
        assert noise not in text, noise


def test_diff_of_an_unknown_run_is_invalid_input(runs: Runs) -> None:
    proc = _cli(
        "diff", runs.ids[0], "20990101T000000000000Z-000000", "--outputs", str(runs.outputs)
    )
    assert proc.returncode == 2
    assert "is neither a run directory nor a run id" in proc.stdout


# -- the pieces -------------------------------------------------------------------------------


def _loaded(parameters: dict) -> LoadedRun:
    return LoadedRun(Path("."), {"run_id": "x", "parameters": parameters}, {}, [])


def test_parameters_differing_show_secret_references_only() -> None:
    changes = parameter_changes(
        _loaded({"target": {"token": {"env": "OLD_TOKEN"}, "base_url": "http://127.0.0.1:1"}}),
        _loaded({"target": {"token": {"env": "NEW_TOKEN"}, "base_url": "http://127.0.0.1:2"}}),
    )
    by_key = {c.key: c for c in changes}
    assert (by_key["target.token"].before, by_key["target.token"].after) == (
        "$OLD_TOKEN",
        "$NEW_TOKEN",
    )
    assert by_key["target.base_url"].repointed and not by_key["target.token"].repointed


def test_volatile_text_is_normalised() -> None:
    text = (
        "run 20261206T155218568617Z-e6c975 at 2026-12-06T15:52:18.5+00:00 on "
        "http://127.0.0.1:41185 in /tmp/x/y took 3.2 s (12.5 ms)"
    )
    assert normalise_text(text) == (
        "run <run-id> at <time> on http://127.0.0.1:<port> in <tmp> took <duration> (<duration>)"
    )
