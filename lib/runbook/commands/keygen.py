"""`runbook keygen`: a new Ed25519 key pair for signing run manifests."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook.commands import EXIT_FAILED, EXIT_OK

NAME = "keygen"
HELP = "make an Ed25519 key pair that signs run manifests (evidence.signing_key, verify --key)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="folder for the two key files"
    )
    parser.add_argument("--force", action="store_true", help="replace keys already in DIR")


def run(args: argparse.Namespace) -> int:
    """Write DIR/runbook-signing.key (private, PEM, mode 0600) and DIR/runbook-signing.pub;
    print where, the fingerprint and how to use them (never the private key)."""
    from runbook.governance.signing import generate_key_pair

    try:
        pair = generate_key_pair(args.out, overwrite=args.force)
    except FileExistsError as exc:
        print(f"error: {exc}; use --force to replace them", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"error: could not write the keys in {args.out}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILED
    print(f"private key: {pair.private_key}  (keep it secret: a CI secret, never in git)")
    print(f"public key:  {pair.public_key}  (give it to reviewers: runbook verify --key)")
    print(f"fingerprint: {pair.fingerprint}")
    print("sign runs: put the private key's PEM into a secret variable, e.g.")
    print(f'  export RUNBOOK_SIGNING_KEY="$(cat {pair.private_key})"')
    print("and name it in parameters/<env>.yaml:")
    print("  evidence: {signing_key: {env: RUNBOOK_SIGNING_KEY}, require_signature: true}")
    return EXIT_OK
