"""`runbook lab`: a run a person executes in JupyterLab.

The request is validated like a headless run's (`pipeline.prepare`: parameters, phases, the
approval and promotion gates), the stand-ins the phases use are started, and a fresh run
directory `outputs/<env>/<run id>/` gets the phase notebooks parameterized as papermill would
(`env`, `params` with secret references only, `run_dir`) and a `lab-session.json` saying how
the run was asked for. JupyterLab opens that directory (never `runbooks/`, so the templates stay
untouched); its kernels run with RUNBOOK_INTERACTIVE=1, so sign-off cells show their widgets and
record each signature in the run directory. `runbook finish RUN_DIR` (or the last cell of a
notebook) judges the saved notebooks and writes manifest, report and chain entry.

Stopping (Ctrl-C, SIGINT, SIGTERM or SIGHUP, with or without a terminal) stops JupyterLab, its
kernels (and anything they started) and every stand-in this command started.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from runbook.core import evidence as ev
from runbook.core.parameters import (
    PARAMS_FILE_ENV,
    ParameterError,
    Parameters,
    load,
    public_dump,
)
from runbook.core.secret_refs import SecretRef, SecretUnavailable, resolve
from runbook.governance.signoff import HEADLESS_ENV, INTERACTIVE_ENV
from runbook.orchestration.local_services import provider_for

SESSION_FILE = "lab-session.json"
FINISH_TAG = "runbook-finish"  # the notebooks' last cell: finishes a lab run
TOKEN_ENV = "JUPYTER_TOKEN"  # how the token reaches JupyterLab (never on its command line)
DEFAULT_PORT = 8888
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
CONTENTS_MANAGER = "runbook.orchestration.lab_contents.SealedContentsManager"

Say = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class LabSession(BaseModel):
    """`lab-session.json`: what `runbook finish` needs to judge a lab run like a headless one."""

    model_config = ConfigDict(extra="forbid")

    mode: str = "interactive"
    run_id: str
    env: str
    phases: list[str]
    overrides: list[str]
    parameters_file: str
    parameters: dict[str, Any]  # public_dump: secret references only
    started_at: str
    gate_results: list[dict[str, Any]] = []
    gate_record: dict[str, Any] = {}

    @classmethod
    def read(cls, run_dir: Path) -> LabSession:
        """The session of a lab run; FileNotFoundError when `run_dir` is not one."""
        return cls.model_validate_json((run_dir / SESSION_FILE).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class LabOptions:
    """What `runbook lab` was asked for."""

    env: str
    overrides: list[str] = field(default_factory=list)
    phases: list[str] | None = None
    outputs: Path | None = None
    approval: Path | None = None
    port: int = DEFAULT_PORT  # 0: any free port
    ip: str = "127.0.0.1"
    no_browser: bool = False
    token_ref: str | None = None  # "$NAME": the token is that variable's value
    allow_root: bool | None = None  # None: when running as root
    ready_timeout_s: float = READY_TIMEOUT_S


class LabStopped(Exception):
    """A stop signal arrived; everything started unwinds."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class LabError(RuntimeError):
    """JupyterLab could not be started or did not become ready (message says why)."""


