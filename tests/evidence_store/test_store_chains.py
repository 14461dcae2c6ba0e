"""Chains in the store: the order of the entry blobs is rebuilt from their links, and a store
written by CI jobs that each began with an empty outputs/ (one short chain per job) still lets
each run verify against its own stretch, while `verify --chain` names where stretches meet."""

from __future__ import annotations

from pathlib import Path

from store_support import make_run

from runbook.core import evidence as ev
from runbook.core.evidence_store import EvidenceStoreParams, chain_segment, order_chain
from runbook.governance.chain import KIND_LINK, verify_chain
from runbook.providers.azure import blob_store as bs


def _entry(run: str, digest: str, previous: str | None, at: str) -> dict[str, object]:
    return {
        "run_id": run,
        "manifest_sha256": digest,
        "previous_manifest_sha256": previous,
        "finished_at": at,
    }


def test_chain_order_follows_the_links_not_the_listing_or_the_clock() -> None:
    a = _entry("a", "1", None, "2026-01-01T10:00")
    b = _entry("b", "2", "1", "2026-01-01T12:00")
    c = _entry("c", "3", "2", "2026-01-01T11:00")  # finished earlier by the clock, chained later
    assert [e["run_id"] for e in order_chain([c, b, a])] == ["a", "b", "c"]


def test_separate_stretches_are_kept_apart_and_a_run_gets_its_own() -> None:
    a = _entry("a", "1", None, "2026-01-01T10:00")
    b = _entry("b", "2", "1", "2026-01-01T11:00")
    x = _entry("x", "9", None, "2026-01-01T10:30")
    y = _entry("y", "8", "9", "2026-01-01T12:00")
    ordered = order_chain([y, b, x, a])
    assert [e["run_id"] for e in ordered] == ["a", "b", "x", "y"]
    assert [e["run_id"] for e in chain_segment(ordered, "y")] == ["x", "y"]
    assert [e["run_id"] for e in chain_segment(ordered, "a")] == ["a", "b"]
    assert chain_segment(ordered, "nope") == []


def test_runs_of_two_ci_jobs_each_verify_and_the_chain_walk_names_the_seam(
    store: EvidenceStoreParams, tmp_path: Path, cache: Path
) -> None:
    first = [make_run(tmp_path / "job1" / "staging") for _ in range(2)]
    second = [make_run(tmp_path / "job2" / "staging") for _ in range(2)]
    for run_dir in first + second:
        assert bs.upload_run(store, run_dir).ok
    for run_dir in first + second:
        report = ev.verify(bs.mirror_run(store, "staging", run_dir.name, cache))
        assert report.ok, report.lines()
    walk = verify_chain(bs.mirror_env(store, "staging", cache, full=True))
    assert walk.runs == 4
    assert [p.kind for p in walk.problems] == [KIND_LINK]
    assert walk.problems[0].run_id == second[0].name


def test_a_run_removed_from_the_store_breaks_the_chain(
    store: EvidenceStoreParams, tmp_path: Path, cache: Path
) -> None:
    runs = [make_run(tmp_path / "staging") for _ in range(3)]
    for run_dir in runs:
        assert bs.upload_run(store, run_dir).ok
    container = bs.container_client(store)
    gone = runs[1].name
    for blob in list(container.list_blobs(name_starts_with=f"pixcrawler/staging/{gone}/")):
        container.delete_blob(blob.name)  # what a container without a retention policy allows
    walk = verify_chain(bs.mirror_env(store, "staging", cache, full=True))
    assert not walk.ok
    assert any(p.run_id == gone and "gone" in p.detail for p in walk.problems), walk.lines()


def test_the_store_lists_its_environments_and_every_run_of_each(
    store: EvidenceStoreParams, tmp_path: Path, cache: Path
) -> None:
    staging = make_run(tmp_path / "staging")
    production = make_run(tmp_path / "production", verdict="NO-GO")
    for run_dir in (staging, production):
        assert bs.upload_run(store, run_dir).ok
    assert bs.environments(store) == ["production", "staging"]
    for env in bs.environments(store):
        mirrored = bs.mirror_env(store, env, cache, full=False)
    rows = ev.list_runs(mirrored.parent)
    assert {(r["environment"], r["run_id"], r["verdict"]) for r in rows} == {
        ("staging", staging.name, "GO"),
        ("production", production.name, "NO-GO"),
    }
