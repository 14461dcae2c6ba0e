"""Reliability matrix: faults injected into real `runbook run`s, bad inputs through the CLI,
a secret scan of every run directory, and tampering with a saved run. Prints the figures.

    uv run python bench/reliability.py [--jobs 2]

Faults: each is one real run of one cheap phase (CLI, papermill, kernel, sandbox, Azure
stand-in); it "survives" when the run ends with the expected verdict, the expected check has
the expected status, and the saved evidence passes `runbook verify`. A full disk (a real
RLIMIT_FSIZE, no root) survives when the run stops with no verdict, names the file it could
not write, and the earlier runs of its outputs folder still verify. Not a test: it takes a
few minutes. The same faults are asserted one by one in tests/reliability/ and in the phase
tests; this script counts them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_TOKEN = "bench-sbx-" + os.urandom(12).hex()
ARM_TOKEN = "bench-arm-" + os.urandom(12).hex()
KNOWN_SECRETS = [SANDBOX_TOKEN, ARM_TOKEN]
RUN_TIMEOUT_S = 600

Results = dict[str, dict]
Expect = Callable[[Results], bool]


@dataclass
class Fault:
    name: str
    phase: str
    params: tuple[str, ...]
    verdict: str
    expect: Expect
    expect_text: str
    root: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    name: str
    verdict: str | None
    survived: bool
    run_dirs: list[Path]
    note: str
    seconds: float


def _status(check: str, *statuses: str) -> Expect:
    return lambda r: check in r and r[check]["status"] in statuses


def _any(prefix: str, *statuses: str) -> Expect:
    return lambda r: any(i.startswith(prefix) and v["status"] in statuses for i, v in r.items())


def _all(prefix: str, *statuses: str) -> Expect:
    return lambda r: (
        any(i.startswith(prefix) for i in r)
        and all(v["status"] in statuses for i, v in r.items() if i.startswith(prefix))
    )


def _says(prefix: str, status: str, text: str) -> Expect:
    """Some check under `prefix` has `status`, and every such check's explanation says `text`
    (a sent request's own failure, not a later step missing a capture)."""

    def expect(r: Results) -> bool:
        hits = [
            v
            for i, v in r.items()
            if i.startswith(prefix)
            and v["status"] == status
            and (v.get("evidence") or {}).get("exchange", True) is not None
        ]
        return bool(hits) and all(text in v["explanation"] for v in hits)

    return expect


def _env(extra: dict[str, str] | None = None, root: Path | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PIXCRAWLER_SANDBOX_TOKEN", "RUNBOOK_ARM_TOKEN", "RUNBOOK_ROOT"}
    }
    env.update({"PIXCRAWLER_SANDBOX_TOKEN": SANDBOX_TOKEN, "RUNBOOK_ARM_TOKEN": ARM_TOKEN})
    if root is not None:
        env["RUNBOOK_ROOT"] = str(root)
    env.update(extra or {})
    return env


def _start(
    outputs: Path,
    phase: str,
    params: tuple[str, ...],
    root: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    argv = [
        sys.executable,
        "-m",
        "runbook.cli",
        "run",
        "--env",
        "local",
        "--phase",
        phase,
        "--outputs",
        str(outputs),
    ]
    for p in params:
        argv += ["--param", p]
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(extra_env, root),
        cwd=ROOT,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[Path | None, str]:
    out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    lines = out.strip().splitlines()
    if not lines or ": " not in lines[-1]:
        return None, (err.strip().splitlines() or ["no output"])[-1]
    return Path(lines[-1].split(": ", 1)[1]), ""


def _verifies(run_dir: Path) -> bool:
    from runbook.core import evidence

    return evidence.verify(run_dir).ok


def _results(run_dir: Path) -> tuple[str, Results]:
    m = json.loads((run_dir / "manifest.json").read_text())
    return m["verdict"], {r["id"]: r for r in m["results"]}


def run_fault(fault: Fault, work: Path) -> Outcome:
    started = time.monotonic()
    proc = _start(work / fault.name, fault.phase, fault.params, fault.root, fault.extra_env)
    run_dir, problem = _finish(proc)
    seconds = time.monotonic() - started
    if run_dir is None or not (run_dir / "manifest.json").is_file():
        return Outcome(fault.name, None, False, [], f"no run directory: {problem}", seconds)
    verdict, results = _results(run_dir)
    right = verdict == fault.verdict and fault.expect(results)
    verified = _verifies(run_dir)
    note = (
        f"{verdict}, {fault.expect_text}"
        if right
        else f"{verdict} (wanted {fault.verdict}, {fault.expect_text}); failing: "
        + ", ".join(i for i, r in results.items() if r["status"] in {"fail", "error"})
    )
    if not verified:
        note += "; evidence does NOT verify"
    return Outcome(fault.name, verdict, right and verified, [run_dir], note, seconds)


def run_twins(work: Path) -> Outcome:
    """Two runs of the same environment into the same outputs at once."""
    from runbook.governance.chain import verify_chain

    started = time.monotonic()
    outputs = work / "twins"
    procs = [_start(outputs, "verify", ("integration=null",)) for _ in range(2)]
    dirs = [d for d, _ in (_finish(p) for p in procs)]
    seconds = time.monotonic() - started
    if None in dirs:
        return Outcome("two runs at once", None, False, [], "a run left no directory", seconds)
    verdicts = [_results(d)[0] for d in dirs]
    env_dir = outputs / "local"
    ok = (
        verdicts == ["GO", "GO"]
        and dirs[0] != dirs[1]
        and all(_verifies(d) for d in dirs)
        and verify_chain(env_dir).ok
        and len((env_dir / "chain.jsonl").read_text().splitlines()) == 2
    )
    return Outcome(
        "two runs at once",
        "GO" if ok else ",".join(verdicts),
        ok,
        dirs,
        "both GO, distinct dirs, both verify, chain of 2" if ok else "broken",
        seconds,
    )


DISK_LIMITS = (("notebook", 64 * 1024), ("rendering", 256 * 1024))  # see test_more_faults


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def run_disk_full(work: Path) -> list[Outcome]:
    """A GO run, then runs into the same outputs whose files cannot grow past a limit (EFBIG,
    as on a full disk) while papermill saves the notebook / while it is rendered. Each
    survives when it exits 1 with no verdict line, one 'could not write evidence <path>: File
    too large' line and no traceback, and the folder's chain (the earlier run) still verifies."""
    from runbook.governance.chain import verify_chain

    outputs = work / "disk-full"
    first, _ = _finish(_start(outputs, "verify", ("integration=null",)))
    outcomes = []
    for name, limit in DISK_LIMITS:
        started = time.monotonic()
        argv = [
            sys.executable,
            "-m",
            "runbook.cli",
            "run",
            "--env",
            "local",
            "--phase",
            "verify",
            "--outputs",
            str(outputs),
            "--param",
            "integration=null",
        ]
        env = _env({"IPYTHONDIR": str(work / f"ipython-{name}")})
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=RUN_TIMEOUT_S,
            preexec_fn=_file_size_limit(limit),
            check=False,
        )
        seconds = time.monotonic() - started
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        chain = verify_chain(outputs / "local")
        ok = (
            first is not None
            and proc.returncode == 1
            and not proc.stdout.strip()
            and "Traceback" not in proc.stderr
            and last.startswith("error: could not write evidence ")
            and "File too large" in last
            and chain.ok
            and chain.runs == 1
            and len(chain.unfinished) == len(outcomes) + 1
        )
        note = (
            "exit 1, no verdict, 'could not write evidence …: File too large', earlier run verifies"
            if ok
            else f"exit {proc.returncode}; {last[-160:]}"
            + ("" if chain.ok else "; chain does NOT verify")
        )
        outcomes.append(
            Outcome(
                f"disk full ({name})",
                "stopped" if ok else None,
                ok,
                [first] if first else [],
                note,
                seconds,
            )
        )
    return outcomes


def dying_checkout(work: Path) -> Path:
    """A throwaway checkout whose verify notebook kills its kernel after the health check."""
    root = work / "dying-checkout"
    for folder in ("parameters", "runbooks"):
        shutil.copytree(ROOT / folder, root / folder)
    path = root / "runbooks" / "04_verify.ipynb"
    nb = json.loads(path.read_text())
    at = next(i for i, c in enumerate(nb["cells"]) if "session.run_all()" in "".join(c["source"]))
    nb["cells"].insert(
        at + 1,
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "die",
            "metadata": {},
            "outputs": [],
            "source": ["import os; os._exit(1)"],
        },
    )
    path.write_text(json.dumps(nb, indent=1))
    return root


