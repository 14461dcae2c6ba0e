"""Start the sandbox as a subprocess and talk to its admin routes."""

from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from types import TracebackType
from typing import IO, Any, Self

from rehearsal.sandbox.config import DEFAULT_TOKEN_ENV, SandboxConfig, SandboxFaults
from rehearsal.sandbox.traffic import ADMIN_PREFIX, RequestRecord


class SandboxError(RuntimeError):
    """The sandbox could not be started or its admin routes answered unexpectedly."""


# -- admin client (used by SandboxHandle and the set-faults command) ----------------------------
def _admin(method: str, url: str, path: str, timeout: float, body: Any = None) -> Any:
    import httpx  # here, not at the top: the sandbox process itself never needs it

    try:
        response = httpx.request(
            method, f"{url.rstrip('/')}{ADMIN_PREFIX}{path}", json=body, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise SandboxError(f"{method} {ADMIN_PREFIX}{path} on {url}: {exc!r}") from exc
    if response.status_code != 200:
        raise SandboxError(
            f"{method} {ADMIN_PREFIX}{path} on {url} answered {response.status_code}: "
            f"{response.text[:500]}"
        )
    return response.json()


def get_faults(url: str, *, timeout: float = 5.0) -> SandboxFaults:
    """The fault knobs in force on the sandbox at url."""
    return SandboxFaults.model_validate(_admin("GET", url, "/faults", timeout))


def set_faults(url: str, changes: dict[str, Any], *, timeout: float = 5.0) -> SandboxFaults:
    """Change some fault knobs of the sandbox at url (others keep theirs); returns all knobs."""
    return SandboxFaults.model_validate(_admin("PUT", url, "/faults", timeout, changes))


def get_requests(url: str, *, since: int = 0, timeout: float = 5.0) -> list[RequestRecord]:
    """The sandbox's request log (entries numbered above `since`), oldest first."""
    body = _admin("GET", url, f"/requests?since={since}", timeout)
    return [RequestRecord.model_validate(r) for r in body["requests"]]


def reset_sandbox(url: str, *, timeout: float = 5.0) -> None:
    """Empty the sandbox's data and log, restore its configured faults and rate windows."""
    _admin("POST", url, "/reset", timeout)


# -- the subprocess -----------------------------------------------------------------------------
_live: weakref.WeakSet[SandboxHandle] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for handle in list(_live):
        handle.stop()


class SandboxHandle:
    """A running sandbox subprocess: its URL and pid, its admin routes, and a way to stop it."""

    def __init__(self, process: subprocess.Popen[str], url: str, stderr: IO[bytes]) -> None:
        self._process = process
        self._stderr = stderr
        self.url = url
        self.pid = process.pid
        _live.add(self)

    @property
    def running(self) -> bool:
        """True while the subprocess has not exited."""
        return self._process.poll() is None

    def faults(self) -> SandboxFaults:
        """The fault knobs in force."""
        return get_faults(self.url)

    def set_faults(self, **changes: Any) -> SandboxFaults:
        """Change some fault knobs while running; returns all knobs now in force."""
        return set_faults(self.url, changes)

    def requests(self, since: int = 0) -> list[RequestRecord]:
        """The request log (entries numbered above `since`)."""
        return get_requests(self.url, since=since)

    def reset(self) -> None:
        """Empty data and log, restore configured faults."""
        reset_sandbox(self.url)

    def stderr_text(self) -> str:
        """What the subprocess wrote to stderr so far."""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate the subprocess (kill it after timeout seconds); returns its exit code."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout)
        _live.discard(self)
        if not self._stderr.closed:
            self._stderr.close()
        return self._process.returncode

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SandboxHandle(url={self.url!r}, pid={self.pid}, running={self.running})"


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def start_sandbox(
    config: SandboxConfig,
    token: str,
    *,
    startup_timeout: float = 120,
    token_env: str = DEFAULT_TOKEN_ENV,
) -> SandboxHandle:
    """Start the sandbox subprocess, wait for its ready line; the token goes by environment."""
    if not token:
        raise ValueError("start_sandbox needs a non-empty token")
    problem = config.database_problem()
    if problem:
        raise ValueError(problem)
    env = {**os.environ, token_env: token}
    command = [
        sys.executable, "-m", "rehearsal.sandbox", "serve",
        "--config-json", config.model_dump_json(),
        "--token-env", token_env,
        "--exit-with-parent",
    ]  # fmt: skip
    stderr = tempfile.TemporaryFile()  # closed by SandboxHandle.stop()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=stderr, env=env, text=True, bufsize=1
    )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()

    def fail(reason: str) -> SandboxError:
        if process.poll() is None:
            process.kill()
        process.wait()
        stderr.seek(0)
        err = stderr.read().decode("utf-8", "replace").strip()
        stderr.close()
        return SandboxError(
            f"sandbox did not start: {reason} (exit code {process.returncode}); "
            f"stderr: {err[-2000:] or '(empty)'}"
        )

    deadline = time.monotonic() + startup_timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise fail(f"no ready line within {startup_timeout:g} s")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            raise fail("the process exited before it was ready")
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("event") == "ready":
            return SandboxHandle(process, str(event["url"]), stderr)


__all__ = [
    "SandboxError",
    "SandboxHandle",
    "get_faults",
    "get_requests",
    "reset_sandbox",
    "set_faults",
    "start_sandbox",
]
