"""The chain and the signature record the manifest as written: when masking at capture
changes its bytes (a resolved secret value inside a recorded result), both still hold."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook.core import evidence as ev
from runbook.core import masking
from runbook.core.secret_refs import SecretRef, resolve
from runbook.governance import signing
from runbook.governance.run_verification import verify_run_dir

VALUE = "manifest-bytes-secret-7f3a9c"


@pytest.fixture
def resolved_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("RUNBOOK_TEST_MANIFEST_SECRET", VALUE)
    yield resolve(SecretRef(env="RUNBOOK_TEST_MANIFEST_SECRET"))
    masking.forget_all()


def test_a_masked_manifest_still_verifies_against_its_chain_and_signature(
    tmp_path: Path, resolved_secret: str
) -> None:
    run_id, run_dir = ev.new_run_dir(tmp_path / "staging")
    (run_dir / "report.html").write_text("<html>")
    manifest = {"run_id": run_id, "verdict": "GO", "reasons": [f"echoed {resolved_secret}"]}
    digest = ev.write_manifest(run_dir, manifest)
    written = (run_dir / ev.MANIFEST).read_bytes()
    assert VALUE.encode() not in written  # masked at capture
    assert digest == ev.sha256_file(run_dir / ev.MANIFEST)
    key = signing.private_key_from_text(
        signing.generate_key_pair(tmp_path / "keys").private_key.read_text(), "test key"
    )
    signing.sign_manifest(run_dir, key)
    assert ev.verify(run_dir).ok
    found = verify_run_dir(run_dir, public_key=tmp_path / "keys" / signing.PUBLIC_KEY_FILE)
    assert found.ok and found.chain.status == "ok", found.lines()
