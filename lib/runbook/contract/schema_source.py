"""Getting OpenAPI documents: over HTTP, by importing the app in the target's interpreter,
from a stored file, or from the app as it was at a git ref."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from jsonschema.exceptions import ValidationError as JsonSchemaValidationError
from openapi_spec_validator import validate
from openapi_spec_validator.exceptions import OpenAPISpecValidatorError

from runbook.contract.params import ContractParams
from runbook.secrets import SecretUnavailable, resolve


class ContractError(Exception):
    """Something needed for the contract checks could not be obtained (reported as ERROR)."""


class SchemaUnreachable(ContractError):
    """The target did not answer (connection refused, timeout, DNS...)."""


class SchemaGenerationError(ContractError):
    """Importing the app in the target's interpreter did not produce a schema."""


class InvalidSchema(ContractError):
    """A document was obtained but is not a valid OpenAPI 3.0 / 3.1 document (reported as FAIL)."""


SUPPORTED_VERSIONS = ("3.0.", "3.1.")
_SECRET_NAME = re.compile(
    r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|DATABASE_URL|CONN", re.IGNORECASE
)


def validate_openapi(document: Any, source: str) -> str:
    """The OpenAPI version of a valid 3.0/3.1 document; else InvalidSchema naming `source`."""
    if not isinstance(document, dict):
        raise InvalidSchema(f"{source} is not an OpenAPI document: top level is not an object")
    version = document.get("openapi")
    if not isinstance(version, str):
        raise InvalidSchema(f"{source} is not an OpenAPI document: no 'openapi' version field")
    if not version.startswith(SUPPORTED_VERSIONS):
        raise InvalidSchema(f"{source} has unsupported OpenAPI version {version!r} (need 3.0/3.1)")
    try:
        validate(document)
    except (OpenAPISpecValidatorError, JsonSchemaValidationError) as exc:
        where = getattr(exc, "json_path", "") or ""
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidSchema(
            f"{source} is not a valid OpenAPI {version} document: {first} {where}".rstrip()
        ) from exc
    return version


def request_headers(params: ContractParams) -> dict[str, str]:
    """Plain headers plus secret headers resolved from their references (never logged)."""
    headers = dict(params.headers)
    for header, ref in params.header_secrets.items():
        try:
            headers[header] = resolve(ref)
        except SecretUnavailable as exc:
            raise ContractError(f"header {header!r}: {exc}") from exc
    return headers


def fetch(base_url: str, path: str, params: ContractParams) -> httpx.Response:
    """GET base_url+path with the configured timeout and headers; unreachable: SchemaUnreachable."""
    url = base_url.rstrip("/") + path
    try:
        return httpx.get(
            url, headers=request_headers(params), timeout=params.timeout_s, follow_redirects=True
        )
    except httpx.HTTPError as exc:
        raise SchemaUnreachable(f"GET {url} failed: {type(exc).__name__}: {exc}") from exc


def fetch_schema(base_url: str, params: ContractParams | None = None) -> dict[str, Any]:
    """Fetch and validate the target's OpenAPI document (200 + JSON + valid OpenAPI)."""
    params = params or ContractParams()
    url = base_url.rstrip("/") + params.openapi_path
    response = fetch(base_url, params.openapi_path, params)
    if response.status_code != 200:
        raise InvalidSchema(f"GET {url} answered {response.status_code}, expected 200")
    try:
        document = response.json()
    except ValueError as exc:
        raise InvalidSchema(f"GET {url} did not return JSON: {exc}") from exc
    validate_openapi(document, f"GET {url}")
    return document


def load_schema_file(path: Path) -> dict[str, Any]:
    """Read a JSON or YAML OpenAPI document from a file and validate it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ContractError(f"baseline file {path} cannot be read: {exc}") from exc
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidSchema(f"baseline file {path} is neither JSON nor YAML: {exc}") from exc
    validate_openapi(document, f"baseline file {path}")
    return document


# -- generation by import, in the target's own environment ---------------------------------

_IMPORT_SCRIPT = """
import importlib, json, sys
real_stdout, sys.stdout = sys.stdout, sys.stderr  # import-time prints must not corrupt the JSON
module_name, _, attribute = sys.argv[1].partition(":")
module = importlib.import_module(module_name)
app = module
for part in attribute.split("."):
    app = getattr(app, part)
if not hasattr(app, "openapi"):
    app = app()  # an app factory
real_stdout.write(json.dumps({"module_file": getattr(module, "__file__", None),
                              "openapi": app.openapi()}))
