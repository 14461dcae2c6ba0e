"""Start the stand-in as a subprocess and talk to its admin routes."""

from __future__ import annotations

import atexit
import json
import os
import queue
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx

from rehearsal.azure_standin.config import FaultKnobs, StandinConfig
from rehearsal.azure_standin.faults import ADMIN_PREFIX
from rehearsal.azure_standin.server import READY_EVENT


class StandinStartError(RuntimeError):
    """The stand-in did not announce readiness in time (or exited first)."""


class StandinHandle:
    """A running stand-in: its URL, the CA bundle clients trust, admin helpers, and stop()."""

    def __init__(
        self,
        process: subprocess.Popen[str],
        url: str,
        ca_bundle: Path,
        log: Path,
        reader: threading.Thread | None = None,
    ) -> None:
        self.process = process
        self._reader = reader
        self.url = url
        self.ca_bundle = ca_bundle
        self.log = log
        atexit.register(self.stop)

    # -- lifecycle ------------------------------------------------------------------------
    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the subprocess (kill after `timeout` s); safe to call twice."""
        proc = self.process
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(timeout)  # it closes stdout at end of file
        atexit.unregister(self.stop)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- admin ----------------------------------------------------------------------------
    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        trust = ssl.create_default_context(cafile=str(self.ca_bundle))
        with httpx.Client(base_url=self.url, verify=trust, timeout=10) as client:
            response = client.request(method, ADMIN_PREFIX + path, json=body)
            response.raise_for_status()
            return response.json()

    def state(self) -> dict[str, Any]:
        """The stand-in's whole state (config, operations, restarts)."""
        return self._admin("GET", "/state")

    def set_faults(self, faults: FaultKnobs | None = None, **knobs: Any) -> FaultKnobs:
        """Replace the fault knobs (a FaultKnobs, or keyword knobs over the defaults)."""
        model = faults or FaultKnobs.model_validate(knobs)
        return FaultKnobs.model_validate(
            self._admin("PUT", "/faults", model.model_dump(mode="json"))
        )

    def set_app_settings(
        self, site: str, settings: dict[str, str], slot: str | None = None
    ) -> None:
        """Replace the app settings of a site (or of one of its slots)."""
        path = f"/sites/{site}" + (f"/slots/{slot}" if slot else "") + "/appsettings"
        self._admin("PUT", path, settings)

    def requests(self) -> list[dict[str, Any]]:
        """ARM requests seen since the last reset: method, path, status."""
        return self._admin("GET", "/requests")

    def reset(self) -> None:
        """Back to the seed config, no faults, empty request log."""
        self._admin("POST", "/reset")


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    """Read the subprocess's stdout to its end (so it never blocks on a full pipe)."""
    with stream:
        for line in stream:
            lines.put(line)


def start_standin(
    config: StandinConfig,
    workdir: Path,
    *,
    startup_timeout: float = 20,
    host: str = "127.0.0.1",
    port: int = 0,
    env: dict[str, str] | None = None,
) -> StandinHandle:
    """Start `python -m rehearsal.azure_standin serve` on `host:port`; return once it is ready."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "standin-config.json"
    config_path.write_text(config.model_dump_json(indent=2), encoding="utf-8")
    log = workdir / "standin.log"
    cmd = [
        sys.executable,
        "-m",
        "rehearsal.azure_standin",
        "serve",
        "--config",
        str(config_path),
        "--workdir",
        str(workdir),
        "--host",
        host,
        "--port",
        str(port),
        "--parent-pid",
        str(os.getpid()),
    ]
    with log.open("w", encoding="utf-8") as log_fh:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=log_fh,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **(env or {})},
        )
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    reader.start()

    deadline = time.monotonic() + startup_timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StandinStartError(f"stand-in not ready after {startup_timeout} s; see {log}")
            try:
                line = lines.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                if proc.poll() is not None:
                    raise StandinStartError(
                        f"stand-in exited with code {proc.returncode} before it was ready: "
                        f"{log.read_text(encoding='utf-8')[-2000:]}"
                    ) from None
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") == READY_EVENT:
                return StandinHandle(proc, event["url"], Path(event["ca_bundle"]), log, reader)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        raise