def untrusted_standin(stack: ExitStack, work: Path) -> str:
    """A real Azure stand-in whose self-signed certificate the run does not trust."""
    from rehearsal.azure_standin.process import start_standin
    from rehearsal.params import rehearsal_of
    from runbook.core.parameters import load

    config = rehearsal_of(load("local", root=ROOT).params).azure_standin
    assert config is not None
    config = config.model_copy(update={"accept_token_env": "RUNBOOK_ARM_TOKEN"})
    handle = stack.enter_context(
        start_standin(config, work / "standin", env={"RUNBOOK_ARM_TOKEN": ARM_TOKEN})
    )
    return handle.url.rstrip("/")


def faults(work: Path, arm_url: str) -> list[Fault]:
    import certifi

    std = "rehearsal.azure_standin.faults."
    return [
        Fault(
            "target down",
            "verify",
            ("rehearsal.sandbox.faults.down=true", "integration=null"),
            "NO-GO",
            _status("smoke.health", "fail"),
            "smoke.health fail",
        ),
        Fault(
            "5xx burst (50 %)",
            "verify",
            ("rehearsal.sandbox.faults.error_rate=0.5", "integration=null"),
            "NO-GO",
            _any("smoke.", "fail", "error"),
            "a smoke check fails",
        ),
        Fault(
            "target slow (p95 over the line)",
            "performance",
            ("rehearsal.sandbox.faults.latency_ms=400", "performance.duration_s=3"),
            "NO-GO",
            _any("perf.p95.", "fail"),
            "perf.p95.* fail",
        ),
        Fault(
            "unreachable target",
            "verify",
            (
                "rehearsal.sandbox=null",
                "rehearsal.local_environment={}",
                "target.base_url=http://127.0.0.1:9",
                "target.timeout_s=2",
                "integration=null",
            ),
            "NO-GO",
            _status("smoke.health", "error"),
            "smoke.health error",
        ),
        Fault(
            "cell timeout",
            "verify",
            (
                "execution.cell_timeout_s=8",
                "target.timeout_s=60",
                "integration=null",
                "rehearsal.sandbox.faults.latency_ms=30000",
                'rehearsal.sandbox.faults.latency_routes=["POST /api/v1/projects/"]',
            ),
            "NO-GO",
            _status("runbook.verify.execution", "error"),
            "runbook.verify.execution error",
        ),
        Fault(
            "kernel dies mid-phase",
            "verify",
            ("integration=null",),
            "NO-GO",
            lambda r: (
                _status("runbook.verify.execution", "error")(r)
                and _status("smoke.health", "pass")(r)
            ),
            "execution error, health kept",
            root=dying_checkout(work),
        ),
        Fault(
            "zip deploy failing",
            "deploy",
            (f"{std}fail_zip_deploy=true",),
            "NO-GO",
            _status("deploy.zip_deploy", "fail"),
            "deploy.zip_deploy fail",
        ),
        Fault(
            "deploy poll timeout",
            "deploy",
            (f"{std}zip_deploy_never_completes=true", "deploy.kudu.timeout=3"),
            "NO-GO",
            _status("deploy.zip_deploy", "error", "fail"),
            "deploy.zip_deploy error",
        ),
        Fault(
            "swap failing",
            "deploy",
            (f"{std}fail_swap=true",),
            "NO-GO",
            _status("deploy.swap", "fail", "error"),
            "deploy.swap fail",
        ),
        Fault(
            "connection reset (one route)",
            "verify",
            ('rehearsal.sandbox.faults.reset_routes=["GET /api/v1/auth/me"]', "integration=null"),
            "NO-GO",
            _says("smoke.auth-me", "error", "no HTTP answer"),
            "smoke.auth-me error: no HTTP answer (reset)",
        ),
        Fault(
            "connection reset (50 %)",
            "verify",
            (
                "rehearsal.sandbox.faults.reset_rate=0.5",
                "rehearsal.sandbox.seed=7",
                "integration=null",
            ),
            "NO-GO",
            _says("smoke.", "error", "no HTTP answer"),
            "smoke.* error: no HTTP answer (reset)",
        ),
        Fault(
            "metrics with no data",
            "monitor",
            ("rehearsal.azure_standin.monitor.faults.metrics_empty=true",),
            "INCOMPLETE",
            _all("monitor.metrics.", "inconclusive"),
            "monitor.metrics.* inconclusive",
        ),
        Fault(
            "metrics unavailable (503)",
            "monitor",
            ("rehearsal.azure_standin.monitor.faults.metrics_error_status=503",),
            "INCOMPLETE",
            _status("monitor.metrics.error-rate", "inconclusive"),
            "monitor.metrics.error-rate inconclusive",
        ),
        Fault(
            "ARM 429 within the retry budget",
            "environment",
            (f"{std}throttle.count=1", f"{std}throttle.retry_after=1"),
            "GO",
            _all("azure.appsettings", "pass"),
            "azure.appsettings.* pass",
        ),
        Fault(
            "ARM 429 beyond the retry budget",
            "environment",
            (f"{std}throttle.count=50", f"{std}throttle.retry_after=0"),
            "NO-GO",
            _all("azure.appsettings", "error"),
            "azure.appsettings.* error",
        ),
        Fault(
            "ARM 503 within the retry budget",
            "environment",
            (f"{std}throttle.status=503", f"{std}throttle.count=1", f"{std}throttle.retry_after=1"),
            "GO",
            _all("azure.appsettings", "pass"),
            "azure.appsettings.* pass",
        ),
        Fault(
            "ARM 503 beyond the retry budget",
            "environment",
            (
                f"{std}throttle.status=503",
                f"{std}throttle.count=50",
                f"{std}throttle.retry_after=0",
            ),
            "NO-GO",
            _says("azure.appsettings", "error", "HTTP 503"),
            "azure.appsettings.* error: HTTP 503",
        ),
        Fault(
            "ARM 503 unavailable",
            "environment",
            (f"{std}unavailable=true",),
            "NO-GO",
            _all("azure.appsettings", "error"),
            "azure.appsettings.* error",
        ),
        Fault(
            "TLS failure (untrusted certificate)",
            "environment",
            (
                "rehearsal.azure_standin=null",
                f"azure.arm_endpoint={arm_url}",
                f"azure.ca_bundle={certifi.where()}",
            ),
            "NO-GO",
            _all("azure.appsettings", "error"),
            "azure.appsettings.* error",
        ),
    ]


