"""`runbook list`: past runs with their verdicts."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "list"
HELP = "past runs with their verdicts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env")
    parser.add_argument("--outputs", type=Path)


def run(args: argparse.Namespace) -> int:
    """One line per run (environment, run id, verdict, phases); no runs is not an error."""
    from runbook.core import evidence
    from runbook.core.parameters import project_root

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
