"""A server that daemonizes (PostgreSQL under pg_ctl) outlives an owner killed with SIGKILL:
nothing in the owner runs to stop it. The guard is a detached watcher process that waits for
the owner to end, then signals the server and removes its folder. The owner stops the guard
first when it cleans up normally, so only a dead owner ever triggers it.

    python -m rehearsal.orphan_guard OWNER_PID SERVER_PID SIGNAL FOLDER
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SERVER_EXIT_BOUND_S = 60.0  # how long the guard waits for the signalled server to go


def start_guard(server_pid: int, folder: Path, sig: signal.Signals) -> subprocess.Popen[bytes]:
    """Watch this process; when it ends, send `sig` to `server_pid` and delete `folder`. The
    watcher has its own session, so a kill of the owner's process group leaves it to act."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rehearsal.orphan_guard",
            str(os.getpid()),
            str(server_pid),
            str(int(sig)),
            str(folder),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def stop_guard(guard: subprocess.Popen[bytes]) -> None:
    """The owner is cleaning up itself: the watcher ends without touching anything."""
    guard.kill()
    guard.wait()


def _wait_for_exit(pid: int) -> None:
    """Block until process `pid` has ended (at once when it already has)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str]) -> int:
    owner, server, sig, folder = int(argv[0]), int(argv[1]), int(argv[2]), Path(argv[3])
    _wait_for_exit(owner)
    try:
        os.kill(server, sig)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + SERVER_EXIT_BOUND_S
    while _alive(server) and time.monotonic() < deadline:
        time.sleep(0.2)
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
