"""`runbook diff`: what changed between two runs (checks, measured values, parameters,
sign-offs; optionally the notebooks' content), as text and as an HTML page."""

from __future__ import annotations

import argparse
from pathlib import Path

from runbook.commands import EXIT_FAILED, EXIT_INVALID, EXIT_OK

NAME = "diff"
HELP = "what changed between two runs: checks, measured values, parameters, sign-offs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", help="the earlier run: its directory, or its run id")
    parser.add_argument("run_b", help="the later run: its directory, or its run id")
    parser.add_argument("--outputs", type=Path, help="where run ids are looked up (outputs/)")
    parser.add_argument("--html", type=Path, metavar="OUT", help="also write the diff as HTML")
    parser.add_argument(
        "--notebooks",
        action="store_true",
        help="add the executed notebooks' content diff (nbdime; execution counts, metadata "
        "and volatile output parts such as times and ports ignored)",
    )
    parser.add_argument(
        "--min-change",
        type=float,
        default=0.05,
        metavar="SHARE",
        help="list measured values that moved by at least this share (0.05 = 5 %%)",
    )


def run(args: argparse.Namespace) -> int:
    """Print the diff (and write --html); 2 when a run cannot be found or read."""
    from runbook.core.evidence import EvidenceWriteError
    from runbook.core.parameters import project_root
    from runbook.orchestration.run_diff import RunDiffError, diff_runs, render_html, write_html

    if args.min_change < 0:
        print(f"error: --min-change must be 0 or more (got {args.min_change})")
        return EXIT_INVALID
    outputs = args.outputs
    if outputs is None and not (Path(args.run_a).is_dir() and Path(args.run_b).is_dir()):
        outputs = project_root() / "outputs"  # run ids are looked up there
    try:
        result = diff_runs(
            args.run_a,
            args.run_b,
            outputs=outputs,
            notebooks=args.notebooks,
            min_change=args.min_change,
        )
    except RunDiffError as exc:
        print(f"error: {exc}")
        return EXIT_INVALID
    for line in result.lines():
        print(line)
    if args.html:
        try:
            page = write_html(args.html, render_html(result))
        except EvidenceWriteError as exc:
            print(f"error: {exc.describe()}")
            return EXIT_FAILED
        print(f"diff page: {page}")
    return EXIT_OK
