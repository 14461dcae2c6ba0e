"""Documentation and no-migration checks on a real git repository (the sample)."""

from __future__ import annotations

from pathlib import Path

import pytest

from git_support import git
from rehearsal.sample_repo import SampleRepo
from runbook.core.checks import Status
from runbook.phases.pre_deployment.gates.documentation import documentation_checks
from runbook.phases.pre_deployment.gates.migrations import heads, migration_check, parse_revision


def by_path(sample: SampleRepo, **updates: object) -> dict[str, tuple[Status, str]]:
    return {
        r.evidence["path"]: (r.status, r.observed)
        for r in documentation_checks(sample.params(**updates))
    }


def test_docs_changed_since_the_previous_release_pass(clean_sample: SampleRepo) -> None:
    assert set(by_path(clean_sample).values()) == {(Status.PASS, "changed")}


def test_docs_unchanged_since_the_base_ref_warn(clean_sample: SampleRepo) -> None:
    # compared with this release itself, nothing changed: a warning, not a failure
    results = by_path(clean_sample, base_ref="HEAD")
    assert set(results.values()) == {(Status.WARN, "unchanged")}


def test_uncommitted_edit_counts_as_changed(clean_sample: SampleRepo) -> None:
    readme = clean_sample.path / "backend" / "README.md"
    readme.write_text(readme.read_text() + "\nOne more line.\n")
    assert by_path(clean_sample, base_ref="HEAD")["backend/README.md"] == (Status.PASS, "changed")


def test_missing_and_empty_docs_fail(clean_sample: SampleRepo) -> None:
    (clean_sample.path / "docs" / "MIGRATION_GUIDE.md").unlink()
    (clean_sample.path / "utility" / "README.md").write_text("  \n\n")
    results = by_path(clean_sample)
    assert results["docs/MIGRATION_GUIDE.md"] == (Status.FAIL, "missing")
    assert results["utility/README.md"] == (Status.FAIL, "empty")
    assert results["backend/README.md"] == (Status.PASS, "changed")


def test_without_base_ref_only_presence_is_checked(clean_sample: SampleRepo) -> None:
    results = documentation_checks(clean_sample.params(base_ref=None))
    assert {r.status for r in results} == {Status.PASS}
    assert all("change not assessed" in r.explanation for r in results)


def test_unknown_base_ref_is_an_error(clean_sample: SampleRepo) -> None:
    assert set(by_path(clean_sample, base_ref="release-0.9").values()) == {
        (Status.ERROR, "present")
    }
    assert migration_check(clean_sample.params(base_ref="release-0.9")).status is Status.ERROR


def test_not_a_git_repository_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "MIGRATION_GUIDE.md").write_text("# guide\n")
    sample = SampleRepo(path=tmp_path, commits={})
    assert by_path(sample)["docs/MIGRATION_GUIDE.md"] == (Status.ERROR, "present")


def test_unchanged_migrations_pass_with_their_heads(clean_sample: SampleRepo) -> None:
    result = migration_check(clean_sample.params())
    assert result.status is Status.PASS
    assert result.observed["heads_base"] == result.observed["heads_now"] == ["0002"]
    assert result.section.startswith("Environment Configuration §2")


def test_removed_migration_fails(clean_sample: SampleRepo) -> None:
    (clean_sample.path / "alembic/versions/0002_add_project_description.py").unlink()
    result = migration_check(clean_sample.params())
    assert result.status is Status.FAIL
    assert result.observed["removed"] == ["alembic/versions/0002_add_project_description.py"]
    assert result.observed["heads_now"] == ["0001"]


def test_changed_migration_fails_even_when_committed(clean_sample: SampleRepo) -> None:
    path = clean_sample.path / "alembic/versions/0001_create_projects.py"
    path.write_text(path.read_text().replace("sa.String(100)", "sa.String(200)"))
    git(clean_sample.path, "commit", "-qam", "widen the name column")
    result = migration_check(clean_sample.params())
    assert result.status is Status.FAIL
    assert result.observed["changed"] == ["alembic/versions/0001_create_projects.py"]


def test_unparseable_migration_is_an_error(clean_sample: SampleRepo) -> None:
    git(clean_sample.path, "tag", "next")
    (clean_sample.path / "alembic/versions/0001_create_projects.py").write_text(
        "revision = make_id()\n"
    )
    git(clean_sample.path, "commit", "-qam", "broken")
    git(clean_sample.path, "tag", "-f", "next")
    result = migration_check(clean_sample.params(base_ref="next"))
    assert result.status is Status.ERROR
    assert "cannot read the revision" in result.explanation


def test_migrations_need_a_base_ref_and_a_folder(clean_sample: SampleRepo) -> None:
    assert migration_check(clean_sample.params(base_ref=None)).status is Status.ERROR
    wrong = migration_check(clean_sample.params(migrations_dir="backend/alembic/versions"))
    assert wrong.status is Status.ERROR and "wrong path" in wrong.explanation


def test_parse_revision_reads_literals_without_importing() -> None:
    merge = "import does_not_exist\nrevision: str = 'c3'\ndown_revision = ('a1', 'b2')\n"
    assert parse_revision(merge).model_dump() == {"revision": "c3", "down_revisions": ["a1", "b2"]}
    assert parse_revision("revision = 'a1'\ndown_revision = None\n").down_revisions == []
    with pytest.raises(ValueError, match="no literal"):
        parse_revision("down_revision = 'a1'\n")
    with pytest.raises(ValueError, match="not a literal"):
        parse_revision("revision = compute()\n")


def test_heads_are_revisions_nobody_revises() -> None:
    revs = [
        parse_revision("revision = 'a'\ndown_revision = None"),
        parse_revision("revision = 'b'\ndown_revision = 'a'"),
        parse_revision("revision = 'c'\ndown_revision = 'a'"),
    ]
    assert heads(revs) == ["b", "c"]
    revs.append(parse_revision("revision = 'm'\ndown_revision = ('b', 'c')"))
    assert heads(revs) == ["m"]
