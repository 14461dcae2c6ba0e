"""Run directories, manifests, the hash chain and verify."""

from __future__ import annotations

import json
from pathlib import Path

from runbook.core import evidence as ev


def make_run(env_dir: Path, content: str = "x") -> tuple[str, Path]:
    run_id, run_dir = ev.new_run_dir(env_dir)
    (run_dir / "notebooks").mkdir()
    (run_dir / "notebooks" / "a.ipynb").write_text(content)
    (run_dir / "report.html").write_text("<html>")
    ev.write_manifest(run_dir, {"run_id": run_id, "verdict": "GO", "finished_at": "t"})
    return run_id, run_dir


def test_run_ids_never_collide(tmp_path: Path) -> None:
    ids = {ev.new_run_dir(tmp_path)[0] for _ in range(200)}
    assert len(ids) == 200


def test_intact_run_verifies(tmp_path: Path) -> None:
    _, run_dir = make_run(tmp_path)
    report = ev.verify(run_dir)
    assert report.ok, report.lines()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert set(manifest["files"]) == {"notebooks/a.ipynb", "report.html"}


def test_one_edited_byte_is_named(tmp_path: Path) -> None:
    _, run_dir = make_run(tmp_path, "abcdef")
    (run_dir / "notebooks" / "a.ipynb").write_text("abcdeF")
    report = ev.verify(run_dir)
    assert report.edited == ["notebooks/a.ipynb"] and not report.ok


def test_removed_and_added_files_are_named(tmp_path: Path) -> None:
    _, run_dir = make_run(tmp_path)
    (run_dir / "report.html").unlink()
    (run_dir / "extra.txt").write_text("sneaky")
    report = ev.verify(run_dir)
    assert report.removed == ["report.html"] and report.added == ["extra.txt"]


def test_edited_manifest_breaks_the_chain(tmp_path: Path) -> None:
    _, run_dir = make_run(tmp_path)
    path = run_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["verdict"] = "GO!"
    path.write_text(json.dumps(manifest))
    report = ev.verify(run_dir)
    assert any("manifest.json" in p for p in report.problems)


def test_manifests_chain_to_the_previous_one(tmp_path: Path) -> None:
    _, first = make_run(tmp_path)
    _, second = make_run(tmp_path)
    chain = ev.read_chain(tmp_path)
    assert len(chain) == 2
    second_manifest = json.loads((second / "manifest.json").read_text())
    assert second_manifest["previous_manifest_sha256"] == chain[0]["manifest_sha256"]
    assert json.loads((first / "manifest.json").read_text())["previous_manifest_sha256"] is None


def test_missing_run_dir_and_missing_manifest(tmp_path: Path) -> None:
    assert "no such run directory" in ev.verify(tmp_path / "nope").problems[0]
    _, run_dir = ev.new_run_dir(tmp_path)
    assert "manifest.json is missing" in ev.verify(run_dir).problems[0]


def test_list_runs_shows_unfinished_runs(tmp_path: Path) -> None:
    make_run(tmp_path / "local")
    ev.new_run_dir(tmp_path / "local")
    verdicts = sorted(r["verdict"] for r in ev.list_runs(tmp_path, "local"))
    assert verdicts == ["GO", "UNFINISHED"]
