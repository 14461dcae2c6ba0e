"""`runbook trends`: the history page of an environment's gated metrics over its last runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from runbook.commands import EXIT_FAILED, EXIT_INVALID, EXIT_OK

NAME = "trends"
HELP = "write an HTML page with each gated metric over the last runs of an environment"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="the environment whose runs to read")
    parser.add_argument("--outputs", type=Path, help="where run directories are (default outputs/)")
    parser.add_argument("--last", type=int, default=20, metavar="N", help="the last N runs (20)")
    parser.add_argument("--out", type=Path, help="the page to write (outputs/<env>/trends.html)")


def run(args: argparse.Namespace) -> int:
    """Write the page and print where; 1 when the environment has no finished run."""
    from runbook.core.evidence import EvidenceWriteError
    from runbook.core.parameters import project_root
    from runbook.orchestration.trends import TrendsError, write_trends

    if args.last < 1:
        print(f"error: --last must be at least 1 (got {args.last})")
        return EXIT_INVALID
    outputs = (args.outputs or project_root() / "outputs").resolve()
    try:
        page, history = write_trends(outputs, args.env, last=args.last, out=args.out)
    except TrendsError as exc:
        print(f"error: {exc}")
        return EXIT_FAILED
    except EvidenceWriteError as exc:
        print(f"error: {exc.describe()}")
        return EXIT_FAILED
    for note in history.left_out:
        print(f"left out: {note}")
    print(f"trends of {len(history.runs)} run(s) of {args.env}: {page}")
    return EXIT_OK
