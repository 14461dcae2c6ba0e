"""The sandbox as a process: the command line, start_sandbox's errors, clean stops, no orphans."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from sandbox_support import AUTH, TOKEN

from rehearsal.sandbox.__main__ import main
from rehearsal.sandbox.config import SandboxConfig
from rehearsal.sandbox.server import SandboxError, SandboxHandle, start_sandbox


def _gone(pid: int) -> bool:
    """True once pid has exited (a zombie waiting for its reaper counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def _wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return False


def _serve(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rehearsal.sandbox", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )


def test_serve_prints_one_ready_line_and_stops_cleanly_on_sigterm() -> None:
    env = {**os.environ, "SANDBOX_TEST_TOKEN": TOKEN}
    process = _serve("--token-env", "SANDBOX_TEST_TOKEN", env=env)
    try:
        ready = json.loads(process.stdout.readline())
        assert ready["event"] == "ready" and ready["pid"] == process.pid
        assert ready["url"].startswith("http://127.0.0.1:")
        assert httpx.get(f"{ready['url']}/api/v1/auth/me", headers=AUTH).status_code == 200
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["event"] == "stopped"
    assert TOKEN not in out + err


def test_serve_without_token_generates_one_says_how_to_export_it_and_stops_on_sigint() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PIXCRAWLER_SANDBOX_TOKEN"}
    process = _serve(env=env)
    try:
        url = json.loads(process.stdout.readline())["url"]
        assert "PIXCRAWLER_SANDBOX_TOKEN is not set" in process.stderr.readline()
        export = process.stderr.readline()
        assert export.strip().startswith("export PIXCRAWLER_SANDBOX_TOKEN=")
        generated = export.strip().split("=", 1)[1]
        headers = {"Authorization": f"Bearer {generated}"}
        assert httpx.get(f"{url}/api/v1/auth/me", headers=headers).status_code == 200
        assert httpx.get(f"{url}/api/v1/auth/me", headers=AUTH).status_code == 401
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0


def test_serve_rejects_an_invalid_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--config-json", '{"prot": 1}']) == 2
    assert "prot" in capsys.readouterr().err


def test_set_faults_command_changes_a_running_sandbox(
    sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    changes = '{"latency_ms": 5, "fail_routes": ["GET /health"]}'
    assert main(["set-faults", "--url", sandbox.url, "--json", changes]) == 0
    assert json.loads(capsys.readouterr().out)["latency_ms"] == 5
    assert sandbox.faults().fail_routes == ["GET /health"]
    assert httpx.get(f"{sandbox.url}/health").status_code == 500

    assert main(["set-faults", "--url", sandbox.url, "--json", '{"error_rate": 3}']) == 1
    assert "422" in capsys.readouterr().err
    assert main(["set-faults", "--url", sandbox.url, "--json", "[1]"]) == 1
    assert sandbox.faults().error_rate == 0


def test_start_sandbox_keeps_the_token_out_of_argv(shared_sandbox: SandboxHandle) -> None:
    cmdline = Path(f"/proc/{shared_sandbox.pid}/cmdline").read_bytes().decode()
    assert "rehearsal.sandbox" in cmdline
    assert TOKEN not in cmdline


def test_leaving_the_context_stops_the_sandbox() -> None:
    with start_sandbox(SandboxConfig(port=0), TOKEN) as handle:
        assert httpx.get(f"{handle.url}/health").status_code == 200
    assert not handle.running
    assert _wait_gone(handle.pid)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{handle.url}/health", timeout=2)


def test_start_sandbox_reports_why_it_could_not_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SandboxError) as excinfo:
            start_sandbox(SandboxConfig(port=port), TOKEN)
    message = str(excinfo.value)
    assert "exited before it was ready" in message
    assert "could not listen" in message  # the child's stderr is part of the error


def test_start_sandbox_times_out_clearly() -> None:
    with pytest.raises(SandboxError, match=r"no ready line within 0.01 s"):
        start_sandbox(SandboxConfig(port=0), TOKEN, startup_timeout=0.01)


def test_sandbox_does_not_outlive_a_killed_parent(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, time
            from rehearsal.sandbox.config import SandboxConfig
            from rehearsal.sandbox.server import start_sandbox
            handle = start_sandbox(SandboxConfig(port=0), "parent-token")
            print(handle.pid, flush=True)
            time.sleep(60)
            """
        )
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert not _gone(child)
        parent.kill()  # no atexit, no context manager: only the child's own watch helps
        parent.wait(10)
        assert _wait_gone(child, timeout=5), "sandbox outlived its parent"
    finally:
        parent.kill()
