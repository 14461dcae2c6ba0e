"""`runbook rejudge`: a saved run's verdicts under other thresholds, from its raw samples."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "rejudge"
HELP = "recompute a saved run's verdicts under other thresholds, from its raw samples (no target)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path)
    parser.add_argument(
        "--param", action="append", dest="overrides", default=[], metavar="KEY=VALUE"
    )
    parser.add_argument("--out", type=Path)


def run(args: argparse.Namespace) -> int:
    """Print and save the re-judgement; 0 only when the new verdict is GO."""
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
