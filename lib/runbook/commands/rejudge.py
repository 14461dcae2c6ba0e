"""`runbook rejudge`: a saved run's verdicts under other thresholds, from its raw samples."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "rejudge"
HELP = "recompute a saved run's verdicts under other thresholds, from its raw samples (no target)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from runbook.commands.store import add_store_arguments

    parser.add_argument(
        "run_dir", type=Path, help="a run directory (--store: RUN_ID or ENV/RUN_ID)"
    )
    parser.add_argument(
        "--param", action="append", dest="overrides", default=[], metavar="KEY=VALUE"
    )
    parser.add_argument("--out", type=Path)
    add_store_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Print and save the re-judgement; 0 only when the new verdict is GO. With --store the
    run is read from the store and the re-judgement saved under the local outputs/rejudge/."""
    from runbook.core.parameters import project_root
    from runbook.governance.rejudge import RejudgeError, default_folder, rejudge, save_rejudge

    run_dir = args.run_dir
    outputs = run_dir.resolve().parent.parent
    if args.store:
        from runbook.commands.store import mirrored_run
        from runbook.providers.azure.blob_store import StoreError

        try:
            run_dir = mirrored_run(args, str(args.run_dir))
        except StoreError as exc:
            print(f"FAILED: {exc}")
            return 1
        outputs = project_root() / "outputs"
    try:
        report = rejudge(run_dir, args.overrides)
    except RejudgeError as exc:
        print(f"FAILED: {exc}")
        return 1
    for line in report.lines():
        print(line)
    saved = save_rejudge(report, args.out or default_folder(outputs, run_dir))
    print(f"{report.new_verdict}: re-judged {run_dir} (report: {saved})")
    return 0 if report.new_verdict == "GO" else 1
