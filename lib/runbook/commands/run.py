"""`runbook run`: execute the phase notebooks against an environment."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook.commands import EXIT_FAILED
from runbook.core import evidence
from runbook.orchestration.phase_plan import PHASES

NAME = "run"
HELP = "execute the phase notebooks against an environment"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="environment: parameters/<env>.yaml")
    parser.add_argument(
        "--phase",
        action="append",
        dest="phases",
        metavar="NAME",
        help="run only this phase (repeatable); phases: " + ", ".join(p.name for p in PHASES),
    )
    parser.add_argument(
        "--param",
        action="append",
        dest="overrides",
        default=[],
        metavar="KEY=VALUE",
        help="override one parameter (dotted key, YAML value)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="validate and show what would run; execute and change nothing",
    )
    parser.add_argument("--outputs", type=Path, help="where run directories go (default outputs/)")
    parser.add_argument(
        "--approval",
        type=Path,
        help="approval file of this exact plan (see `runbook plan` / `approve`)",
    )
    parser.add_argument(
        "--override-promotion",
        nargs=2,
        metavar=("BY", "REASON"),
        help="start although the promotion gate refuses; recorded in the evidence",
    )


def run(args: argparse.Namespace) -> int:
    """Run the pipeline; an evidence write failure ends the run unfinished with exit 1."""
    from runbook.orchestration.pipeline import RunRequest
    from runbook.orchestration.pipeline import run as run_pipeline

    try:
        outcome = run_pipeline(
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
            f"error: {write_failure(exc)}; the run stopped unfinished (no verdict, no "
            "manifest, not chained); earlier runs are untouched",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if outcome.verdict is None:  # dry run
        return 0
    return outcome.exit_code


def write_failure(exc: OSError) -> str:
    """'could not write evidence <path>: <OS error>' (the path when the error names one)."""
    if isinstance(exc, evidence.EvidenceWriteError):
        return exc.describe()
    where = f" {exc.filename}" if exc.filename else ""
    return f"could not write evidence{where}: {exc.strerror or exc}"
