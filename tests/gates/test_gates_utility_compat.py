"""Pre-Deployment §4 "Old utility configuration methods still work": the cases of the local
parameters run for real in a scratch worktree of the materialized sample (a real git repo),
through the gates' command machinery; a candidate that dropped an old way fails naming it; a
foreign repository without a utility package (/tmp/fst) is inconclusive, never a pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rehearsal.sample_repo import SampleRepo
from runbook.core.checklist.catalogue import load_catalogue
from runbook.core.checks import Status
from runbook.core.parameters import load
from runbook.phases.pre_deployment.gates.params import PreDeploymentParams, UtilityCompatParams
from runbook.phases.pre_deployment.gates.utility_compat import CHECK_ID, utility_compat_check

FST = Path("/tmp/fst")


def _cases() -> UtilityCompatParams:
    found = load("local").params.pre_deployment.utility_compat
    assert found is not None and len(found.cases) == 4
    return found


def _params(sample: SampleRepo, tmp_path: Path) -> PreDeploymentParams:
    return sample.params(worktree_cache=tmp_path / "worktrees")


def test_the_old_ways_are_taken_in_the_candidate(clean_sample: SampleRepo, tmp_path: Path) -> None:
    result = utility_compat_check(_params(clean_sample, tmp_path), _cases(), tmp_path / "ev")
    assert result.id == CHECK_ID and result.status is Status.PASS, result.explanation
    assert result.observed == {
        "json-group": "taken",
        "nested": "taken",
        "unprefixed": "taken",
        "older-api": "taken",
    }
    rows = {r["case"]: r for r in result.evidence["cases"]}
    assert "-c" in rows["json-group"]["command"] and rows["json-group"]["exit_code"] == 0
    assert result.evidence["candidate"]["ref"]  # ran in the candidate's worktree
    assert (tmp_path / "ev" / f"{CHECK_ID}.unprefixed.stdout.log").read_text().strip()


def test_a_candidate_that_drops_the_json_group_fails_naming_it(
    clean_sample: SampleRepo, tmp_path: Path
) -> None:
    file = clean_sample.path / "utility" / "compression.py"
    text = file.read_text()
    group = "    if GROUP in upper:\n        values.update(group_values(upper[GROUP]))\n"
    dropped = text.replace(group, "")
    assert dropped != text
    file.write_text(dropped)
    subprocess.run(
        ["git", "commit", "-qam", "drop the JSON group"], cwd=clean_sample.path, check=True
    )
    result = utility_compat_check(_params(clean_sample, tmp_path), _cases(), tmp_path / "ev")
    assert result.status is Status.FAIL
    assert "json-group: quality is 85, expected 70" in result.explanation
    assert result.observed["nested"] == "taken"


def test_a_command_that_cannot_run_is_an_error_not_a_pass(
    clean_sample: SampleRepo, tmp_path: Path
) -> None:
    broken = UtilityCompatParams.model_validate(
        {
            "cases": [
                {
                    "id": "gone",
                    "title": "t",
                    "argv": [str(tmp_path / "no-such-python")],
                    "expect": {"quality": 70},
                }
            ]
        }
    )
    result = utility_compat_check(_params(clean_sample, tmp_path), broken, tmp_path / "ev")
    assert result.status is Status.ERROR and "was not found" in result.explanation


def test_nothing_configured_is_skipped() -> None:
    pre = PreDeploymentParams.model_validate({"repo": ".", "candidate_ref": None})
    assert utility_compat_check(pre, None, Path("/nonexistent")).status is Status.SKIP


@pytest.mark.skipif(not (FST / ".git").exists(), reason="the foreign repository is not cloned")
def test_a_foreign_repository_without_a_utility_package_is_inconclusive(tmp_path: Path) -> None:
    pre = PreDeploymentParams.model_validate(
        {"repo": str(FST), "candidate_ref": "0.10.0", "worktree_cache": str(tmp_path / "wt")}
    )
    result = utility_compat_check(pre, _cases(), tmp_path / "ev")
    assert result.status is Status.INCONCLUSIVE
    assert "has no utility/ package" in result.explanation


def test_the_box_is_mapped_to_the_check() -> None:
    box = load_catalogue().box("pre-4/old-utility-configuration-methods-still-work")
    assert CHECK_ID in box.checks and box.unproved is None
