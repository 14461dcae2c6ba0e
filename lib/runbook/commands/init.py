"""`runbook init`: inspect a repository and write a commented parameters file for it."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "init"
HELP = "inspect a repository and write a commented parameters file for it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="name of the new parameters/<env>.yaml")
    parser.add_argument("--repo", required=True, type=Path, help="the target's git checkout")
    parser.add_argument("--url", required=True, help="the target's base URL")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def run(args: argparse.Namespace) -> int:
    """0 when the parameters file was written."""
    from runbook.core.parameters import project_root
    from runbook.orchestration.init import init_environment

    return init_environment(args.env, args.repo, args.url, project_root(), force=args.force)
