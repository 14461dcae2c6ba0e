"""`runbook lab` as a process people can trust: ready (as root too) before it prints its URL,
the token printed or taken from a secret reference, and SIGINT or SIGTERM, without a terminal,
stops JupyterLab, its kernels and every stand-in it started (valkey, the Celery worker, the
sandbox, the Azure stand-in, PostgreSQL)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from lab_support import ROOT, marked_processes, start_lab, started_by, still_running

MARK = "RUNBOOK_LAB_TEST_MARK"


def _api(base: str, token: str | None, path: str, method: str = "GET") -> int:
    headers = {"Authorization": f"token {token}"} if token else {}
    request = urllib.request.Request(f"{base}{path}", method=method, headers=headers, data=None)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _start_kernel(base: str, token: str) -> None:
    request = urllib.request.Request(
        f"{base}/api/kernels",
        method="POST",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        data=json.dumps({"name": "python3"}).encode(),
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 201


def _wait_gone(mark: str, bound_s: float = 120.0) -> list[str]:
    deadline = time.monotonic() + bound_s
    left = marked_processes(mark)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = marked_processes(mark)
    return left


@pytest.mark.parametrize(
    ("sig", "phase"), [(signal.SIGINT, "monitor"), (signal.SIGTERM, "deploy")], ids=["int", "term"]
)
def test_a_stop_signal_leaves_no_process_behind(
    tmp_path: Path, sig: signal.Signals, phase: str
) -> None:
    mark = uuid.uuid4().hex
    lab = start_lab(tmp_path / "outputs", "--phase", phase, env={MARK: mark})
    try:
        assert _api(lab.base_url, lab.token, "/api/status") == 200
        assert _api(lab.base_url, None, "/api/contents") == 403  # the token is required
        _start_kernel(lab.base_url, lab.token)
        snapshot = started_by(lab, mark)
        running = [cmd for _, cmd in snapshot.values()]
        assert any("jupyter" in p and "lab" in p for p in running), running
        assert any("ipykernel" in p for p in running), running
        if phase == "monitor":  # what the issue saw left running
            assert any("celery" in p for p in running), running
            assert any("valkey" in p or "redis" in p for p in running), running
    finally:
        code = lab.stop(sig)
    assert code == 0, lab.output()[-3000:]
    assert "stopped (" in lab.output()
    assert still_running(snapshot) == []
    assert _wait_gone(mark) == []
    assert lab.run_dir is not None and (lab.run_dir / "lab-session.json").is_file()


def test_the_token_comes_from_a_secret_reference(tmp_path: Path) -> None:
    secret = "lab-" + uuid.uuid4().hex
    mark = uuid.uuid4().hex
    lab = start_lab(
        tmp_path / "outputs",
        "--phase",
        "deploy",
        "--token-ref",
        "$LAB_TEST_TOKEN",
        env={"LAB_TEST_TOKEN": secret, MARK: mark},
    )
    try:
        assert lab.token == "<the"  # the URL names the reference, never the value
        assert secret not in lab.output()
        assert _api(lab.base_url, secret, "/api/status") == 200
        assert _api(lab.base_url, "wrong", "/api/contents") == 403
    finally:
        lab.stop(signal.SIGTERM)
    assert _wait_gone(mark) == []


def test_an_unset_token_reference_starts_nothing(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "lab", "--env", "local", "--no-browser",
         "--token-ref", "$LAB_TEST_UNSET_TOKEN", "--outputs", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "$LAB_TEST_UNSET_TOKEN" in proc.stderr and "nothing was started" in proc.stderr
    assert not (tmp_path / "local").exists()


def test_a_busy_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "runbook.cli", "lab", "--env", "local", "--no-browser",
             "--port", str(port), "--outputs", str(tmp_path)],
            capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
        )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert f"--port {port}" in proc.stderr and "--port 0" in proc.stderr
    assert not (tmp_path / "local").exists()