"""


def _interpreter(python: str, repo: Path) -> str:
    if os.sep in python or "/" in python:
        candidate = Path(python)
        return str(candidate if candidate.is_absolute() else (repo / candidate).resolve())
    return python  # a bare name is looked up on PATH


def _redact(text: str, env: dict[str, str]) -> str:
    for name, value in env.items():
        if _SECRET_NAME.search(name) and len(value) >= 6:
            text = text.replace(value, f"<${name}>")
    return text


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _import_openapi(
    repo: Path, params: ContractParams, source_dir: Path
) -> tuple[dict, str | None]:
    python = _interpreter(params.python, repo) if params.python else sys.executable
    cwd = (source_dir / params.app_dir).resolve()
    env = {**os.environ, **params.generate_env}
    command = [python, "-c", _IMPORT_SCRIPT, params.app]
    try:
        proc = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=params.generate_timeout_s,
            check=False,
        )
    except FileNotFoundError as exc:
        raise SchemaGenerationError(f"cannot run {python} in {cwd}: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise SchemaGenerationError(
            f"importing {params.app} with {python} timed out after {params.generate_timeout_s}s"
        ) from exc
    if proc.returncode != 0:
        raise SchemaGenerationError(
            f"importing {params.app} with {python} in {cwd} exited {proc.returncode}:\n"
            + _redact(_tail(proc.stderr), env)
        )
    try:
        envelope = json.loads(proc.stdout)
    except ValueError as exc:
        raise SchemaGenerationError(
            f"importing {params.app} printed no JSON schema: {exc}\n"
            + _redact(_tail(proc.stderr), env)
        ) from exc
    return envelope["openapi"], envelope.get("module_file")


def generate_schema(repo: Path, params: ContractParams) -> dict[str, Any]:
    """Import params.app with the target's interpreter inside `repo` and return its valid schema."""
    repo = Path(repo).resolve()
    document, _ = _import_openapi(repo, params, repo)
    validate_openapi(document, f"schema generated from {params.app} in {repo}")
    return document


# -- baseline --------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )


@contextmanager
def checkout_ref(repo: Path, ref: str) -> Iterator[Path]:
    """`repo` as it was at `ref`: a detached git worktree in a temp dir, removed afterwards.

    When `repo` is a subdirectory of its git repository, the same subdirectory of the
    checkout is yielded."""
    prefix = _git(repo, "rev-parse", "--show-prefix")
    if prefix.returncode != 0:
        raise ContractError(f"{repo} is not inside a git repository: {_tail(prefix.stderr)}")
    tmp = Path(tempfile.mkdtemp(prefix="contract-baseline-"))
    worktree = tmp / "tree"
    added = _git(repo, "worktree", "add", "--detach", str(worktree), ref)
    if added.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ContractError(f"cannot check out git ref {ref!r} of {repo}: {_tail(added.stderr)}")
    try:
        yield worktree / prefix.stdout.strip()
    finally:
        if _git(repo, "worktree", "remove", "--force", str(worktree)).returncode != 0:
            shutil.rmtree(worktree, ignore_errors=True)
            _git(repo, "worktree", "prune")
        shutil.rmtree(tmp, ignore_errors=True)


def generate_schema_at_ref(repo: Path, ref: str, params: ContractParams) -> dict[str, Any]:
    """The schema of params.app as it was at git `ref` (using the repo's interpreter)."""
    repo = Path(repo).resolve()
    with checkout_ref(repo, ref) as worktree:
        document, module_file = _import_openapi(repo, params, worktree)
        if module_file is None or not Path(module_file).resolve().is_relative_to(
            worktree.resolve()
        ):
            raise SchemaGenerationError(
                f"{params.app} was imported from {module_file}, not from the checkout of {ref!r}: "
                "the interpreter does not pick the app up from its working directory"
            )
    validate_openapi(document, f"schema generated from {params.app} at git ref {ref!r}")
    return document


def load_baseline(params: ContractParams, repo: Path | None = None) -> dict[str, Any]:
    """The baseline OpenAPI document: baseline.file, or the app as it was at baseline.git_ref."""
    if params.baseline is None:
        raise ContractError("no baseline configured (set baseline.file or baseline.git_ref)")
    if params.baseline.file is not None:
        path = Path(params.baseline.file)
        if not path.is_absolute():  # relative to the runbook checkout, like every parameter path
            from runbook.params import project_root

            path = project_root() / path
        return load_schema_file(path)
    if repo is None:
        raise ContractError("baseline.git_ref needs the target repository path")
    assert params.baseline.git_ref is not None
    return generate_schema_at_ref(Path(repo), params.baseline.git_ref, params)
