"""The evidence store against a real Azurite: runs copied up append-only, read back into a
cache and verified there with the local code, tampering and conflicts caught, retention read."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from store_support import blob_names, make_run, overwrite_blob, read_blob, uploads

from runbook.core import evidence as ev
from runbook.core.checks import Status
from runbook.core.evidence_store import EvidenceStoreParams, chain_blob, run_blob
from runbook.core.secret_refs import SecretRef
from runbook.governance.chain import verify_chain
from runbook.governance.promotion import promotion_gate
from runbook.providers.azure import blob_store as bs


def test_a_run_is_stored_whole_with_its_chain_entry(
    store: EvidenceStoreParams, tmp_path: Path
) -> None:
    run_dir = make_run(tmp_path / "staging")
    record = bs.upload_run(store, run_dir)
    assert record.ok, record.error
    files = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file())
    expected = [run_blob(store, "staging", run_dir.name, f) for f in files]
    expected.append(chain_blob(store, "staging", run_dir.name))
    assert blob_names(store) == sorted(expected)
    assert read_blob(store, run_blob(store, "staging", run_dir.name, "manifest.json")) == (
        (run_dir / "manifest.json").read_bytes()
    )
    assert record.blobs == len(expected) and record.already_there == 0
    assert uploads(run_dir.parent)[-1]["status"] == "stored"


def test_a_run_read_back_from_the_store_verifies_after_the_local_copy_is_gone(
    store: EvidenceStoreParams, tmp_path: Path, cache: Path
) -> None:
    env_dir = tmp_path / "staging"
    runs = [make_run(env_dir) for _ in range(3)]
    for run_dir in runs:
        assert bs.upload_run(store, run_dir).ok
    shutil.rmtree(env_dir)
    mirrored = bs.mirror_run(store, "staging", runs[1].name, cache)
    report = ev.verify(mirrored)
    assert report.ok, report.lines()
    whole = bs.mirror_env(store, "staging", cache, full=True)
    chain = verify_chain(whole)
    assert chain.ok and chain.runs == 3, chain.lines()
    listed = ev.list_runs(bs.mirror_env(store, "staging", cache, full=False).parent, "staging")
    assert [r["run_id"] for r in listed] == sorted((r.name for r in runs), reverse=True)
    assert {r["verdict"] for r in listed} == {"GO"}


def test_a_tampered_blob_is_caught_when_read_back(
    store: EvidenceStoreParams, tmp_path: Path, cache: Path
) -> None:
    run_dir = make_run(tmp_path / "staging")
    assert bs.upload_run(store, run_dir).ok
    name = run_blob(store, "staging", run_dir.name, "report.html")
    overwrite_blob(store, name, b"<html>GO, honestly</html>")
    report = ev.verify(bs.mirror_run(store, "staging", run_dir.name, cache))
    assert report.edited == ["report.html"]
    chain = verify_chain(bs.mirror_env(store, "staging", cache, full=True))
    assert not chain.ok and "edited: report.html" in "\n".join(chain.lines())


def test_a_retried_upload_is_idempotent_and_other_content_is_never_overwritten(
    store: EvidenceStoreParams, tmp_path: Path
) -> None:
    run_dir = make_run(tmp_path / "staging")
    assert bs.upload_run(store, run_dir).ok
    again = bs.upload_run(store, run_dir)
    assert again.ok and again.already_there == again.blobs
    name = run_blob(store, "staging", run_dir.name, "report.html")
    (run_dir / "report.html").write_text("<html>changed after the fact</html>")
    conflict = bs.upload_run(store, run_dir)
    assert not conflict.ok
    assert f"already holds {name} with other content" in str(conflict.error)
    assert "never overwritten" in str(conflict.error)
    assert read_blob(store, name) != (run_dir / "report.html").read_bytes()
    assert [u["status"] for u in uploads(run_dir.parent)] == ["stored", "stored", "failed"]


def test_an_unreachable_store_leaves_the_evidence_local_and_says_so(
    store: EvidenceStoreParams, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
        + ("a2V5" * 22)
        + f";BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    monkeypatch.setenv("RUNBOOK_TEST_DEAD_STORE", dead)
    gone = store.model_copy(update={"connection_string": SecretRef(env="RUNBOOK_TEST_DEAD_STORE")})
    run_dir = make_run(tmp_path / "staging")
    said: list[str] = []
    assert bs.store_run(gone, run_dir, said.append) is False
    assert "only local" in said[-1] and str(run_dir) in said[-1]
    assert "connection refused" in said[-1].lower()
    assert ev.verify(run_dir).ok
    assert uploads(run_dir.parent)[-1]["status"] == "failed"


def test_a_missing_container_or_secret_is_a_clear_failure(
    store: EvidenceStoreParams, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = make_run(tmp_path / "staging")
    absent = bs.upload_run(store.model_copy(update={"container": "no-such-container"}), run_dir)
    assert not absent.ok and "not found" in str(absent.error).lower()
    monkeypatch.delenv("RUNBOOK_TEST_STORE_CONNECTION")
    unset = bs.upload_run(store, run_dir)
    assert not unset.ok
    assert "$RUNBOOK_TEST_STORE_CONNECTION is not set" in str(unset.error)


def test_an_unknown_run_in_the_store_is_named(store: EvidenceStoreParams, cache: Path) -> None:
    with pytest.raises(bs.StoreError, match="holds no run staging/20990101T000000000000Z-abcdef"):
        bs.mirror_run(store, "staging", "20990101T000000000000Z-abcdef", cache)


def test_azurite_has_no_retention_policy_and_the_check_says_evidence_can_be_deleted(
    store: EvidenceStoreParams,
) -> None:
    result = bs.immutability_check(store)
    assert result.status is Status.WARN
    assert "no retention policy: evidence can be deleted" in result.explanation
    assert result.observed == {
        "time_based_policy": False,
        "version_level_worm": False,
        "legal_hold": False,
    }


def test_retention_is_a_pass_only_with_a_time_based_policy(store: EvidenceStoreParams) -> None:
    judge = bs.judge_retention
    assert judge(store, bs.Retention(True, False, False)).status is Status.PASS
    worm = judge(store, bs.Retention(False, True, False))
    assert worm.status is Status.WARN and "can be deleted" in worm.explanation
    held = judge(store, bs.Retention(False, False, True))
    assert held.status is Status.WARN and "legal hold" in held.explanation


def test_an_unreachable_store_is_an_error_for_the_retention_check(
    store: EvidenceStoreParams,
) -> None:
    result = bs.immutability_check(store.model_copy(update={"container": "no-such-container"}))
    assert result.status is Status.ERROR and "could not read the container" in result.explanation


def test_the_promotion_gate_relies_on_a_staging_run_read_from_the_store(
    store: EvidenceStoreParams, tmp_path: Path, cache: Path
) -> None:
    env_dir = tmp_path / "staging"
    make_run(env_dir, build_id="build-6")
    good = make_run(env_dir, build_id="build-7")
    for run_dir in sorted(p for p in env_dir.iterdir() if p.is_dir()):
        assert bs.upload_run(store, run_dir).ok
    shutil.rmtree(env_dir)
    dirs = bs.mirror_for_promotion(store, ["staging"], "build-7", cache)
    decision = promotion_gate(dirs, "build-7", timedelta(hours=72))
    assert decision.allowed, decision.reasons
    assert decision.relied_on is not None and decision.relied_on.run_id == good.name
    overwrite_blob(store, run_blob(store, "staging", good.name, "report.html"), b"forged")
    dirs = bs.mirror_for_promotion(store, ["staging"], "build-7", cache)
    refused = promotion_gate(dirs, "build-7", timedelta(hours=72))
    assert not refused.allowed and "does not verify" in "; ".join(refused.reasons)
