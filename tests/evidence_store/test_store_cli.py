"""End to end against a real Azurite: a full `runbook run --env local` writes its evidence to
the store, and with the local copy deleted, `runbook list`, `verify`, `verify --chain` and
`rejudge` read it back from the store; a tampered blob is caught; `runbook store check` says
the container has no retention policy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from azurite_service import Azurite
from store_support import CONNECTION_ENV, make_run, overwrite_blob

from runbook.core.evidence_store import EvidenceStoreParams, run_blob
from runbook.governance.promotion import PromotionParams, gate_from_params

ROOT = Path(__file__).resolve().parents[2]


def _store_param(store: EvidenceStoreParams) -> str:
    return "evidence.store=" + json.dumps(
        {
            "container": store.container,
            "prefix": store.prefix,
            "connection_string": {"env": CONNECTION_ENV},
        }
    )


def _runbook(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RUNBOOK_HEADLESS"}
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def _read(store: EvidenceStoreParams, cache: Path, command: str, *args: str) -> list[str]:
    return [
        command,
        *args,
        "--store",
        "local",
        "--store-param",
        _store_param(store),
        "--cache",
        str(cache),
    ]


@pytest.fixture
def stored_run(store: EvidenceStoreParams, tmp_path: Path) -> tuple[str, Path]:
    """A real run of the local environment, written to the store. One phase (environment)
    keeps the suite short: the upload is of whatever run directory the pipeline finalised (a
    full nine-phase run was written and read back the same way by hand; see the README)."""
    outputs = tmp_path / "outputs"
    proc = _runbook(
        "run",
        "--env",
        "local",
        "--phase",
        "environment",
        "--param",
        _store_param(store),
        "--outputs",
        str(outputs),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "evidence stored:" in proc.stderr, proc.stderr[-3000:]
    assert "no retention policy: evidence can be deleted" in proc.stderr
    run_dir = Path(proc.stdout.strip().splitlines()[-1].split(": ", 1)[1])
    return run_dir.name, run_dir


def test_a_local_run_is_read_back_from_the_store_after_its_local_copy_is_deleted(
    store: EvidenceStoreParams, stored_run: tuple[str, Path], tmp_path: Path
) -> None:
    run_id, run_dir = stored_run
    cache = tmp_path / "cache"
    shutil.rmtree(run_dir.parent)  # the local evidence is gone: what follows reads the store

    listed = _runbook(*_read(store, cache, "list", "--env", "local"))
    assert listed.returncode == 0, listed.stdout + listed.stderr
    row = next(line for line in listed.stdout.splitlines() if run_id in line)
    assert "GO" in row and "environment" in row

    verified = _runbook(*_read(store, cache, "verify", run_id))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"reading local/{run_id} from the evidence store" in verified.stdout
    assert "OK:" in verified.stdout and "against its chain" in verified.stdout

    chain = _runbook(*_read(store, cache, "verify", "--chain", "local"))
    assert chain.returncode == 0, chain.stdout + chain.stderr
    assert "OK: hash chain" in chain.stdout

    rejudged = _runbook(*_read(store, cache, "rejudge", f"local/{run_id}", "--out", str(tmp_path)))
    assert f"re-judged {cache}" in rejudged.stdout, rejudged.stdout + rejudged.stderr
    assert rejudged.stdout.strip().splitlines()[-1].startswith("GO:")

    notebook = "notebooks/02_environment.ipynb"
    overwrite_blob(store, run_blob(store, "local", run_id, notebook), b'{"cells": []}')
    tampered = _runbook(*_read(store, cache, "verify", run_id))
    assert tampered.returncode == 1
    assert f"edited: {notebook}" in tampered.stdout
    assert "FAILED:" in tampered.stdout
    broken = _runbook(*_read(store, cache, "verify", "--chain", "local"))
    assert broken.returncode == 1 and f"edited: {notebook}" in broken.stdout


def test_store_check_reports_a_container_without_retention_policy(
    store: EvidenceStoreParams,
) -> None:
    done = _runbook("store", "check", "--env", "local", "--store-param", _store_param(store))
    assert done.returncode == 1
    assert "WARN: evidence.store.immutability" in done.stdout
    assert "no retention policy: evidence can be deleted" in done.stdout


def test_a_store_that_cannot_be_read_is_a_clear_failure(
    store: EvidenceStoreParams, tmp_path: Path
) -> None:
    absent = store.model_copy(update={"container": "no-such-container"})
    listed = _runbook(*_read(absent, tmp_path / "cache", "list"))
    assert listed.returncode == 1 and "FAILED: could not list" in listed.stdout
    assert "not found" in listed.stdout.lower()
    unknown = _runbook(*_read(store, tmp_path / "cache", "verify", "20990101T000000000000Z-0"))
    assert (
        unknown.returncode == 1 and "holds no run local/20990101T000000000000Z-0" in unknown.stdout
    )
    no_store = _runbook("list", "--store", "staging")
    assert no_store.returncode == 2 and "'evidence.store' is not set" in no_store.stderr


def test_the_promotion_gate_refuses_when_the_store_cannot_be_read(
    store: EvidenceStoreParams, tmp_path: Path
) -> None:
    absent = store.model_copy(update={"container": "no-such-container"})
    decision = gate_from_params(tmp_path, PromotionParams(), "build-7", store=absent)
    assert not decision.allowed
    assert decision.reasons[0].startswith("the evidence store could not be read:")


def test_store_push_copies_a_local_run_and_a_retry_changes_nothing(
    store: EvidenceStoreParams, tmp_path: Path
) -> None:
    run_dir = make_run(tmp_path / "local")
    push = ["store", "push", str(run_dir), "--store-param", _store_param(store)]
    first = _runbook(*push)
    assert first.returncode == 0 and "evidence stored:" in first.stdout, first.stdout
    again = _runbook(*push)
    assert again.returncode == 0 and "evidence stored:" in again.stdout, again.stdout
    (run_dir / "report.html").write_text("<html>edited after it was stored</html>")
    edited = _runbook(*push)
    assert edited.returncode == 1
    assert "only local" in edited.stdout and "never overwritten" in edited.stdout


def test_a_run_whose_store_is_unreachable_keeps_its_verdict_and_says_its_evidence_is_local(
    store: EvidenceStoreParams, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nobody_there = Azurite(port=port, location=tmp_path)  # the same account, a closed port
    monkeypatch.setenv(CONNECTION_ENV, nobody_there.connection_string)
    outputs = tmp_path / "outputs"
    proc = _runbook(
        "run",
        "--env",
        "local",
        "--phase",
        "environment",
        "--param",
        _store_param(store),
        "--outputs",
        str(outputs),
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    run_dir = Path(proc.stdout.strip().splitlines()[-1].split(": ", 1)[1])
    assert proc.stdout.strip().splitlines()[-1].startswith("GO: ")
    assert f"the evidence of this run is only local ({run_dir})" in proc.stderr
    assert "connection refused" in proc.stderr.lower()
    record = json.loads((outputs / "local" / "uploads.jsonl").read_text().splitlines()[-1])
    assert record["status"] == "failed" and record["run_id"] == run_dir.name
    verified = _runbook("verify", str(run_dir))
    assert verified.returncode == 0, verified.stdout
