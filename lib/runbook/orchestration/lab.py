"""`runbook lab`: the same notebooks in JupyterLab, against the same parameters a headless run
would use. For the local environment the sandbox, the Azure stand-in and the sample target are
started first and stopped when JupyterLab exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from runbook.core.parameters import (
    PARAMS_FILE_ENV,
    ParameterError,
    load,
    project_root,
    public_dump,
    runbooks_dir,
)
from runbook.orchestration.local_services import provider_for


@contextmanager
def prepared_environment(env: str, overrides: list[str]) -> Iterator[Path]:
    """Validate the parameters, start the local stand-ins they ask for, and write the resolved
    parameters (secret references only) to a file named by $RUNBOOK_PARAMS_FILE."""
    loaded = load(env, overrides)
    with ExitStack() as stack:
        params = loaded.params
        local = provider_for(params)
        if local is not None:
            problems = local.validate(params)
            if problems:
                raise ParameterError(problems)
            params, _ = local.start(params, stack, lambda line: print(line, file=sys.stderr), None)
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="runbook-lab-")))
        path = folder / f"{env}.json"
        path.write_text(json.dumps(public_dump(params)), encoding="utf-8")
        previous = os.environ.get(PARAMS_FILE_ENV)
        os.environ[PARAMS_FILE_ENV] = str(path)
        try:
            yield path
        finally:
            if previous is None:
                os.environ.pop(PARAMS_FILE_ENV, None)
            else:
                os.environ[PARAMS_FILE_ENV] = previous


def open_lab(env: str, overrides: list[str], no_browser: bool = False) -> int:
    """Run JupyterLab on runbooks/ until it exits; notebooks pick the parameters up when their
    `params` cell is left empty."""
    with prepared_environment(env, overrides):
        args = [sys.executable, "-m", "jupyter", "lab", str(runbooks_dir(project_root()))]
        if no_browser:
            args.append("--no-browser")
        print(
            f"parameters for {env!r} ready; set env = {env!r} in a notebook's first cell",
            file=sys.stderr,
        )
        return subprocess.run(args, check=False).returncode
