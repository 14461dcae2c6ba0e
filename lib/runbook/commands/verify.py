"""`runbook verify`: recompute a run's hashes, or walk an environment's whole hash chain."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook.commands import EXIT_INVALID

NAME = "verify"
HELP = "recompute a run's hashes and check its manifest, or walk an environment's whole hash chain"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, nargs="?")
    parser.add_argument("--chain", metavar="ENV", help="verify every run of ENV and their chain")
    parser.add_argument("--outputs", type=Path)


def run(args: argparse.Namespace) -> int:
    """0 when everything checked matches, 1 otherwise (each problem printed)."""
    if args.chain:
        return verify_chain(args.chain, args.outputs)
    if args.run_dir is None:
        print("error: give a RUN_DIR or --chain ENV", file=sys.stderr)
        return EXIT_INVALID
    return verify_run(args.run_dir)


def verify_run(run_dir: Path) -> int:
    """One run's files against its manifest, and the manifest against its chain."""
    from runbook.core import evidence

    report = evidence.verify(run_dir)
    if report.ok:
        print(f"OK: every file of {run_dir} matches its manifest, and the manifest its chain")
        return 0
    for line in report.lines():
        print(line)
    print(f"FAILED: {run_dir} does not match its recorded evidence")
    return 1


def verify_chain(env: str, outputs: Path | None) -> int:
    """Every run of an environment and the chain linking them."""
    from runbook.core.parameters import project_root
    from runbook.governance.chain import verify_chain as walk

    env_dir = (outputs or project_root() / "outputs") / env
    if not env_dir.is_dir():
        print(f"FAILED: no runs for environment {env!r} under {env_dir.parent}")
        return 1
    report = walk(env_dir)
    for line in report.lines():
        print(line)
    print(f"{'OK' if report.ok else 'FAILED'}: hash chain of {env_dir}")
    return 0 if report.ok else 1
