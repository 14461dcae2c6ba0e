"""A real `runbook lab` process for the tests: started without a terminal in its own session,
read until it says it is ready, stopped by a signal; and the processes it leaves behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"JupyterLab ready: (http://[^/]+)/\S*\?token=(\S+)")
RUN = re.compile(r"run \S+ → (\S+)")
START_BOUND_S = 300.0  # stand-ins and JupyterLab on a busy 2-core machine


@dataclass
class Lab:
    """A started `runbook lab`: its process, URL, token, run directory and output so far."""

    proc: subprocess.Popen[str]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    base_url: str = ""
    token: str = ""
    run_dir: Path | None = None

    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)

    def stop(self, sig: int = signal.SIGINT, bound_s: float = 120.0) -> int:
        """Send `sig` and wait for the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(bound_s)


def _pump(stream: object, sink: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sink.append(line)


def start_lab(outputs: Path, *args: str, env: dict[str, str] | None = None) -> Lab:
    """`runbook lab --env local --no-browser --port 0 --outputs OUTPUTS ARGS…`, until ready."""
    environ = {k: v for k, v in os.environ.items() if k != "RUNBOOK_HEADLESS"}
    environ.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "runbook.cli", "lab", "--env", "local", "--no-browser",
         "--port", "0", "--outputs", str(outputs), *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=ROOT, env=environ, start_new_session=True,
    )  # fmt: skip
    lab = Lab(proc)
    for stream, sink in ((proc.stdout, lab.stdout), (proc.stderr, lab.stderr)):
        threading.Thread(target=_pump, args=(stream, sink), daemon=True).start()
    deadline = time.monotonic() + START_BOUND_S
    while time.monotonic() < deadline:
        found = READY.search("".join(lab.stdout))
        if found:
            lab.base_url, lab.token = found.group(1), found.group(2)
            run = RUN.search("".join(lab.stderr))
            lab.run_dir = Path(run.group(1)) if run else None
            return lab
        if proc.poll() is not None:
            time.sleep(0.5)  # the pumps catch the last lines
            raise AssertionError(f"runbook lab exited ({proc.returncode}):\n{lab.output()[-4000:]}")
        time.sleep(0.2)
    lab.stop(signal.SIGTERM)
    raise AssertionError(f"runbook lab not ready within {START_BOUND_S} s:\n{lab.output()[-4000:]}")


def processes_in_session(sid: int) -> list[str]:
    """Command lines of the live processes in session `sid` (zombies excluded)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(f"{stat.parent.name}: {cmd.strip()}")
    return found


def marked_processes(mark: str) -> list[str]:
    """Command lines of the live processes whose environment holds `mark` (a unique
    variable given to one `runbook lab`: everything it starts inherits it)."""
    needle = mark.encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle not in environ.read_bytes():
                continue
            stat = (environ.parent / "stat").read_text()
            cmd = (environ.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2 :].split()[0] != "Z":
            found.append(f"{environ.parent.name}: {cmd.strip()}")
    return found


def _identity(pid: int) -> tuple[str, str] | None:
    """(start time, command line) of a live process, None when gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return None if fields[0] == "Z" else (fields[19], cmd.strip())


def started_by(lab: Lab, mark: str) -> dict[int, tuple[str, str]]:
    """Every process the lab started, now: its descendants (some leave its session, and some
    overwrite their environment, e.g. valkey's process title) and whatever carries `mark`."""
    from runbook.orchestration.lab import descendants

    pids = set(descendants(lab.proc.pid))
    pids |= {int(line.split(":", 1)[0]) for line in marked_processes(mark)}
    found = {pid: _identity(pid) for pid in pids}
    return {pid: ident for pid, ident in found.items() if ident is not None}


def still_running(snapshot: dict[int, tuple[str, str]], bound_s: float = 120.0) -> list[str]:
    """The processes of `snapshot` still alive (same pid and start time) after `bound_s`."""
    deadline = time.monotonic() + bound_s
    while True:
        left = [f"{pid}: {cmd}" for pid, (t, cmd) in snapshot.items() if _identity(pid) == (t, cmd)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)
