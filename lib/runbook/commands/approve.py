"""`runbook approve`: approve a plan hash (writes an approval file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook.commands import EXIT_INVALID

NAME = "approve"
HELP = "approve a plan hash (writes an approval file)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True)
    parser.add_argument("plan_sha256")
    parser.add_argument("--by", required=True, help="who approves")
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, help="default: the environment's approval.file")


def run(args: argparse.Namespace) -> int:
    """Write the approval to --out or the environment's approval.file."""
    from runbook.core.parameters import load, project_root
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
