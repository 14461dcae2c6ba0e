"""The `runbook` command: run, verify, list, sandbox.

Exit codes: 0 GO (or success), 1 NO-GO / INCOMPLETE / verification failed, 2 invalid input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook import evidence
from runbook.params import ParameterError, project_root
from runbook.phases import PHASES, UnknownPhase

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
    run.add_argument("--phase", action="append", dest="phases", metavar="NAME",
                     help="run only this phase (repeatable); phases: "
                          + ", ".join(p.name for p in PHASES))
    run.add_argument("--param", action="append", dest="overrides", default=[],
                     metavar="KEY=VALUE", help="override one parameter (dotted key, YAML value)")
    run.add_argument("--dry-run", action="store_true",
                     help="validate and show what would run; execute and change nothing")
    run.add_argument("--outputs", type=Path, help="where run directories go (default outputs/)")

    verify = sub.add_parser("verify", help="recompute a run's hashes and check its manifest")
    verify.add_argument("run_dir", type=Path)

    lst = sub.add_parser("list", help="past runs with their verdicts")
    lst.add_argument("--env")
    lst.add_argument("--outputs", type=Path)

    lab = sub.add_parser("lab", help="open the notebooks in JupyterLab against an environment "
                                     "(for local: with the sandbox and stand-ins running)")
    lab.add_argument("--env", required=True)
    lab.add_argument("--param", action="append", dest="overrides", default=[],
                     metavar="KEY=VALUE")
    lab.add_argument("--no-browser", action="store_true")

    sandbox = sub.add_parser("sandbox", help="the local PixCrawler-compatible target "
                                             "(see docs/sandbox.md)", add_help=False)
    sandbox.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"]:
        from runbook.sandbox.__main__ import main as sandbox_main

        rest = argv[1:] or ["serve"]
        return sandbox_main(rest, prog="runbook sandbox")
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "verify":
            return _verify(args.run_dir)
        if args.command == "list":
            return _list(args)
        if args.command == "lab":
            from runbook.lab import open_lab

            return open_lab(args.env, args.overrides, no_browser=args.no_browser)
    except (ParameterError, UnknownPhase) as exc:
        print("error: invalid input, nothing was executed:", file=sys.stderr)
        for line in getattr(exc, "problems", [str(exc)]):
            print(f"  - {line}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_INVALID


def _run(args: argparse.Namespace) -> int:
    from runbook.execute import RunRequest, run

    outcome = run(RunRequest(env=args.env, phases=args.phases, overrides=args.overrides,
                             dry_run=args.dry_run, outputs=args.outputs,
                             progress=sys.stderr.isatty()))
    if outcome.verdict is None:  # dry run
        return 0
    return outcome.exit_code


def _verify(run_dir: Path) -> int:
    report = evidence.verify(run_dir)
    if report.ok:
        print(f"OK: every file of {run_dir} matches its manifest, and the manifest its chain")
        return 0
    for line in report.lines():
        print(line)
    print(f"FAILED: {run_dir} does not match its recorded evidence")
    return 1


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
