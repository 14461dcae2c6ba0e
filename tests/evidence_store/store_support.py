"""Helpers of the evidence-store tests: finished run directories written with the real
evidence functions, and raw access to the container (as an intruder or an operator)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook.core import evidence as ev
from runbook.core.evidence_store import EvidenceStoreParams
from runbook.providers.azure.blob_store import container_client

CONNECTION_ENV = "RUNBOOK_TEST_STORE_CONNECTION"  # the fixture `store` sets it


def make_run(env_dir: Path, *, build_id: str = "build-7", verdict: str = "GO") -> Path:
    """A finished run (a notebook, a report, evidence, manifest and chain line)."""
    run_id, run_dir = ev.new_run_dir(env_dir)
    (run_dir / "notebooks").mkdir()
    (run_dir / "notebooks" / "04_verify.ipynb").write_text(json.dumps({"cells": []}))
    (run_dir / "evidence").mkdir()
    (run_dir / "evidence" / "requests.jsonl").write_text('{"status": 200}\n' * 50)
    (run_dir / "report.html").write_text(f"<html>{verdict}</html>")
    ev.write_manifest(
        run_dir,
        {
            "run_id": run_id,
            "environment": env_dir.name,
            "build_id": build_id,
            "finished_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "verdict": verdict,
            "phases": [
                {"name": p, "status": "completed", "verdict": verdict}
                for p in ("deploy", "verify", "performance")
            ],
            "results": [],
        },
    )
    return run_dir


def blob_names(store: EvidenceStoreParams) -> list[str]:
    return sorted(b.name for b in container_client(store).list_blobs())


def overwrite_blob(store: EvidenceStoreParams, name: str, data: bytes) -> None:
    """What someone with write access could do to a container without a retention policy."""
    container_client(store).upload_blob(name, data, overwrite=True)


def read_blob(store: EvidenceStoreParams, name: str) -> bytes:
    return bytes(container_client(store).download_blob(name).readall())


def uploads(env_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (env_dir / "uploads.jsonl").read_text().splitlines()]
