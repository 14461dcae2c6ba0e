"""Build the rehearsal packages from the folders next to this file, byte-for-byte reproducibly.

    uv run python rehearsal/src/rehearsal/samples/releases/build_releases.py OUT_DIR

writes OUT_DIR/release-1.0.0.zip and release-1.1.0.zip (healthy) and OUT_DIR/release-1.1.0-regressed.zip (the sandbox's
slow route takes 400 ms, GET /api/v1/notifications/ answers 500) and prints name, sha256 and path
as JSON lines. Each folder's release.json is what the package "is" in a rehearsal (see
rehearsal.sandbox.release). No zip is committed: they are built at run time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from runbook.phases.deploy.package import sha256_file, zip_folder

HERE = Path(__file__).resolve().parent
RELEASES = ("release-1.0.0", "release-1.1.0", "release-1.1.0-regressed")


def build_releases(out_dir: Path) -> dict[str, Path]:
    """Zip each release folder into out_dir/{name}.zip; returns name -> zip path."""
    out: dict[str, Path] = {}
    for name in RELEASES:
        out[name] = Path(out_dir) / f"{name}.zip"
        zip_folder(HERE / name, out[name])
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    for name, path in build_releases(Path(argv[0])).items():
        print(json.dumps({"name": name, "sha256": sha256_file(path), "path": str(path)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
