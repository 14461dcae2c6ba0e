"""The `runbook` command: run, verify, list, sandbox.

Exit codes: 0 GO (or success), 1 NO-GO / INCOMPLETE / verification failed, 2 invalid input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook.core import evidence
from runbook.core.parameters import ParameterError, project_root
from runbook.orchestration.phase_plan import PHASES, UnknownPhase

EXIT_FAILED = 1  # NO-GO / INCOMPLETE / verification failed / evidence could not be written
EXIT_INVALID = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runbook",
        description="The PixCrawler deployment checklist as executable, evidence-producing "
        "notebooks.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute the phase notebooks against an environment")
    run.add_argument("--env", required=True, help="environment: parameters/<env>.yaml")
    run.add_argument(
        "--phase",
        action="append",
        dest="phases",
        metavar="NAME",
        help="run only this phase (repeatable); phases: " + ", ".join(p.name for p in PHASES),
    )
    run.add_argument(
        "--param",
        action="append",
        dest="overrides",
        default=[],
        metavar="KEY=VALUE",
        help="override one parameter (dotted key, YAML value)",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="validate and show what would run; execute and change nothing",
    )
    run.add_argument("--outputs", type=Path, help="where run directories go (default outputs/)")
    run.add_argument(
        "--approval",
        type=Path,
        help="approval file of this exact plan (see `runbook plan` / `approve`)",
    )
    run.add_argument(
        "--override-promotion",
        nargs=2,
        metavar=("BY", "REASON"),
        help="start although the promotion gate refuses; recorded in the evidence",
    )

    plan = sub.add_parser("plan", help="render what a run would do and print its hash")
    plan.add_argument("--env", required=True)
    plan.add_argument("--phase", action="append", dest="phases", metavar="NAME")
    plan.add_argument("--param", action="append", dest="overrides", default=[], metavar="KEY=VALUE")
    plan.add_argument("--out", type=Path, help="folder (default outputs/plans/<env>/<hash>)")

    approve = sub.add_parser("approve", help="approve a plan hash (writes an approval file)")
    approve.add_argument("--env", required=True)
    approve.add_argument("plan_sha256")
    approve.add_argument("--by", required=True, help="who approves")
    approve.add_argument("--note", default="")
    approve.add_argument("--out", type=Path, help="default: the environment's approval.file")

    verify = sub.add_parser(
        "verify",
        help="recompute a run's hashes and check its manifest, "
        "or walk an environment's whole hash chain",
    )
    verify.add_argument("run_dir", type=Path, nargs="?")
    verify.add_argument("--chain", metavar="ENV", help="verify every run of ENV and their chain")
    verify.add_argument("--outputs", type=Path)

    rejudge = sub.add_parser(
        "rejudge",
        help="recompute a saved run's verdicts under other "
        "thresholds, from its raw samples (no target)",
    )
    rejudge.add_argument("run_dir", type=Path)
    rejudge.add_argument(
        "--param", action="append", dest="overrides", default=[], metavar="KEY=VALUE"
    )
    rejudge.add_argument("--out", type=Path)

    schedule = sub.add_parser(
        "schedule", help="print §3.5 extended monitoring as CI schedule entries"
    )
    schedule.add_argument("--env", required=True)
    schedule.add_argument(
        "--deployed-at", required=True, help="ISO 8601 time of the deployment, with a time zone"
    )

    lst = sub.add_parser("list", help="past runs with their verdicts")
    lst.add_argument("--env")
    lst.add_argument("--outputs", type=Path)

    lab = sub.add_parser(
        "lab",
        help="open the notebooks in JupyterLab against an environment "
        "(for local: with the sandbox and stand-ins running)",
    )
    lab.add_argument("--env", required=True)
    lab.add_argument("--param", action="append", dest="overrides", default=[], metavar="KEY=VALUE")
    lab.add_argument("--no-browser", action="store_true")

    doctor = sub.add_parser(
        "doctor",
        help="check every prerequisite of a run before it starts "
        "and print every problem with its fix",
    )
    doctor.add_argument("--env", required=True)
    doctor.add_argument(
        "--param", action="append", dest="overrides", default=[], metavar="KEY=VALUE"
    )

    init = sub.add_parser(
        "init", help="inspect a repository and write a commented parameters file for it"
    )
    init.add_argument("--env", required=True, help="name of the new parameters/<env>.yaml")
    init.add_argument("--repo", required=True, type=Path, help="the target's git checkout")
    init.add_argument("--url", required=True, help="the target's base URL")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")

    sandbox = sub.add_parser(
        "sandbox",
        help="the local PixCrawler-compatible target (see docs/sandbox.md)",
        add_help=False,
    )
    sandbox.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"]:
        from runbook.orchestration.local_services import installed_provider

        local = installed_provider()
        if local is None:
            print(
                "error: `runbook sandbox` comes with the rehearsal package "
                "(pixcrawler-runbook-rehearsal), which is not installed",
                file=sys.stderr,
            )
            return EXIT_INVALID
        return local.command(argv[1:], prog="runbook sandbox")
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "verify":
            if args.chain:
                return _verify_chain(args.chain, args.outputs)
            if args.run_dir is None:
                print("error: give a RUN_DIR or --chain ENV", file=sys.stderr)
                return EXIT_INVALID
            return _verify(args.run_dir)
        if args.command == "schedule":
            return _schedule(args)
        if args.command == "plan":
            return _plan(args)
        if args.command == "approve":
            return _approve(args)
        if args.command == "rejudge":
            return _rejudge(args)
        if args.command == "list":
            return _list(args)
        if args.command == "doctor":
            from runbook.core.parameters import load
            from runbook.orchestration.doctor import diagnose, report

            root = project_root()
            return report(diagnose(load(args.env, args.overrides, root).params, root), args.env)
        if args.command == "init":
            from runbook.orchestration.init import init_environment

            return init_environment(args.env, args.repo, args.url, project_root(), force=args.force)
        if args.command == "lab":
            from runbook.orchestration.lab import open_lab

            return open_lab(args.env, args.overrides, no_browser=args.no_browser)
    except (ParameterError, UnknownPhase) as exc:
        print("error: invalid input, nothing was executed:", file=sys.stderr)
        for line in getattr(exc, "problems", [str(exc)]):
            print(f"  - {line}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_INVALID


def _run(args: argparse.Namespace) -> int:
    from runbook.orchestration.pipeline import RunRequest, run

    try:
        outcome = run(
            RunRequest(
                env=args.env,
                phases=args.phases,
                overrides=args.overrides,
                dry_run=args.dry_run,
                outputs=args.outputs,
                progress=sys.stderr.isatty(),
                approval=args.approval,
                promotion_override=tuple(args.override_promotion)
                if args.override_promotion
                else None,
            )
        )
    except OSError as exc:
        if not (isinstance(exc, evidence.EvidenceWriteError) or evidence.is_out_of_space(exc)):
            raise  # any other OS error is a bug to see whole
        print(
            f"error: {_write_failure(exc)}; the run stopped unfinished (no verdict, no "
            "manifest, not chained); earlier runs are untouched",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if outcome.verdict is None:  # dry run
        return 0
    return outcome.exit_code


def _write_failure(exc: OSError) -> str:
    """'could not write evidence <path>: <OS error>' (the path when the error names one)."""
    if isinstance(exc, evidence.EvidenceWriteError):
        return exc.describe()
    where = f" {exc.filename}" if exc.filename else ""
    return f"could not write evidence{where}: {exc.strerror or exc}"


def _verify(run_dir: Path) -> int:
    report = evidence.verify(run_dir)
    if report.ok:
        print(f"OK: every file of {run_dir} matches its manifest, and the manifest its chain")
        return 0
    for line in report.lines():
        print(line)
    print(f"FAILED: {run_dir} does not match its recorded evidence")
    return 1


def _verify_chain(env: str, outputs: Path | None) -> int:
    from runbook.governance.chain import verify_chain

    env_dir = (outputs or project_root() / "outputs") / env
    if not env_dir.is_dir():
        print(f"FAILED: no runs for environment {env!r} under {env_dir.parent}")
        return 1
    report = verify_chain(env_dir)
    for line in report.lines():
        print(line)
    print(f"{'OK' if report.ok else 'FAILED'}: hash chain of {env_dir}")
    return 0 if report.ok else 1


def _plan(args: argparse.Namespace) -> int:
    from runbook.governance.approval import build_plan, write_plan
    from runbook.orchestration.pipeline import RunRequest, prepare

    prepared = prepare(
        RunRequest(env=args.env, phases=args.phases, overrides=args.overrides, dry_run=True)
    )  # validation only: no governance gate yet
    root = prepared.root
    plan = build_plan(prepared.loaded.params, prepared.selected, root)
    folder = args.out or root / "outputs" / "plans" / args.env / plan.sha256[:12]
    digest = write_plan(plan, folder)
    print(
        f"plan of {args.env} ({', '.join(p.name for p in prepared.selected)}) written to {folder}",
        file=sys.stderr,
    )
    print(
        f"approve it with: uv run runbook approve --env {args.env} {digest} --by NAME",
        file=sys.stderr,
    )
    print(digest)
    return 0


def _approve(args: argparse.Namespace) -> int:
    from runbook.core.parameters import load
    from runbook.governance.approval import create_approval, save_approval

    params = load(args.env).params
    settings = params.approval
    path = args.out or (project_root() / settings.file if settings and settings.file else None)
    if path is None:
        print("error: give --out (the environment has no approval.file)", file=sys.stderr)
        return EXIT_INVALID
    approval = create_approval(
        args.plan_sha256, args.by, args.note, key_ref=settings.hmac_key if settings else None
    )
    save_approval(approval, path)
    print(f"approval of plan {args.plan_sha256} by {args.by} written to {path}")
    return 0


def _rejudge(args: argparse.Namespace) -> int:
    from runbook.governance.rejudge import RejudgeError, default_folder, rejudge, save_rejudge

    try:
        report = rejudge(args.run_dir, args.overrides)
    except RejudgeError as exc:
        print(f"FAILED: {exc}")
        return 1
    for line in report.lines():
        print(line)
    outputs = args.run_dir.resolve().parent.parent
    saved = save_rejudge(report, args.out or default_folder(outputs, args.run_dir))
    print(f"{report.new_verdict}: re-judged {args.run_dir} (report: {saved})")
    return 0 if report.new_verdict == "GO" else 1


def _schedule(args: argparse.Namespace) -> int:
    from datetime import datetime

    from runbook.core.parameters import load
    from runbook.phases.monitoring.schedule import schedule_entries

    params = load(args.env).params
    if params.monitor is None:
        raise ParameterError([f"parameters/{args.env}.yaml has no 'monitor' section"])
    try:
        deployed_at = datetime.fromisoformat(args.deployed_at)
    except ValueError:
        raise ParameterError(
            [f"--deployed-at {args.deployed_at!r} is not an ISO 8601 time"]
        ) from None
    if deployed_at.tzinfo is None:
        raise ParameterError(
            [
                f"--deployed-at {args.deployed_at!r} needs a time zone "
                "(e.g. 2026-11-28T14:00:00+00:00)"
            ]
        )
    for entry in schedule_entries(args.env, params.monitor, deployed_at):
        print(entry)
    return 0


def _list(args: argparse.Namespace) -> int:
    outputs = args.outputs or project_root() / "outputs"
    if not outputs.is_dir():
        print(f"no runs yet under {outputs}")
        return 0
    if args.env and not (outputs / args.env).is_dir():
        print(f"no runs for environment {args.env!r} under {outputs}")
        return 0
    rows = evidence.list_runs(outputs, args.env)
    if not rows:
        print("no runs yet")
        return 0
    print(f"{'environment':<12} {'run id':<34} {'verdict':<11} phases")
    for r in rows:
        print(f"{r['environment']:<12} {r['run_id']:<34} {r['verdict']:<11} {r['phases']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
