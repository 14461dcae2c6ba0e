"""The rehearsal's PostgreSQL daemonizes, so an owner killed with SIGKILL cannot stop it: its
orphan guard does. A normal exit stops the guard first and leaves nothing running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from waiting import wait_for

OWNER = """
import sys, time
from rehearsal.postgres_server import local_postgres
with local_postgres() as pg:
    pid = int((pg.pgdata / "postmaster.pid").read_text().splitlines()[0])
    print(pid, pg.pgdata.parent, flush=True)
    if sys.argv[1] == "wait":
        time.sleep(3600)
"""
START_BOUND_S = 240.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _guards_of(folder: Path) -> list[int]:
    """Processes whose command line names `folder` (the guard is told the folder to delete)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"rehearsal.orphan_guard" in cmd and str(folder).encode() in cmd:
                found.append(int(entry.name))
    return found


def _start_owner(mode: str) -> tuple[subprocess.Popen[str], int, Path]:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, mode], stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    assert owner.stdout is not None
    line = owner.stdout.readline()  # blocks until the server is ready (its own bound)
    assert line, f"the owner ended before the server started (exit {owner.wait()})"
    pid, folder = line.split()
    return owner, int(pid), Path(folder)


def test_a_killed_owner_leaves_no_server_and_no_folder() -> None:
    owner, server, folder = _start_owner("wait")
    try:
        assert _alive(server) and folder.is_dir()
        os.killpg(owner.pid, signal.SIGKILL)  # its whole process group, as a CI timeout would
        owner.wait()
        wait_for(lambda: not _alive(server), "the orphaned PostgreSQL stopped", START_BOUND_S)
        wait_for(lambda: not folder.exists(), "its folder deleted", START_BOUND_S)
        wait_for(lambda: not _guards_of(folder), "the guard itself ended", START_BOUND_S)
    finally:
        if _alive(server):
            os.kill(server, signal.SIGKILL)


def test_a_normal_exit_stops_the_guard_and_the_server() -> None:
    owner, server, folder = _start_owner("exit")
    assert owner.wait(timeout=START_BOUND_S) == 0
    assert _guards_of(folder) == []  # stopped before the server, so it never acted
    wait_for(lambda: not _alive(server), "the server stopped by its owner", START_BOUND_S)
    assert not folder.exists()
