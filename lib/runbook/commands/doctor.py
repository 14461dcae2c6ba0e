"""`runbook doctor`: every prerequisite of a run, checked before it starts."""

from __future__ import annotations

import argparse

NAME = "doctor"
HELP = "check every prerequisite of a run before it starts and print every problem with its fix"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True)
    parser.add_argument(
        "--param", action="append", dest="overrides", default=[], metavar="KEY=VALUE"
    )


def run(args: argparse.Namespace) -> int:
    """0 when nothing is missing, 1 otherwise (every problem printed with its fix)."""
    from runbook.core.parameters import load, project_root
    from runbook.orchestration.doctor import diagnose, report

    root = project_root()
    return report(diagnose(load(args.env, args.overrides, root).params, root), args.env)
