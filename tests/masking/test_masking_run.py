"""A token-echoing target leaves no token anywhere under the run directory. The sandbox's
`echo_authorization` fault reflects the request's Authorization header in the JSON body, in
response headers (raw and URL-encoded in Location) and in error messages; `runbook run --phase
verify` against it must record the echoes masked (`***$PIXCRAWLER_SANDBOX_TOKEN***`), and the
secret scan, the second line, must find nothing."""

from __future__ import annotations

import base64
import gzip
import html
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

from runbook.core.masking import value_forms

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "echoed-sandbox-token-7Hq2/Lm+9xYz_0123"
MASK = "***$PIXCRAWLER_SANDBOX_TOKEN***"
RUN_TIMEOUT_S = 900


def every_form(value: str) -> set[bytes]:
    """What the test looks for: the scanner's forms and a few written out independently."""
    raw = value.encode()
    extra = {
        value,
        json.dumps(value)[1:-1],
        quote(value, safe=""),
        quote_plus(value),
        html.escape(value),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        base64.b64encode(b"Bearer " + raw).decode()[12:40],  # mid-stream, past "Bearer "
    }
    return value_forms(value) | {e.encode() for e in extra}


def file_blobs(run_dir: Path) -> list[tuple[str, bytes]]:
    """Every file's bytes, plus gzip content and zip members."""
    out = []
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        out.append((str(path.relative_to(run_dir)), data))
        if data[:2] == b"\x1f\x8b":
            out.append((f"{path.name}!", gzip.decompress(data)))
        elif data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(path) as archive:
                out += [(f"{path.name}!{n}", archive.read(n)) for n in archive.namelist()]
    return out


def test_the_sandbox_fault_really_echoes_the_token(live_sandbox: Any, sandbox_token: str) -> None:
    live_sandbox.reset()
    live_sandbox.set_faults(echo_authorization=True, fail_routes=["GET /api/v1/notifications/"])
    try:
        auth = {"Authorization": f"Bearer {sandbox_token}"}
        with httpx.Client(base_url=live_sandbox.url, timeout=30) as client:
            ok = client.get("/api/v1/auth/me", headers=auth)
            failed = client.get("/api/v1/notifications/", headers=auth)
            anonymous = client.get("/api/v1/auth/me")
    finally:
        live_sandbox.reset()
    assert ok.status_code == 200 and ok.json()["authorization"] == f"Bearer {sandbox_token}"
    assert ok.headers["x-echo-authorization"] == f"Bearer {sandbox_token}"
    assert quote(f"Bearer {sandbox_token}", safe="") in ok.headers["location"]
    assert failed.status_code == 500
    assert sandbox_token in failed.json()["error"]["message"]
    assert "authorization" not in anonymous.json()  # nothing sent, nothing echoed


def test_a_token_echoing_target_leaves_no_token_under_the_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOK_")}
    env["PIXCRAWLER_SANDBOX_TOKEN"] = TOKEN
    done = subprocess.run(
        [
            sys.executable, "-m", "runbook.cli", "run", "--env", "local", "--phase", "verify",
            "--outputs", str(tmp_path / "outputs"),
            "--param", "rehearsal.sandbox.faults.echo_authorization=true",
            "--param", 'rehearsal.sandbox.faults.fail_routes=["GET /api/v1/notifications/"]',
        ],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    assert done.stdout.strip(), done.stderr[-4000:]
    run_dir = Path(done.stdout.strip().splitlines()[-1].split(": ", 1)[1])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    results = {r["id"]: r for r in manifest["results"]}
    # the echoes reached the evidence, masked: in the body, the Location header, an error message
    failing = results["smoke.list-notifications"]
    assert f"(request Authorization: Bearer {MASK})" in failing["explanation"]
    notebook = (run_dir / "notebooks" / "04_verify.ipynb").read_text()
    assert quote("Bearer ", safe="") + MASK in notebook  # Location, URL-encoded
    assert f'\\"authorization\\": \\"Bearer {MASK}\\"' in notebook  # JSON body excerpt
    # and the token, in any form, nowhere: notebooks, HTML, report, manifest, evidence files
    forms = every_form(TOKEN)
    leaks = [(name, f) for name, data in file_blobs(run_dir) for f in forms if f in data]
    assert not leaks, [name for name, _ in leaks]
    assert results["runbook.secret-scan"]["status"] == "pass", results["runbook.secret-scan"]
    assert TOKEN not in done.stdout + done.stderr
