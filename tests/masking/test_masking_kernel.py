"""Secrets masked in a real kernel under papermill: once a phase context started (which
resolves the parameters' secrets), what a cell prints, logs, displays, returns or raises reaches
the saved notebook only masked — including the error papermill reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

from runbook.core.masking import value_forms

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "kernel-secret-Zq81/+xv_0123456789"
MASK = "***$PIXCRAWLER_SANDBOX_TOKEN***"
TIMEOUT_S = 600

CELLS = [
    "import base64, json, logging, urllib.parse\nfrom IPython.display import HTML, display\n"
    "from runbook.orchestration.notebook import start\n"
    'ctx = start("verify", "local", {}, "")  # lab-like: the parameters file, no run of its own',
    "from runbook.core.secret_refs import resolve\nv = resolve(ctx.params.target.token)",
    'print("printed", v)\nprint("stderr", v, file=__import__("sys").stderr)',
    'logging.getLogger("runbook.test").warning("logged %s", v)',
    'display({"echo": v, "b64": base64.b64encode(v.encode()).decode()})\n'
    'display(HTML(f"<p>{urllib.parse.quote(v, safe=chr(0))}</p>"))',
    'json.dumps({"result": v})',
    'raise RuntimeError(f"the target answered: Bearer {v}")',
]


def test_everything_the_kernel_shows_is_masked(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    source, out = tmp_path / "leak.ipynb", tmp_path / "leak.out.ipynb"
    nbformat.write(nb, source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOK_")}
    env.update(
        PIXCRAWLER_SANDBOX_TOKEN=TOKEN,
        RUNBOOK_ROOT=str(ROOT),
        RUNBOOK_INTERACTIVE="1",  # not plain papermill: no run directory, no verdict raised
    )
    done = subprocess.run(
        [sys.executable, "-m", "papermill", str(source), str(out), "--cwd", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_S,
    )
    assert done.returncode != 0  # the last cell raises on purpose
    assert "RuntimeError: the target answered: Bearer " + MASK in done.stderr
    saved = out.read_bytes()
    forms = value_forms(TOKEN)
    assert not [f for f in forms if f in saved]
    assert not [f for f in forms if f.decode() in done.stdout + done.stderr]
    outputs = [o for c in json.loads(saved)["cells"] for o in c.get("outputs", [])]
    text = json.dumps(outputs)
    for shown in ("printed ***", "stderr ***", "logged ***", '\\"result\\": \\"***', "echo"):
        assert shown in text, shown
    error = next(o for o in outputs if o["output_type"] == "error")
    assert MASK in error["evalue"] and MASK in "".join(error["traceback"])
