"""`runbook schedule`: §3.5 extended monitoring as CI schedule entries."""

from __future__ import annotations

import argparse
from datetime import datetime

from runbook.core.parameters import ParameterError

NAME = "schedule"
HELP = "print §3.5 extended monitoring as CI schedule entries"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True)
    parser.add_argument(
        "--deployed-at", required=True, help="ISO 8601 time of the deployment, with a time zone"
    )


def run(args: argparse.Namespace) -> int:
    """Print one schedule entry per line; a bad time is invalid input."""
    from runbook.core.parameters import load
    from runbook.phases.monitoring.schedule import schedule_entries

    params = load(args.env).params
    if params.monitor is None:
        raise ParameterError([f"parameters/{args.env}.yaml has no 'monitor' section"])
    try:
        deployed_at = datetime.fromisoformat(args.deployed_at)
    except ValueError:
        raise ParameterError(
            [f"--deployed-at {args.deployed_at!r} is not an ISO 8601 time"]
        ) from None
    if deployed_at.tzinfo is None:
        raise ParameterError(
            [
                f"--deployed-at {args.deployed_at!r} needs a time zone "
                "(e.g. 2026-11-28T14:00:00+00:00)"
            ]
        )
    for entry in schedule_entries(args.env, params.monitor, deployed_at):
        print(entry)
    return 0
