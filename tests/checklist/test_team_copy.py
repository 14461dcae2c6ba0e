"""The team's checklist in the target repository against the catalogue (real files in a real
git repository)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from runbook.core.checklist import ChecklistParams, bundled_checklist, team_checklist_check
from runbook.core.checks import Status


def repo_with(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "target"
    repo.mkdir()
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "init",
            "--allow-empty",
        ],
        check=True,
    )
    return repo


SHIPPED = bundled_checklist().read_text(encoding="utf-8")


def test_the_same_checklist_passes(tmp_path: Path) -> None:
    result = team_checklist_check(
        ChecklistParams(), repo_with(tmp_path, {"DEPLOYMENT_CHECKLIST.md": SHIPPED})
    )
    assert result.status is Status.PASS, result.explanation
    assert result.observed["boxes"] == 193


def test_a_box_the_catalogue_does_not_know_is_a_warning_naming_it(tmp_path: Path) -> None:
    text = SHIPPED.replace(
        "- [ ] CPU usage normal\n", "- [ ] CPU usage normal\n- [ ] GPU workers warmed up\n"
    )
    result = team_checklist_check(None, repo_with(tmp_path, {"docs/DEPLOYMENT_CHECKLIST.md": text}))
    assert result.status is Status.WARN
    assert "GPU workers warmed up" in result.explanation
    assert "2.4 Performance Tests (Staging)" in result.explanation
    assert result.observed == {
        "file": "docs/DEPLOYMENT_CHECKLIST.md",
        "boxes": 194,
        "unknown_boxes": 1,
        "missing_boxes": 0,
    }


def test_a_box_the_team_dropped_is_named_too(tmp_path: Path) -> None:
    text = SHIPPED.replace("- [ ] Slow query log\n", "")
    result = team_checklist_check(
        ChecklistParams(path="ops/checklist.md"), repo_with(tmp_path, {"ops/checklist.md": text})
    )
    assert result.status is Status.WARN
    assert "monitoring-2/slow-query-log" in result.explanation
    assert result.observed["missing_boxes"] == 1


def test_no_checklist_in_the_repository_is_skipped_or_warned_when_required(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {"README.md": "hello"})
    skipped = team_checklist_check(ChecklistParams(), repo)
    assert skipped.status is Status.SKIP and "DEPLOYMENT_CHECKLIST.md" in skipped.explanation
    assert team_checklist_check(ChecklistParams(required=True), repo).status is Status.WARN
    assert team_checklist_check(ChecklistParams(enabled=False), repo).status is Status.SKIP


def test_an_unreadable_checklist_is_an_error(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {"README.md": "x"})
    (repo / "DEPLOYMENT_CHECKLIST.md").write_bytes(b"\xff\xfe- [ ] broken \x80")
    result = team_checklist_check(ChecklistParams(), repo)
    assert result.status is Status.ERROR and "cannot read" in result.explanation