BAD_INPUTS: list[tuple[list[str], str]] = [
    (["--param", "nonsense"], "expected key=value"),
    (["--param", "=5"], "is not a dotted key"),
    (["--param", "target..timeout_s=5"], "is not a dotted key"),
    (["--param", "target.timeout_s=[1"], "is not valid YAML"),
    (["--param", "target.timeout_s=abc"], "key 'target.timeout_s'"),
    (["--param", "target.colour=blue"], "unknown key 'target.colour'"),
    (["--param", "target.token=plain-secret-value"], "key 'target.token'"),
    (["--param", "target.name=null"], "key 'target.name'"),
    (["--param", "execution.cell_timeout_s=0"], "greater than 0"),
    (["--param", "performance.gates.p95_ms=-1"], "greater than 0"),
    (["--param", "performance.gates.error_rate=2"], "less than or equal to 1"),
    (["--param", "performance.gates.p95_ms=1500"], "is below p95_ms"),
    (["--param", "performance.gates.rollback_error_rate=0.001"], "is below error_rate"),
    (["--param", "monitor.window=PT0S"], "interval must not be longer than the window"),
    (["--param", "target.base_url=not-a-url"], "absolute http:// or https:// URL"),
    (["--param", "target.base_url=ftp://files.example.com"], "absolute http:// or https://"),
    (["--param", 'target.base_url="http://a.example.com/\\nHost: evil"'], "newlines"),
    (["--param", "azure.arm_endpoint=management"], "absolute http:// or https:// URL"),
    (["--param", 'target.headers={X-Trace: "a\\r\\nSet-Cookie: x=1"}'], "a newline"),
    (["--phase", "deploy-everything"], "unknown phase 'deploy-everything'"),
]


