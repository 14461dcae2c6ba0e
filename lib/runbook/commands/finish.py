"""`runbook finish`: judge a lab run from its saved notebooks and write its evidence."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook.commands import EXIT_FAILED, EXIT_INVALID

NAME = "finish"
HELP = (
    "finish a run started with `runbook lab`: judge its saved notebooks as a headless run "
    "does and write the manifest, the report and the chain entry"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="the run directory `runbook lab` printed")


def run(args: argparse.Namespace) -> int:
    """0 for GO, 1 for any other verdict or an evidence write failure, 2 when RUN_DIR is not
    an unfinished lab run."""
    from runbook.core import evidence
    from runbook.orchestration.finish import NotALabRun, finish_run

    try:
        outcome = finish_run(args.run_dir)
    except NotALabRun as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except evidence.EvidenceWriteError as exc:
        print(f"error: {exc.describe()}; the run is not finished", file=sys.stderr)
        return EXIT_FAILED
    return outcome.exit_code
