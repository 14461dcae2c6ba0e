"""`runbook summary RUN_DIR…`: several runs (one per target or region, e.g. a CI matrix's
artifacts) merged into one fleet report and one verdict; worst wins, an unverifiable run is
INCOMPLETE."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook.commands import EXIT_FAILED, EXIT_INVALID, EXIT_OK

NAME = "summary"
HELP = "merge run directories (one per target) into one fleet verdict, as text, Markdown, HTML"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dirs",
        type=Path,
        nargs="+",
        metavar="RUN_DIR",
        help="run directories, or folders holding them (e.g. downloaded CI artifacts)",
    )
    parser.add_argument("--html", type=Path, metavar="OUT", help="also write an HTML page here")
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print Markdown instead of text (for $GITHUB_STEP_SUMMARY / task.uploadsummary)",
    )
    parser.add_argument(
        "--markdown-file", type=Path, metavar="OUT", help="also write the Markdown here"
    )
    parser.add_argument(
        "--key",
        type=Path,
        metavar="PUBLIC_KEY_FILE",
        help="every run must be signed by this Ed25519 public key (else it counts INCOMPLETE)",
    )


def run(args: argparse.Namespace) -> int:
    """0 when the fleet is GO, 1 otherwise; 2 when an output cannot be written."""
    from runbook.core.evidence import EvidenceWriteError, write_evidence
    from runbook.governance.signing import SigningKeyError, load_public_key
    from runbook.orchestration.fleet import html_page, markdown, summarize, text_lines

    try:
        trusted = load_public_key(args.key) if args.key else None
    except SigningKeyError as exc:
        print(f"error: --key: {exc}", file=sys.stderr)
        return EXIT_INVALID
    report = summarize(args.run_dirs, trusted)
    md = markdown(report, Path.cwd())
    if args.markdown:
        sys.stdout.write(md)
    else:
        print("\n".join(text_lines(report)))
    try:
        if args.html:
            write_evidence(args.html, html_page(report, args.html.resolve()))
        if args.markdown_file:
            write_evidence(
                args.markdown_file, markdown(report, args.markdown_file.resolve().parent)
            )
    except EvidenceWriteError as exc:
        print(f"error: {exc.describe()}", file=sys.stderr)
        return EXIT_INVALID
    sys.stdout.flush()
    return EXIT_OK if report.verdict.value == "GO" else EXIT_FAILED