def _cli(argv: list[str], env: dict[str, str | None]) -> tuple[int, str]:
    from runbook.cli import main

    saved = {k: os.environ.get(k) for k in env}
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return rc, out.getvalue() + err.getvalue()


def bad_inputs(work: Path) -> tuple[int, int, list[str]]:
    """Try every bad input; count those refused with the right code and a naming message."""
    verify = ["run", "--env", "local", "--phase", "verify", "--dry-run"]
    cases: list[tuple[list[str], dict[str, str | None], int, str]] = [
        ([*verify, *extra], {}, 2, text) for extra, text in BAD_INPUTS
    ]
    cases += [
        (["run", "--env", "moon", "--dry-run"], {}, 2, "unknown environment 'moon'"),
        (["run", "--env", "../etc", "--dry-run"], {}, 2, "unknown environment '../etc'"),
        (
            ["run", "--env", "staging", "--phase", "verify", "--outputs", str(work / "x")],
            {"PIXCRAWLER_API_TOKEN": None},
            1,  # an unset secret is not invalid input: the run says so, its checks INCOMPLETE
            "will be INCOMPLETE: target.token ($PIXCRAWLER_API_TOKEN)",
        ),
        (
            [
                "run",
                "--env",
                "staging",
                "--phase",
                "pre-deployment",
                "--outputs",
                str(work / "x"),
                "--param",
                "pre_deployment.repo=/nonexistent/pixcrawler",
            ],
            {"PIXCRAWLER_API_TOKEN": "t" * 24},
            2,
            "key 'pre_deployment.repo'",
        ),
        (
            [
                "run",
                "--env",
                "staging",
                "--phase",
                "pre-deployment",
                "--outputs",
                str(work / "x"),
                "--param",
                f"pre_deployment.repo=/tmp/x; touch {work / 'PWNED'}",
            ],
            {"PIXCRAWLER_API_TOKEN": "t" * 24},
            2,
            "is not a folder",
        ),
        (["verify", str(work / "no-such-run")], {}, 1, "no such run directory"),
        (
            ["verify", "--chain", "local", "--outputs", str(work / "empty")],
            {},
            1,
            "no runs for environment 'local'",
        ),
        (["verify"], {}, 2, "give a RUN_DIR or --chain ENV"),
    ]
    checkout = work / "bad-checkout"
    for folder in ("parameters", "runbooks"):
        shutil.copytree(ROOT / folder, checkout / folder)
    local = checkout / "parameters" / "local.yaml"
    original = local.read_text()
    file_cases = [
        (("  timeout_s: 10\n", "  timeout_s: [10\n"), "malformed YAML at line"),
        (("  timeout_s: 10\n", "  timeout_s: 10\n  colour: blue\n"), "unknown key 'target.colour'"),
        (("  timeout_s: 10\n", "  timeout_s: ten\n"), "key 'target.timeout_s'"),
        (("  name: pixcrawler-sandbox\n", ""), "key 'target.name' is required but missing"),
        (("extends: _base.yaml", "extends: _nowhere.yaml"), "key 'extends'"),
    ]
    tried = refused = 0
    unclear: list[str] = []
    for argv, env, code, text in cases:
        tried += 1
        rc, out = _cli(argv, env)
        if rc == code and text in out:
            refused += 1
        else:
            unclear.append(f"{' '.join(argv)} -> {rc}: {out.strip()[-200:]}")
    for (old, new), text in file_cases:
        tried += 1
        local.write_text(original.replace(old, new, 1))
        rc, out = _cli(verify, {"RUNBOOK_ROOT": str(checkout)})
        if rc == 2 and text in out and str(local) in out:
            refused += 1
        else:
            unclear.append(f"local.yaml with {new!r} -> {rc}: {out.strip()[-200:]}")
    local.write_text(original)
    if (work / "PWNED").exists():
        unclear.append("a repository path with shell metacharacters was run by a shell")
        refused -= 1
    return tried, refused, unclear


