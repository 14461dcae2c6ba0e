"""`runbook list`: past runs with their verdicts, from outputs/ or from the evidence store."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "list"
HELP = "past runs with their verdicts (--store ENV: the runs in that environment's store)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from runbook.commands.store import add_store_arguments

    parser.add_argument("--env")
    parser.add_argument("--outputs", type=Path)
    add_store_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """One line per run (environment, run id, verdict, phases); no runs is not an error;
    an unreachable store is (1)."""
    from runbook.core import evidence
    from runbook.core.parameters import project_root

    if args.store:
        found = _from_store(args)
        if found is None:
            return 1
        outputs = found
    else:
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


def _from_store(args: argparse.Namespace) -> Path | None:
    """Mirror the manifests of the store (one environment, or all) and return the mirror's
    outputs-like folder; None after printing why the store could not be read."""
    from runbook.commands.store import cache_from_args, store_from_args
    from runbook.core.evidence_store import cache_folder
    from runbook.providers.azure.blob_store import StoreError, environments, mirror_env

    store = store_from_args(args, args.store)
    cache = cache_from_args(args)
    print(f"runs in the evidence store {store.describe()}")
    try:
        for env in [args.env] if args.env else environments(store):
            mirror_env(store, env, cache, full=False)
    except StoreError as exc:
        print(f"FAILED: {exc}")
        return None
    return cache_folder(store, cache)