# -- the run directory -------------------------------------------------------------------------
def create_lab_run(
    outputs: Path,
    root: Path,
    loaded_source: Path,
    overrides: list[str],
    params: Parameters,
    phases: list[Any],
    gate_results: list[Any] | None = None,
    gate_record: dict[str, Any] | None = None,
) -> Path:
    """A fresh run directory with the parameterized phase notebooks and the session file."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    run_id, run_dir = ev.new_run_dir(outputs / params.environment)
    folder = run_dir / "notebooks"
    folder.mkdir()
    injected = {"env": params.environment, "params": public_dump(params), "run_dir": str(run_dir)}
    for phase in phases:
        nb = load_notebook_node(str(phase.path(root)))
        nb = parameterize_notebook(nb, injected, kernel_name=params.execution.kernel_name)
        nbformat.write(nb, folder / phase.notebook)
    session = LabSession(
        run_id=run_id,
        env=params.environment,
        phases=[p.name for p in phases],
        overrides=overrides,
        parameters_file=str(loaded_source),
        parameters=public_dump(params),
        started_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        gate_results=[r.to_payload() for r in gate_results or []],
        gate_record=gate_record or {},
    )
    ev.write_evidence(run_dir / SESSION_FILE, session.model_dump_json(indent=2) + "\n")
    return run_dir


# -- signals -----------------------------------------------------------------------------------
@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT/SIGTERM/SIGHUP into LabStopped in the main thread (installed even when the
    process inherited SIGINT ignored, as background jobs of a script do); restored after."""

    def handler(signum: int, _frame: object) -> None:
        for sig in STOP_SIGNALS:  # a second signal must not interrupt the clean-up
            signal.signal(sig, signal.SIG_IGN)
        raise LabStopped(signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# -- JupyterLab ----------------------------------------------------------------------------------
def free_port(ip: str) -> int:
    """A TCP port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((ip, 0))
        return int(sock.getsockname()[1])


def port_free(ip: str, port: int) -> bool:
    """True when nothing listens on ip:port now (JupyterLab is told not to fall back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True


def lab_token(token_ref: str | None) -> tuple[str, bool]:
    """(token, generated): a fresh random token, or the value of the secret reference."""
    if token_ref is None:
        return secrets.token_urlsafe(24), True
    from pydantic import ValidationError

    name = token_ref[1:] if token_ref.startswith("$") else token_ref
    try:
        return resolve(SecretRef(env=name)), False
    except ValidationError:
        raise ParameterError(
            [f"--token-ref {token_ref!r}: not an environment variable name (e.g. '$LAB_TOKEN')"]
        ) from None
    except SecretUnavailable as exc:
        raise ParameterError([f"--token-ref {token_ref}: {exc}"]) from None


def lab_command(run_dir: Path, options: LabOptions, port: int, checkpoints: Path) -> list[str]:
    """The JupyterLab command line (the token travels in the environment)."""
    allow_root = options.allow_root if options.allow_root is not None else os.geteuid() == 0
    args = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--ServerApp.root_dir={run_dir}",
        f"--ServerApp.ip={options.ip}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.contents_manager_class={CONTENTS_MANAGER}",
        f"--FileCheckpoints.checkpoint_dir={checkpoints}",
        "--LabApp.default_url=/lab/tree/notebooks",
    ]
    if options.no_browser:
        args.append("--no-browser")
    if allow_root:
        args.append("--allow-root")
    return args


def lab_environment(token: str) -> dict[str, str]:
    """The server's (and so its kernels') environment: interactive, never headless."""
    env = dict(os.environ)
    env.pop(HEADLESS_ENV, None)
    env.pop(PARAMS_FILE_ENV, None)
    env[INTERACTIVE_ENV] = "1"
    env[TOKEN_ENV] = token
    return env


def wait_ready(proc: subprocess.Popen[bytes], base_url: str, token: str, timeout_s: float) -> None:
    """Until the server answers /api/status with 200; LabError when it exits or times out."""
    deadline = time.monotonic() + timeout_s
    request = urllib.request.Request(
        f"{base_url}/api/status", headers={"Authorization": f"token {token}"}
    )
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise LabError(f"JupyterLab exited with code {code} before it was ready")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError, TimeoutError):
            pass
        time.sleep(0.25)
    raise LabError(f"JupyterLab did not answer {base_url}/api/status within {timeout_s:.0f} s")


def descendants(pid: int) -> list[int]:
    """Every process below `pid` now (read from /proc; empty where there is none)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2 :].split()[0] != "Z"


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def stop_process_tree(proc: subprocess.Popen[bytes], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM to JupyterLab (it shuts its kernels down), SIGKILL after `timeout_s`; then
    whatever it had started (kernels and their children) that is still alive."""
    below = descendants(proc.pid)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in below if _alive(p)]
        _signal_all(alive, sig)
        deadline = time.monotonic() + 10
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = [p for p in alive if _alive(p)]
        if not alive:
            return


