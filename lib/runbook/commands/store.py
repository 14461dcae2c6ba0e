"""`runbook store`: the durable evidence store (Azure Blob Storage) of an environment's
parameters: `check` reads its retention policy, `push` copies a finished local run up (a retry
after a failed upload). Also the `--store ENV` options that `list`, `verify` and `rejudge`
share, and how they turn a run address into a folder mirrored from the store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from runbook.commands import EXIT_FAILED, EXIT_INVALID, EXIT_OK

if TYPE_CHECKING:
    from runbook.core.evidence_store import EvidenceStoreParams

NAME = "store"
HELP = "the evidence store: check its retention policy, or push a finished run to it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("check", "push"))
    parser.add_argument("run_dir", type=Path, nargs="?", help="push: the finished run directory")
    parser.add_argument(
        "--env", help="whose parameters name the store (push: default the run's environment)"
    )
    _store_params(parser)


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """`--store ENV` (read from the store that parameters/ENV.yaml names) and its overrides."""
    parser.add_argument(
        "--store",
        metavar="ENV",
        help="read from the evidence store named by parameters/ENV.yaml (evidence.store), "
        "mirrored into --cache",
    )
    _store_params(parser)
    parser.add_argument(
        "--cache", type=Path, help="where the store is mirrored (default .cache/evidence-store)"
    )


def _store_params(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store-param",
        action="append",
        default=[],
        dest="store_overrides",
        metavar="KEY=VALUE",
        help="override a key of that environment's parameters, e.g. evidence.store.container=x",
    )


def store_from_args(args: argparse.Namespace, env: str) -> EvidenceStoreParams:
    """The store of parameters/<env>.yaml with --store-param overrides (ParameterError: exit 2)."""
    from runbook.core.evidence_store import store_of

    return store_of(env, list(args.store_overrides))


def cache_from_args(args: argparse.Namespace) -> Path:
    from runbook.core.evidence_store import default_cache

    return Path(args.cache) if getattr(args, "cache", None) else default_cache()


def run_address(address: str, default_env: str) -> tuple[str, str]:
    """'RUN_ID' or 'ENV/RUN_ID' → (env, run id)."""
    env, _, run_id = address.strip("/").rpartition("/")
    return (env or default_env), run_id


def mirrored_run(args: argparse.Namespace, address: str) -> Path:
    """The run `address` names in the store of `--store ENV`, mirrored into the cache (every
    file, with its chain). StoreError names what is missing or unreachable."""
    from runbook.providers.azure.blob_store import mirror_run

    store = store_from_args(args, args.store)
    env, run_id = run_address(address, args.store)
    print(f"reading {env}/{run_id} from the evidence store {store.describe()}")
    return mirror_run(store, env, run_id, cache_from_args(args))


def run(args: argparse.Namespace) -> int:
    """check: 0 only with a time-based retention policy; push: 0 when the run is stored."""
    from runbook.providers.azure.blob_store import immutability_check, store_run

    if args.action == "check":
        if not args.env:
            print("error: runbook store check --env ENV", file=sys.stderr)
            return EXIT_INVALID
        result = immutability_check(store_from_args(args, args.env))
        print(f"{result.status.value.upper()}: {result.id}: {result.explanation}")
        return EXIT_OK if result.status.value == "pass" else EXIT_FAILED
    if args.run_dir is None:
        print("error: runbook store push RUN_DIR", file=sys.stderr)
        return EXIT_INVALID
    run_dir = args.run_dir.resolve()
    store = store_from_args(args, args.env or run_dir.parent.name)
    stored = store_run(store, run_dir, print)
    return EXIT_OK if stored else EXIT_FAILED
