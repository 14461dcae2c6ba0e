"""`runbook summary`: run directories of several targets (each written by the evidence code,
then copied away from its chain as a CI artifact would be) merged into one verdict."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from runbook.core import evidence as ev
from runbook.core.verdict import Verdict
from runbook.orchestration.fleet import html_page, markdown, summarize, text_lines

ROOT = Path(__file__).resolve().parents[2]


def _run(outputs: Path, env: str, target: str, verdict: str, failing: str | None = None) -> Path:
    """A finished run: a notebook, a report, a manifest hashing them and its chain line."""
    run_id, run_dir = ev.new_run_dir(outputs / env)
    (run_dir / "notebooks").mkdir()
    (run_dir / "notebooks" / "04_verify.ipynb").write_text('{"cells": []}\n')
    (run_dir / "report.html").write_text(f"<h1>{verdict}</h1>\n")
    results = [{"id": "smoke.health", "status": "pass", "severity": "blocker"}]
    if failing:
        results.append({"id": failing, "status": "fail", "severity": "blocker"})
    manifest = {
        "run_id": run_id,
        "environment": env,
        "target": {"name": target, "base_url": "https://example.invalid"},
        "build_id": "1234",
        "results": results,
        "verdict": verdict,
    }
    ev.write_manifest(run_dir, manifest)
    return run_dir


def _artifact(run_dir: Path, artifacts: Path, name: str) -> Path:
    """The run copied alone into an artifact folder (no chain beside it)."""
    copy = artifacts / name / run_dir.name
    shutil.copytree(run_dir, copy)
    return copy


def test_worst_wins_and_copies_verify_on_their_own(tmp_path: Path) -> None:
    out, art = tmp_path / "outputs", tmp_path / "artifacts"
    eu = _artifact(_run(out, "staging", "pixcrawler-eu", "GO"), art, "eu")
    us = _artifact(_run(out, "staging", "pixcrawler-us", "GO"), art, "us")
    asia = _artifact(
        _run(out, "staging", "pixcrawler-asia", "NO-GO", "smoke.create-project"), art, "asia"
    )
    report = summarize([eu, us, asia])
    assert report.verdict is Verdict.NO_GO
    assert [m.verdict for m in report.members] == [Verdict.GO, Verdict.GO, Verdict.NO_GO]
    assert all(m.checked == "files" and not m.problems for m in report.members)
    assert report.members[2].failing == ["smoke.create-project"]
    assert summarize([eu, us]).verdict is Verdict.GO
    # in place, the chain beside each run is checked too
    assert {m.checked for m in summarize([out / "staging"]).members} == {"files + chain"}


def test_an_unverifiable_run_is_incomplete(tmp_path: Path) -> None:
    out, art = tmp_path / "outputs", tmp_path / "artifacts"
    good = _artifact(_run(out, "production", "eu", "GO"), art, "eu")
    edited = _artifact(_run(out, "production", "us", "GO"), art, "us")
    page = edited / "report.html"
    page.write_bytes(page.read_bytes().replace(b"GO", b"G0"))  # one byte
    unfinished = art / "asia" / "20261206T000000000000Z-000000"
    unfinished.mkdir(parents=True)

    report = summarize([good, edited, unfinished, tmp_path / "never-downloaded"])
    assert report.verdict is Verdict.INCOMPLETE
    by = {Path(m.path).name: m for m in report.members}
    assert by[edited.name].verdict is Verdict.INCOMPLETE
    assert by[edited.name].recorded == "GO"
    assert by[edited.name].problems == ["edited: report.html"]
    assert by[unfinished.name].verdict is Verdict.INCOMPLETE
    assert "manifest.json is missing" in by[unfinished.name].problems[0]
    assert by["never-downloaded"].verdict is Verdict.INCOMPLETE
    assert summarize([]).verdict is Verdict.INCOMPLETE  # nothing proven


def test_text_markdown_and_html_name_every_run(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    runs = [_run(out, "staging", "eu", "GO"), _run(out, "staging", "us", "INCOMPLETE")]
    report = summarize(runs)
    lines = text_lines(report)
    assert lines[-1].startswith("fleet: INCOMPLETE (2 run(s)")
    md = markdown(report, tmp_path)
    assert "## Fleet verdict: INCOMPLETE" in md and md.count("\n| **") == 2
    assert f"(outputs/staging/{runs[0].name}/report.html)" in md
    page = html_page(report, tmp_path / "fleet.html")
    assert (
        page.count("<tr><td") == 2 and f'href="outputs/staging/{runs[1].name}/report.html"' in page
    )


def test_the_command_finds_runs_in_artifact_folders_and_exits_with_the_verdict(
    tmp_path: Path,
) -> None:
    out, art = tmp_path / "outputs", tmp_path / "artifacts"
    _artifact(_run(out, "staging", "eu", "GO"), art, "runbook-eu")
    _artifact(_run(out, "staging", "us", "GO"), art, "runbook-us")

    def summary(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runbook.cli", "summary", *args],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )  # fmt: skip

    done = summary(str(art), "--html", "fleet.html", "--markdown")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("## Fleet verdict: GO") and done.stdout.count("\n| **GO**") == 2
    assert (tmp_path / "fleet.html").read_text().count("<tr><td") == 2
    _artifact(_run(out, "staging", "asia", "ROLLBACK REQUIRED", "rollback.decision"), art, "x")
    done = summary(str(art), "--markdown-file", "summary.md")
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1].startswith("fleet: ROLLBACK REQUIRED (3 run(s)")
    assert "rollback.decision" in (tmp_path / "summary.md").read_text()


def test_with_a_trusted_key_every_run_must_be_signed_by_it(tmp_path: Path) -> None:
    from runbook.governance.signing import (
        generate_key_pair,
        load_public_key,
        private_key_from_text,
        sign_manifest,
    )

    ours = generate_key_pair(tmp_path / "ours")
    theirs = generate_key_pair(tmp_path / "theirs")
    key = private_key_from_text(ours.private_key.read_text(), "ours")
    other = private_key_from_text(theirs.private_key.read_text(), "theirs")
    out, art = tmp_path / "outputs", tmp_path / "artifacts"
    signed = _run(out, "staging", "eu", "GO")
    sign_manifest(signed, key)
    unsigned = _run(out, "staging", "us", "GO")
    resigned = _run(out, "staging", "asia", "GO")
    sign_manifest(resigned, other)
    runs = [_artifact(r, art, r.name) for r in (signed, unsigned, resigned)]

    trusted = load_public_key(ours.public_key)
    by = {Path(m.path).name: m for m in summarize(runs, trusted).members}
    assert by[signed.name].verdict is Verdict.GO
    assert by[signed.name].checked == "files + signature"
    assert by[unsigned.name].verdict is Verdict.INCOMPLETE
    assert "not signed" in by[unsigned.name].problems[0]
    assert by[resigned.name].verdict is Verdict.INCOMPLETE
    assert "not by the trusted key" in by[resigned.name].problems[0]
    # without a trusted key a valid signature is checked, an unsigned run is fine
    assert summarize(runs).verdict is Verdict.GO
    tampered = runs[0] / "manifest.json"
    tampered.write_text(tampered.read_text().replace('"GO"', '"GO" '))
    assert summarize([runs[0]]).verdict is Verdict.INCOMPLETE
