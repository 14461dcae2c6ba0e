"""verify_chain: an intact chain verifies; an edited past run, a removed run, an inserted run
and a reordered or edited chain line each break it at the right place."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from governance_support import chain_lines, copy_env, make_chain, write_chain_lines

from runbook.core import evidence as ev
from runbook.governance.chain import (
    KIND_FILES,
    KIND_INSERTED,
    KIND_LINK,
    KIND_MANIFEST_EDITED,
    KIND_MISMATCH,
    KIND_REMOVED,
    verify_chain,
)


def test_intact_chains_verify(tmp_path: Path, real_run) -> None:
    env_dir = tmp_path / "staging"
    make_chain(env_dir)
    (env_dir / "20990101T000000000000Z-unfini").mkdir()  # a run that never finished
    report = verify_chain(env_dir)
    assert report.ok, report.lines()
    assert report.runs == 4 and report.unfinished == ["20990101T000000000000Z-unfini"]
    real = verify_chain(real_run.run_dir.parent)
    assert real.ok and real.runs == 1, real.lines()


def test_an_edited_past_manifest_breaks_the_chain_at_its_line(tmp_path: Path) -> None:
    env_dir = tmp_path / "staging"
    runs = make_chain(env_dir)
    path = runs[1][1] / ev.MANIFEST
    manifest = json.loads(path.read_text())
    manifest["verdict"] = "GO"  # same value, re-serialised: still an edit of the bytes
    manifest["results"][0]["status"] = "pass"
    path.write_text(json.dumps(manifest, indent=1))
    report = verify_chain(env_dir)
    first = report.first_broken
    assert first is not None and first.line == 2 and first.run_id == runs[1][0]
    assert first.kind == KIND_MANIFEST_EDITED


def test_an_edited_evidence_file_of_a_past_run_is_named(tmp_path: Path) -> None:
    env_dir = tmp_path / "staging"
    runs = make_chain(env_dir)
    (runs[2][1] / "report.html").write_text("<html>GO, honestly</html>")
    report = verify_chain(env_dir)
    first = report.first_broken
    assert first is not None and (first.line, first.kind) == (3, KIND_FILES)
    assert "edited: report.html" in first.detail


def test_a_removed_run_breaks_the_chain_at_its_line(tmp_path: Path) -> None:
    env_dir = tmp_path / "staging"
    runs = make_chain(env_dir)
    shutil.rmtree(runs[1][1])
    report = verify_chain(env_dir)
    first = report.first_broken
    assert first is not None and (first.line, first.run_id, first.kind) == (
        2,
        runs[1][0],
        KIND_REMOVED,
    )
    # removing its chain line too is caught by the next line's link
    lines = chain_lines(env_dir)
    write_chain_lines(env_dir, [lines[0], *lines[2:]])
    again = verify_chain(env_dir).first_broken
    assert again is not None and (again.line, again.run_id, again.kind) == (
        2,
        runs[2][0],
        KIND_LINK,
    )


def test_a_run_not_in_the_chain_is_an_insertion(tmp_path: Path) -> None:
    env_dir = tmp_path / "staging"
    runs = make_chain(env_dir)
    fake = env_dir / "20200101T000000000000Z-abcdef"
    shutil.copytree(runs[1][1], fake)
    report = verify_chain(env_dir)
    assert not report.ok
    assert [(p.run_id, p.kind) for p in report.problems] == [(fake.name, KIND_INSERTED)]


def test_a_run_inserted_into_the_chain_breaks_the_following_link(tmp_path: Path) -> None:
    env_dir = tmp_path / "staging"
    runs = make_chain(env_dir)
    # forge a run chained after run 2 and splice its line in after line 2
    forged_id = runs[1][0][:-6] + "f0f0f0"
    forged = env_dir / forged_id
    shutil.copytree(runs[1][1], forged)
    manifest = json.loads((forged / ev.MANIFEST).read_text())
    manifest.update(run_id=forged_id, previous_manifest_sha256=runs[1][2])
    data = json.dumps(manifest, indent=2).encode()
    (forged / ev.MANIFEST).write_bytes(data)
    import hashlib

    line = json.dumps(
        {
            "run_id": forged_id,
            "manifest_sha256": hashlib.sha256(data).hexdigest(),
            "previous_manifest_sha256": runs[1][2],
            "verdict": "GO",
        }
    )
    lines = chain_lines(env_dir)
    write_chain_lines(env_dir, [*lines[:2], line, *lines[2:]])
    report = verify_chain(env_dir)
    first = report.first_broken
    assert first is not None and (first.line, first.run_id, first.kind) == (
        4,
        runs[2][0],
        KIND_LINK,
    ), report.lines()


def test_reordered_and_edited_chain_lines_are_caught(tmp_path: Path) -> None:
    env_dir = tmp_path / "staging"
    runs = make_chain(env_dir)
    reordered = copy_env(env_dir, tmp_path / "reordered")
    lines = chain_lines(reordered)
    write_chain_lines(reordered, [lines[0], lines[2], lines[1], lines[3]])
    first = verify_chain(reordered).first_broken
    assert first is not None and (first.line, first.run_id, first.kind) == (
        2,
        runs[2][0],
        KIND_LINK,
    )

    edited = copy_env(env_dir, tmp_path / "edited")
    lines = chain_lines(edited)
    entry = json.loads(lines[2])
    entry["verdict"] = "NO-GO"
    lines[2] = json.dumps(entry)
    write_chain_lines(edited, lines)
    first = verify_chain(edited).first_broken
    assert first is not None and (first.line, first.kind) == (3, KIND_MISMATCH)