def open_lab(options: LabOptions, say: Say = _stderr) -> int:
    """Validate, start the stand-ins, create the run, serve it in JupyterLab until a stop
    signal or JupyterLab's own exit; everything started is stopped on the way out.
    ParameterError (nothing started) for invalid input; LabError when JupyterLab fails."""
    from runbook.orchestration.pipeline import RunRequest, prepare

    plan = prepare(
        RunRequest(
            env=options.env,
            phases=options.phases,
            overrides=options.overrides,
            outputs=options.outputs,
            approval=options.approval,
        )
    )
    token, generated = lab_token(options.token_ref)
    if options.port and not port_free(options.ip, options.port):
        raise ParameterError(
            [
                f"--port {options.port}: something already listens there on {options.ip} (pick "
                "another port, or --port 0 for any free one)"
            ]
        )
    run_dir: Path | None = None
    try:
        with stop_on_signals(), ExitStack() as stack:
            params = plan.loaded.params
            if plan.local is not None:
                plan.local.export_secrets(params)
                params, services = plan.local.start(params, stack, say, plan.uses)
            run_dir = create_lab_run(
                plan.outputs,
                plan.root,
                plan.loaded.source,
                plan.loaded.overrides,
                params,
                plan.selected,
                plan.gate_results,
                plan.gate_record,
            )
            if plan.local is not None:
                stack.callback(_save_service_evidence, services, run_dir)
            stack.callback(_stop_started_apps, run_dir)
            say(f"run {run_dir.name} → {run_dir}")
            port = options.port or free_port(options.ip)
            checkpoints = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lab-cp-")))
            proc = subprocess.Popen(
                lab_command(run_dir, options, port, checkpoints),
                env=lab_environment(token),
                cwd=run_dir,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a terminal's Ctrl-C reaches only us; we stop it
            )
            stack.callback(stop_process_tree, proc)
            base = f"http://{_host(options.ip)}:{port}"
            wait_ready(proc, base, token, options.ready_timeout_s)
            shown = token if generated else f"<the value of {options.token_ref}>"
            print(f"JupyterLab ready: {base}/lab/tree/notebooks?token={shown}", flush=True)
            say(
                f"when done: save the notebooks, then run their last cell or "
                f"`runbook finish {run_dir}`; stop with Ctrl-C"
            )
            code = proc.wait()
            say(f"JupyterLab exited ({code}); stopping what was started")
            return code
    except LabStopped as stop:
        say(f"stopped ({stop}): JupyterLab, its kernels and the stand-ins are stopped")
        if run_dir is not None and not (run_dir / ev.MANIFEST).is_file():
            say(f"the run is not finished yet: runbook finish {run_dir}")
        return 0


def _host(ip: str) -> str:
    return "127.0.0.1" if ip in ("0.0.0.0", "") else (f"[{ip}]" if ":" in ip else ip)


def _save_service_evidence(services: Any, run_dir: Path) -> None:
    """What the stand-ins observed, into the run, unless it was already finished (sealed); a
    stand-in already gone (e.g. its process group was signalled too) costs only this."""
    if (run_dir / ev.MANIFEST).is_file():
        return
    try:
        services.save_evidence(run_dir)
    except Exception as exc:  # noqa: BLE001 - stopping must go on whatever a stand-in says
        _stderr(f"warning: could not save what the stand-ins observed: {exc}")


def _stop_started_apps(run_dir: Path) -> None:
    from runbook.phases.deploy.local_app import stop_started_apps

    stop_started_apps(run_dir)


@contextmanager
def prepared_environment(env: str, overrides: list[str]) -> Iterator[Path]:
    """Validate the parameters, start the local stand-ins they ask for, and write the resolved
    parameters (secret references only) to a file named by $RUNBOOK_PARAMS_FILE: for notebooks
    opened outside a lab run (their `params` cell left empty), e.g. by nbval."""
    loaded = load(env, overrides)
    with ExitStack() as stack:
        params = loaded.params
        local = provider_for(params)
        if local is not None:
            problems = local.validate(params)
            if problems:
                raise ParameterError(problems)
            params, _ = local.start(params, stack, _stderr, None)
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="runbook-lab-")))
        path = folder / f"{env}.json"
        path.write_text(json.dumps(public_dump(params)), encoding="utf-8")
        previous = os.environ.get(PARAMS_FILE_ENV)
        os.environ[PARAMS_FILE_ENV] = str(path)
        try:
            yield path
        finally:
            if previous is None:
                os.environ.pop(PARAMS_FILE_ENV, None)
            else:
                os.environ[PARAMS_FILE_ENV] = previous
