"""`runbook verify`: one run directory wherever it is (files vs manifest; the chain when one is
at hand; the signature, by a trusted key with --key), or an environment's whole hash chain."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook.commands import EXIT_INVALID

NAME = "verify"
HELP = (
    "verify a run directory (files vs manifest, chain when at hand, signature with --key), "
    "or walk an environment's whole hash chain"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, nargs="?")
    parser.add_argument(
        "--chain-file",
        type=Path,
        metavar="PATH",
        help="check the run against this chain.jsonl (default: the one beside the run, if any)",
    )
    parser.add_argument(
        "--standalone",
        action="store_true",
        help="ignore a chain.jsonl beside the run (a copy placed among other runs)",
    )
    parser.add_argument(
        "--key",
        type=Path,
        metavar="PUBLIC_KEY_FILE",
        help="prove the run (with --chain: every run) was signed by this Ed25519 public key "
        "(unsigned: FAILED)",
    )
    parser.add_argument("--chain", metavar="ENV", help="verify every run of ENV and their chain")
    parser.add_argument("--outputs", type=Path)
    from runbook.commands.store import add_store_arguments

    add_store_arguments(parser)  # --store ENV: RUN_DIR is then RUN_ID or ENV/RUN_ID


def run(args: argparse.Namespace) -> int:
    """0 when everything checked matches, 1 otherwise (each problem printed)."""
    if getattr(args, "store", None):
        return _from_store(args)
    if args.chain:
        return verify_chain(args.chain, args.outputs, args.key)
    if args.run_dir is None:
        print("error: give a RUN_DIR or --chain ENV", file=sys.stderr)
        return EXIT_INVALID
    if args.standalone and args.chain_file:
        print("error: --standalone and --chain-file exclude each other", file=sys.stderr)
        return EXIT_INVALID
    return verify_run(args.run_dir, args.chain_file, args.key, find_chain=not args.standalone)


def verify_run(
    run_dir: Path,
    chain_file: Path | None = None,
    key: Path | None = None,
    *,
    find_chain: bool = True,
) -> int:
    """One run: its files against its manifest, the manifest against a chain when one is at
    hand, its signature; prints what was checked. 0 when all of it holds, 1 otherwise, 2 for
    an unusable key file."""
    from runbook.governance.run_verification import verify_run_dir
    from runbook.governance.signing import SigningKeyError

    try:
        found = verify_run_dir(run_dir, chain_file, key, find_chain=find_chain)
    except SigningKeyError as exc:
        print(f"error: --key: {exc}", file=sys.stderr)
        return EXIT_INVALID
    for line in found.lines():
        print(line)
    if not found.ok:
        failed = found.failed_parts()
        if failed == ["signature"]:
            print(f"FAILED: {run_dir}: its signature does not prove who produced it")
        else:
            print(f"FAILED: {run_dir} does not match its recorded evidence ({', '.join(failed)})")
        return 1
    how = "standalone (no chain at hand)" if found.standalone else "against its chain"
    signed = found.signature is not None and found.signature.status == "valid"
    by = " and signature" if signed else ""
    print(f"OK: {run_dir}: files{by} verified, {how}")
    return 0


def verify_chain(env: str, outputs: Path | None, key: Path | None = None) -> int:
    """Every run of an environment and the chain linking them (and, with `key`, that the
    trusted key signed every run)."""
    from runbook.core.parameters import project_root
    from runbook.governance.chain import verify_chain as walk
    from runbook.governance.signing import SigningKeyError, load_public_key

    try:
        trusted = load_public_key(key) if key is not None else None
    except SigningKeyError as exc:
        print(f"error: --key: {exc}", file=sys.stderr)
        return EXIT_INVALID

    env_dir = (outputs or project_root() / "outputs") / env
    if not env_dir.is_dir():
        print(f"FAILED: no runs for environment {env!r} under {env_dir.parent}")
        return 1
    report = walk(env_dir, trusted)
    for line in report.lines():
        print(line)
    print(f"{'OK' if report.ok else 'FAILED'}: hash chain of {env_dir}")
    return 0 if report.ok else 1


def _from_store(args: argparse.Namespace) -> int:
    """The run (or with --chain, the environment) mirrored from the evidence store of
    `--store ENV`, then verified like a local one; 1 when the store cannot be read."""
    from runbook.commands.store import cache_from_args, mirrored_run, store_from_args
    from runbook.core.evidence_store import cache_folder
    from runbook.providers.azure.blob_store import StoreError, mirror_env

    try:
        if args.chain:
            store = store_from_args(args, args.store)
            print(f"reading {args.chain} from the evidence store {store.describe()}")
            mirror_env(store, args.chain, cache_from_args(args), full=True)
            return verify_chain(args.chain, cache_folder(store, cache_from_args(args)), args.key)
        if args.run_dir is None:
            print("error: give a RUN_ID (or ENV/RUN_ID) or --chain ENV", file=sys.stderr)
            return EXIT_INVALID
        run_dir = mirrored_run(args, str(args.run_dir))
    except StoreError as exc:
        print(f"FAILED: {exc}")
        return 1
    return verify_run(run_dir, args.chain_file, args.key)
