"""Real partial runs (`runbook run --env local --phase verify`, the CLI in a subprocess against
the sandbox) with notifications to a real receiver: one message per verdict, carrying it; a
receiver answering 500 and one refusing connections leave the verdict as the phases made it,
and what happened is evidence the manifest hashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from notify_receiver import Receiver, refused_url, webhook_receiver

from runbook.core import evidence as ev
from runbook.core.verdict import Verdict, combine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        r.statuses["/broken"] = 500
        yield r


def _run(out: Path, hooks: dict[str, str], *params: str) -> tuple[Path, dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOK_TEST_")}
    env.pop("PIXCRAWLER_API_TOKEN", None)
    env["PIXCRAWLER_SANDBOX_TOKEN"] = "tok-" + os.urandom(9).hex()
    args = ["--param", "notify.retries=1", "--param", "notify.backoff_s=0"]
    for channel, url in hooks.items():
        name = f"RUNBOOK_TEST_{channel.upper()}_HOOK"
        env[name] = url
        args += ["--param", f"notify.{channel}={{env: {name}}}"]
    for p in params:
        args += ["--param", p]
    proc = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "run", "--env", "local", "--phase", "verify",
         "--outputs", str(out), *args],
        capture_output=True, text=True, timeout=900, env=env, cwd=ROOT,
    )  # fmt: skip
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert ": " in last, f"no run directory:\n{proc.stdout}\n{proc.stderr}"
    run_dir = Path(last.split(": ", 1)[1])
    return run_dir, json.loads((run_dir / "manifest.json").read_text()), proc.stderr


def test_one_message_per_verdict_and_failing_receivers_change_nothing(
    receiver: Receiver, tmp_path: Path
) -> None:
    hooks = {
        "webhook": receiver.url("/healthy"),
        "slack": receiver.url("/broken"),
        "teams": refused_url(),
    }
    run_dir, manifest, stderr = _run(tmp_path, hooks)

    messages = receiver.on("/healthy")
    assert len(messages) == 1, stderr
    assert messages[0].body["verdict"] == manifest["verdict"]
    assert messages[0].body["run_id"] == manifest["run_id"]
    assert messages[0].body["environment"] == "local"
    # the verdict is the phases' and the scan's; the failed channels did not touch it
    made = combine([Verdict(p["verdict"]) for p in manifest["phases"]])
    assert manifest["verdict"] == made.value
    sent = next(r for r in manifest["results"] if r["id"] == "notify.sent")
    assert sent["status"] == "fail" and sent["severity"] == "warning"
    assert len(receiver.on("/broken")) == 2  # one retry
    record = json.loads((run_dir / "notifications.json").read_text())
    assert {d["channel"]: d["status"] for d in record["deliveries"]} == {
        "teams": "failed",
        "slack": "failed",
        "webhook": "delivered",
    }
    # recorded before the manifest: hashed with the evidence, so the run still verifies
    assert "notifications.json" in manifest["files"]
    assert ev.verify(run_dir).ok
    everything = b"".join(p.read_bytes() for p in run_dir.rglob("*") if p.is_file())
    for url in hooks.values():
        assert url.split("://", 1)[1].encode() not in everything


def test_a_no_go_is_told_with_its_failing_check(receiver: Receiver, tmp_path: Path) -> None:
    _, manifest, stderr = _run(
        tmp_path,
        {"webhook": receiver.url("/no-go")},
        'rehearsal.sandbox.faults.fail_routes=["POST /api/v1/projects/"]',
    )
    assert manifest["verdict"] == "NO-GO"
    messages = receiver.on("/no-go")
    assert len(messages) == 1, stderr
    body = messages[0].body
    assert body["verdict"] == "NO-GO"
    assert "smoke.create-project" in [f["id"] for f in body["failing_checks"]]
    sent = next(r for r in manifest["results"] if r["id"] == "notify.sent")
    assert sent["status"] == "pass"
