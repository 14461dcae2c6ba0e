"""`runbook plan`: render what a run would do and print its hash."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "plan"
HELP = "render what a run would do and print its hash"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True)
    parser.add_argument("--phase", action="append", dest="phases", metavar="NAME")
    parser.add_argument(
        "--param", action="append", dest="overrides", default=[], metavar="KEY=VALUE"
    )
    parser.add_argument("--out", type=Path, help="folder (default outputs/plans/<env>/<hash>)")


def run(args: argparse.Namespace) -> int:
    """Write the plan's folder and print its sha256 (the thing an approver approves)."""
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
