"""The secret scanner: a resolved secret planted in a check's output, JWTs, bearer headers,
connection strings with passwords, account keys and private keys are caught and named by file
and kind (never by value); placeholders and a clean real run give no hit."""

from __future__ import annotations

import gzip
import json
import secrets
from pathlib import Path
from urllib.parse import quote

import nbformat
from governance_support import copy_env

from runbook.core.checks import CheckResult, Status
from runbook.governance.secret_scan import (
    KIND_ACCOUNT_KEY,
    KIND_BEARER,
    KIND_CONNECTION,
    KIND_JWT,
    KIND_PEM,
    KIND_VALUE,
    scan_run_dir,
    secret_scan_check,
)


def test_a_clean_real_run_has_no_finding(real_run) -> None:
    result = secret_scan_check(real_run.run_dir, [real_run.token])
    assert result.status is Status.PASS, result.evidence["hits"]
    assert result.evidence["secrets_scanned"] == 1


def test_a_secret_planted_in_a_check_output_is_caught_by_file(real_run, tmp_path: Path) -> None:
    run_dir = copy_env(real_run.run_dir.parent, tmp_path) / real_run.run_dir.name
    nb_path = run_dir / "notebooks" / "04_verify.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    leak = CheckResult(
        id="smoke.leaky",
        section="§1.2",
        title="leaks",
        status=Status.PASS,
        evidence={"headers": {"X-Token": real_run.token}},
    )
    nb.cells.append(
        nbformat.v4.new_code_cell(
            outputs=[
                nbformat.v4.new_output(
                    "display_data",
                    data={k: v for k, v in leak._repr_mimebundle_().items() if k != "text/html"},
                )
            ]
        )
    )
    nbformat.write(nb, nb_path)
    password = "p@ss/w:rd&more+" + secrets.token_hex(4)  # its URL-encoded form differs
    (run_dir / "evidence" / "callback.txt").write_text(
        f"https://x.invalid/cb?secret={quote(password, safe='')}&next=1"
    )
    result = secret_scan_check(run_dir, [real_run.token, password])
    assert result.status is Status.FAIL
    assert result.observed["files_with_secrets"] == [
        "evidence/callback.txt",
        "notebooks/04_verify.ipynb",
    ]
    assert {h["kind"] for h in result.evidence["hits"]} == {KIND_VALUE}
    payload = json.dumps(result.to_payload())
    assert real_run.token not in payload and quote(password, safe="") not in payload


def _kinds(tmp_path: Path, name: str, text: str) -> set[str]:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "out.txt").write_text(text)
    return {h.kind for h in scan_run_dir(folder)}


def test_credential_shapes_are_caught(tmp_path: Path) -> None:
    jwt = (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    )
    token = secrets.token_urlsafe(24) + "9a"
    assert _kinds(tmp_path, "jwt", f'{{"key": "{jwt}"}}') == {KIND_JWT}
    assert _kinds(tmp_path, "bearer", f"Authorization: Bearer {token}\n") == {KIND_BEARER}
    assert _kinds(tmp_path, "bearer2", f'{{"auth": "Bearer {token}"}}') == {KIND_BEARER}
    assert _kinds(
        tmp_path, "conn", "DATABASE_URL=postgresql+asyncpg://app:s3cr3t-pw@db.internal:5432/app"
    ) == {KIND_CONNECTION}
    assert _kinds(
        tmp_path,
        "key",
        "DefaultEndpointsProtocol=https;AccountName=pix;AccountKey=" + "A1b2" * 22 + "==;",
    ) == {KIND_ACCOUNT_KEY}
    pem = "-----BEGIN RSA PRIVATE KEY-----\n" + "MIIEpAIBAAKCAQEA" * 4 + "\n-----END"
    assert _kinds(tmp_path, "pem", json.dumps({"key": pem})) == {KIND_PEM}
    zipped = tmp_path / "gz"
    zipped.mkdir()
    (zipped / "samples.csv.gz").write_bytes(gzip.compress(f"Bearer {token}".encode()))
    assert [(h.file, h.kind) for h in scan_run_dir(zipped)] == [("samples.csv.gz!", KIND_BEARER)]


def test_placeholders_and_masked_values_are_not_findings(tmp_path: Path) -> None:
    text = "\n".join(
        [
            'curl -H "Authorization: Bearer $TOKEN" https://api.pixcrawler.com/api/v1/auth/me',
            '{"authorization": "<redacted>", "Authorization": "Bearer <redacted>"}',
            "the Bearer authentication scheme (HTTPBearer)",
            "DATABASE_URL=postgresql+asyncpg://app:•••@db.example.invalid:5432/app",
            "REDIS_URL=redis://default:***@cache:6379/0 and postgresql://user:${DB_PASSWORD}@db/x",
            "SUPABASE_SERVICE_ROLE_KEY=eyJhbGc...",
            "https://user@example.com/path http://127.0.0.1:8765/health",
        ]
    )
    assert _kinds(tmp_path, "clean", text) == set()
