"""`runbook resume`: continue a stopped run in a new, chained run directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook.commands import EXIT_FAILED, EXIT_INVALID
from runbook.core import evidence

NAME = "resume"
HELP = "continue a stopped run: a new run that executes only the phases that did not complete"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="the stopped run's directory")
    parser.add_argument(
        "--force",
        action="store_true",
        help="resume although the parameters or the runbook changed (recorded in the manifest)",
    )
    parser.add_argument(
        "--param",
        action="append",
        dest="overrides",
        default=[],
        metavar="KEY=VALUE",
        help="override one parameter on top of the stopped run's (a change: needs --force)",
    )


def run(args: argparse.Namespace) -> int:
    """Exit codes as `runbook run`; a refused resume is invalid input (2), nothing executed."""
    from runbook.commands.run import write_failure
    from runbook.orchestration.resume import ResumeRefused, resume

    try:
        outcome = resume(
            args.run_dir, force=args.force, overrides=args.overrides,
            progress=sys.stderr.isatty(),
        )  # fmt: skip
    except ResumeRefused as exc:
        print(f"error: cannot resume {args.run_dir}; nothing was executed:", file=sys.stderr)
        for line in exc.problems:
            print(f"  - {line}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        if not (isinstance(exc, evidence.EvidenceWriteError) or evidence.is_out_of_space(exc)):
            raise
        print(f"error: {write_failure(exc)}; the resumed run stopped unfinished", file=sys.stderr)
        return EXIT_FAILED
    return outcome.exit_code