def secret_hits(run_dirs: list[Path]) -> tuple[int, int, list[str]]:
    """Scan every run directory for the known secret values and credential shapes."""
    from runbook.governance.secret_scan import scan_run_dir

    hits: list[str] = []
    for run_dir in run_dirs:
        hits += [f"{run_dir.name}: {h.describe()}" for h in scan_run_dir(run_dir, KNOWN_SECRETS)]
    return len(run_dirs), len(hits), hits


def tamper(run_dirs: list[Path], limit: int) -> tuple[int, int]:
    """Flip one byte in each of up to `limit` files of saved runs (one at a time, restored
    after); count the flips `evidence.verify` detects."""
    from runbook.core import evidence

    detected = tried = 0
    for run_dir in run_dirs:
        for path in sorted(p for p in run_dir.rglob("*") if p.is_file() and p.stat().st_size):
            if tried >= limit:
                return detected, tried
            original = path.read_bytes()
            data = bytearray(original)
            data[len(data) // 2] ^= 0x01
            path.write_bytes(bytes(data))
            try:
                detected += not evidence.verify(run_dir).ok
            finally:
                path.write_bytes(original)
            tried += 1
        assert evidence.verify(run_dir).ok, "restoring the tampered bytes must verify again"
    return detected, tried


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="fault runs at a time")
    parser.add_argument("--tamper-files", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the run directories")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "lib"))
    work = Path(tempfile.mkdtemp(prefix="runbook-reliability-"))
    started = time.monotonic()
    outcomes: list[Outcome] = []
    with ExitStack() as stack:
        arm_url = untrusted_standin(stack, work)
        matrix = faults(work, arm_url)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(run_fault, f, work) for f in matrix]
            outcomes = [f.result() for f in futures]
        outcomes.append(run_twins(work))
        outcomes += run_disk_full(work)
    print(f"{'fault':<38} {'verdict':<11} {'ok':<4} {'s':>6}  detail")
    for o in outcomes:
        print(
            f"{o.name:<38} {o.verdict or '-':<11} {'yes' if o.survived else 'NO':<4} "
            f"{o.seconds:6.1f}  {o.note}"
        )
    tried, refused, unclear = bad_inputs(work)
    for line in unclear:
        print(f"  not rejected clearly: {line}")
    run_dirs = [d for o in outcomes for d in o.run_dirs]
    scanned, hits, hit_lines = secret_hits(run_dirs)
    for line in hit_lines:
        print(f"  secret found: {line}")
    detected, flipped = tamper(run_dirs, args.tamper_files)
    print()
    print(
        f"faults tried / survived with the right verdict: {len(outcomes)} / "
        f"{sum(o.survived for o in outcomes)}"
    )
    print(f"bad inputs tried / rejected clearly:            {tried} / {refused}")
    print(f"secret values found in outputs:                 {hits} (in {scanned} run directories)")
    print(f"tampered bytes detected / tried:                {detected} / {flipped}")
    print(f"wall time: {time.monotonic() - started:.0f} s")
    if args.keep:
        print(f"runs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    ok = (
        all(o.survived for o in outcomes) and refused == tried and hits == 0 and detected == flipped
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
