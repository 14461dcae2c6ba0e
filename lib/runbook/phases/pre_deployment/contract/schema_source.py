"""Getting OpenAPI documents: over HTTP, by importing the app in the target's interpreter,
from a stored file, or from the app as it was at a git ref."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import yaml
from jsonschema.exceptions import ValidationError as JsonSchemaValidationError
from openapi_spec_validator import validate
from openapi_spec_validator.exceptions import OpenAPISpecValidatorError

from runbook.core.secret_refs import SecretUnavailable, resolve
from runbook.phases.pre_deployment.contract.app_import import ImportedSchema, import_schema
from runbook.phases.pre_deployment.contract.errors import ContractError as ContractError
from runbook.phases.pre_deployment.contract.errors import ImportLeak as ImportLeak
from runbook.phases.pre_deployment.contract.errors import InvalidSchema as InvalidSchema
from runbook.phases.pre_deployment.contract.errors import MissingSettings as MissingSettings
from runbook.phases.pre_deployment.contract.errors import (
    SchemaGenerationError as SchemaGenerationError,
)
from runbook.phases.pre_deployment.contract.errors import SchemaUnreachable as SchemaUnreachable
from runbook.phases.pre_deployment.contract.params import ContractParams

SUPPORTED_VERSIONS = ("3.0.", "3.1.")


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


def generate_schema_info(repo: Path, params: ContractParams) -> ImportedSchema:
    """Import params.app from the checkout `repo` with the target's interpreter; how it went."""
    repo = Path(repo).absolute()
    imported = import_schema(params, repo, repo)
    validate_openapi(imported.document, f"schema generated from {params.app} in {repo}")
    return imported


def generate_schema(repo: Path, params: ContractParams) -> dict[str, Any]:
    """Import params.app with the target's interpreter inside `repo` and return its valid schema."""
    return generate_schema_info(repo, params).document


# -- baseline --------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class Checkout(NamedTuple):
    """A temporary clean worktree of a ref, and where the target repository's folder is in it."""

    root: Path  # the worktree's root
    path: Path  # the same subfolder of it as the target repo is of its git repository
    source_root: Path  # the root of the current checkout (nothing of it may be imported)


@contextmanager
def checkout_ref(repo: Path, ref: str) -> Iterator[Checkout]:
    """`repo` as it was at `ref`: a detached git worktree in a temp dir, removed afterwards.

    When `repo` is a subdirectory of its git repository, the same subdirectory of the
    checkout is `path`."""
    top = _git(repo, "rev-parse", "--show-toplevel")
    prefix = _git(repo, "rev-parse", "--show-prefix")
    if top.returncode != 0 or prefix.returncode != 0:
        raise ContractError(f"{repo} is not inside a git repository: {_tail(prefix.stderr)}")
    tmp = Path(tempfile.mkdtemp(prefix="contract-baseline-"))
    worktree = tmp / "tree"
    added = _git(repo, "worktree", "add", "--detach", str(worktree), ref)
    if added.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ContractError(f"cannot check out git ref {ref!r} of {repo}: {_tail(added.stderr)}")
    try:
        yield Checkout(worktree, worktree / prefix.stdout.strip(), Path(top.stdout.strip()))
    finally:
        if _git(repo, "worktree", "remove", "--force", str(worktree)).returncode != 0:
            shutil.rmtree(worktree, ignore_errors=True)
            _git(repo, "worktree", "prune")
        shutil.rmtree(tmp, ignore_errors=True)


def generate_schema_at_ref_info(repo: Path, ref: str, params: ContractParams) -> ImportedSchema:
    """params.app as it was at git `ref`, imported from a clean worktree in isolation: nothing
    of the current checkout on its path (editable installs are moved to the worktree)."""
    repo = Path(repo).absolute()
    if params.baseline_python is not None:
        params = params.model_copy(update={"python": params.baseline_python})
    with checkout_ref(repo, ref) as checkout:
        try:
            imported = import_schema(
                params,
                repo,
                checkout.path,
                checkout_root=checkout.root,
                isolate_from=checkout.source_root,
            )
        except SchemaGenerationError as exc:
            hint = ""
            if "ModuleNotFoundError" in str(exc) and isinstance(params.python, str | None):
                hint = (
                    " — the base release needs packages this environment lacks: set "
                    "contract.baseline_python to an argv prefix such as [uv, run, --frozen, "
                    "--project, <its project folder>, python] to build the base's own "
                    "locked environment"
                )
            first, _, rest = str(exc).partition("\n")
            exc.args = (
                f"baseline at git ref {ref!r}: {first}{hint}" + (f"\n{rest}" if rest else ""),
            )
            raise
    validate_openapi(imported.document, f"schema generated from {params.app} at git ref {ref!r}")
    return imported


def generate_schema_at_ref(repo: Path, ref: str, params: ContractParams) -> dict[str, Any]:
    """The schema of params.app as it was at git `ref` (using the repo's interpreter)."""
    return generate_schema_at_ref_info(repo, ref, params).document


def load_baseline(params: ContractParams, repo: Path | None = None) -> dict[str, Any]:
    """The baseline OpenAPI document: baseline.file, or the app as it was at baseline.git_ref."""
    return load_baseline_info(params, repo)[0]


def load_baseline_info(
    params: ContractParams, repo: Path | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The baseline document and a short note of where it came from (for evidence)."""
    if params.baseline is None:
        raise ContractError("no baseline configured (set baseline.file or baseline.git_ref)")
    if params.baseline.file is not None:
        path = Path(params.baseline.file)
        if not path.is_absolute():  # relative to the runbook checkout, like every parameter path
            from runbook.core.parameters import project_root

            path = project_root() / path
        return load_schema_file(path), {"file": str(path)}
    if repo is None:
        raise ContractError("baseline.git_ref needs the target repository path")
    assert params.baseline.git_ref is not None
    imported = generate_schema_at_ref_info(Path(repo), params.baseline.git_ref, params)
    source = {
        "git_ref": params.baseline.git_ref,
        "interpreter": imported.interpreter,
        "module_file": imported.module_file,
        "remapped_paths": imported.remapped,
        "dropped_paths": imported.dropped,
    }
    return imported.document, source
