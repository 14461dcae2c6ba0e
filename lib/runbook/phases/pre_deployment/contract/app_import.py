"""Import the target's app in the target's own interpreter, in isolation, and read its schema.

The import runs in a subprocess started with `-I -B` (no PYTHON* variables, no user site, no
current directory on sys.path, no bytecode written into the checkout), in a clean process
environment (only the basics below plus `contract.generate_env`), with the app directory of the
checkout being imported first on sys.path. When the checkout is a baseline worktree, every
sys.path entry and setuptools editable mapping that points into the *current* checkout (an
editable install of the candidate's packages in the target's venv) is moved to the same place
in the baseline worktree, or dropped when the baseline has no such place; after the import,
any module loaded from the current checkout is a leak, reported by file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runbook.core.secret_refs import SecretRef, SecretUnavailable, resolve
from runbook.phases.pre_deployment.contract.errors import (
    ImportLeak,
    MissingSettings,
    SchemaGenerationError,
)
from runbook.phases.pre_deployment.contract.params import ContractParams

# what a clean import environment keeps from the runbook's own (nothing of Python's or a venv's)
_PASSED = re.compile(
    r"^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_\w+|TZ|TMPDIR|TEMP|TMP|SYSTEMROOT"
    r"|XDG_CACHE_HOME|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE"
    r"|HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy|UV_\w+)$"
)
_NOT_PASSED = {"UV_PROJECT_ENVIRONMENT"}  # would point uv at another checkout's environment
_SECRET_NAME = re.compile(
    r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|DATABASE_URL|DSN|CONN", re.IGNORECASE
)
_EXIT_IMPORT_FAILED = 3

# Runs in the target's interpreter (any Python >= 3.8): argv[1] is a JSON ImportSpec.
_IMPORT_SCRIPT = r'''
import importlib, json, os, sys, traceback
real_stdout, sys.stdout = sys.stdout, sys.stderr  # import-time prints must not corrupt the JSON
spec = json.loads(sys.argv[1])


def within(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


OWN = [os.path.realpath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}]
OLD = os.path.realpath(spec["isolate_from"]) if spec["isolate_from"] else None
NEW = os.path.realpath(spec["checkout_root"])


def foreign(path):
    """A file or folder of the current checkout (not the interpreter's own environment)."""
    if OLD is None or not path or not isinstance(path, str):
        return False
    real = os.path.realpath(path)
    return within(real, OLD) and not within(real, NEW) and not any(within(real, o) for o in OWN)


def counterpart(path):
    moved = os.path.join(NEW, os.path.relpath(os.path.realpath(path), OLD))
    return moved if os.path.exists(moved) else None


remapped, dropped = [], []


def relocate(path):
    moved = counterpart(path)
    (remapped if moved else dropped).append(path)
    return moved


entries = []
for entry in sys.path:
    if foreign(entry):
        entry = relocate(entry)
    if entry and entry not in entries:
        entries.append(entry)
app_dir = spec["app_dir"]
sys.path[:] = [app_dir] + [e for e in entries if e != app_dir]
for finder in list(sys.meta_path):  # setuptools editable installs map packages to folders
    module = sys.modules.get(getattr(finder, "__module__", None) or "")
    mapping = getattr(module, "MAPPING", None)
    if isinstance(mapping, dict):
        for name, location in list(mapping.items()):
            if foreign(location):
                moved = relocate(location)
                if moved:
                    mapping[name] = moved
                else:
                    del mapping[name]
    namespaces = getattr(module, "NAMESPACES", None)
    if isinstance(namespaces, dict):
        for name, locations in list(namespaces.items()):
            if isinstance(locations, list):
                kept = [relocate(p) if foreign(p) else p for p in locations]
                namespaces[name] = [p for p in kept if p]
importlib.invalidate_caches()


def leaked():
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if foreign(path):
            files.add(path)
    return sorted(files)


def settings_class(title):
    try:
        from pydantic_settings import BaseSettings
    except Exception:
        return None
    stack = list(BaseSettings.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls.__name__ == title:
            return cls
        stack.extend(cls.__subclasses__())
    return None


def env_name(cls, loc):
    if cls is None or not loc:
        return None
    config = getattr(cls, "model_config", {}) or {}
    field = getattr(cls, "model_fields", {}).get(loc[0])
    alias = getattr(field, "validation_alias", None) or getattr(field, "alias", None)
    name = alias if isinstance(alias, str) else (config.get("env_prefix") or "") + str(loc[0])
    delimiter = config.get("env_nested_delimiter")
    if delimiter and len(loc) > 1:
        name = delimiter.join([name] + [str(part) for part in loc[1:]])
    return name if config.get("case_sensitive") else name.upper()


def field_errors(exc):
    if type(exc).__name__ != "ValidationError" or not callable(getattr(exc, "errors", None)):
        return None
    try:
        items = exc.errors(include_url=False, include_input=False)
    except TypeError:
        items = exc.errors()
    title = getattr(exc, "title", None)
    cls = settings_class(title)
    return {
        "model": title,
        "settings": cls is not None,
        "errors": [
            {
                "loc": [str(part) for part in (item.get("loc") or ())],
                "env": env_name(cls, tuple(item.get("loc") or ())),
                "type": str(item.get("type")),
                "msg": str(item.get("msg"))[:300],
            }
            for item in items
        ],
    }


def describe(exc):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
    story = traceback.format_list(frames[-6:]) + traceback.format_exception_only(type(exc), exc)
    sys.stderr.write("".join(story))
    return {
        "type": type(exc).__name__,
        "message": str(exc)[:2000],
        "where": "%s:%s" % (frames[-1].filename, frames[-1].lineno) if frames else None,
        "foreign_frames": [f.filename for f in frames if foreign(f.filename)],
        "fields": field_errors(exc),
    }


result = {"remapped": remapped, "dropped": dropped, "sys_path": sys.path[:8]}
try:
    os.chdir(app_dir)
    module_name, _, attribute = spec["app"].partition(":")
    module = importlib.import_module(module_name)
    app = module
    for part in attribute.split("."):
        app = getattr(app, part)
    if not hasattr(app, "openapi"):
        if not callable(app):
            raise TypeError("%s is a %s: neither an app with .openapi() nor an app factory"
                            % (spec["app"], type(app).__name__))
        app = app()  # an app factory
    document = app.openapi()
except BaseException as exc:  # SystemExit from a settings check included
    result.update(error=describe(exc), leaked=leaked())
    real_stdout.write(json.dumps(result, default=str))
    sys.exit(3)
result.update(module_file=getattr(module, "__file__", None), openapi=document, leaked=leaked())
real_stdout.write(json.dumps(result, default=str))
'''


class ImportedSchema(BaseModel):
    """An OpenAPI document read from an imported app, with how it was obtained."""

    model_config = ConfigDict(extra="forbid")

    document: dict[str, Any]
    module_file: str | None
    interpreter: list[str] = Field(description="the argv prefix that ran the import")
    cwd: str
    env_names: list[str] = Field(description="names (never values) of the variables passed")
    remapped: list[str] = Field(default_factory=list, description="current-checkout paths moved")
    dropped: list[str] = Field(default_factory=list, description="current-checkout paths removed")


def interpreter_argv(python: str | list[str] | None, repo: Path) -> list[str]:
    """The argv prefix that runs the target's Python. A relative path is taken inside `repo`
    as given: a venv's `bin/python` symlink is never resolved, or the venv would be lost."""
    if python is None:
        return [sys.executable]
    argv = [python] if isinstance(python, str) else [str(part) for part in python]
    if not argv or not argv[0]:
        raise SchemaGenerationError("contract.python is empty: give a path or an argv prefix")
    first = argv[0]
    if "/" in first or os.sep in first:
        path = Path(first)
        absolute = path if path.is_absolute() else Path(os.path.abspath(Path(repo) / path))
        if not absolute.exists():
            raise SchemaGenerationError(
                f"the target's interpreter {first} does not exist ({absolute}): create the "
                "target's environment first (e.g. `uv sync` in its project folder)"
            )
        argv[0] = str(absolute)
    return argv


def clean_env(
    generate_env: dict[str, str | SecretRef],
) -> tuple[dict[str, str], dict[str, str]]:
    """The import's environment (basics + generate_env, secrets resolved) and the secret values
    to redact. Nothing of the runbook's Python or venv (PYTHONPATH, VIRTUAL_ENV...) is passed."""
    env = {k: v for k, v in os.environ.items() if _PASSED.match(k) and k not in _NOT_PASSED}
    own_venv = os.environ.get("VIRTUAL_ENV")
    if own_venv and "PATH" in env:  # the runbook's venv must not answer for `python` or `uv`
        bin_dir = str(Path(own_venv) / "bin")
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != bin_dir)
    secrets: dict[str, str] = {}
    for name, value in generate_env.items():
        if isinstance(value, SecretRef):
            try:
                value = resolve(value)
            except SecretUnavailable as exc:
                raise SchemaGenerationError(f"contract.generate_env {name}: {exc}") from exc
            secrets[name] = value
        elif _SECRET_NAME.search(name) and len(value) >= 6:
            secrets[name] = value
        env[name] = value
    return env, secrets


def _redact(text: str, secrets: dict[str, str]) -> str:
    for name, value in sorted(secrets.items(), key=lambda item: -len(item[1])):
        if len(value) >= 4:
            text = text.replace(value, f"<${name}>")
    return text


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _settings_message(app: str, fields: dict[str, Any]) -> MissingSettings | None:
    errors = fields.get("errors") or []
    if not errors:
        return None
    missing, invalid = [], []
    for item in errors:
        name = item.get("env") or ".".join(item.get("loc") or []) or fields.get("model") or "?"
        if item.get("type") == "missing":
            missing.append(name)
        else:
            invalid.append(f"{name} ({item.get('msg')})" if item.get("loc") else item["msg"])
    what = "settings" if fields.get("settings") else "model"
    parts = [f"missing: {', '.join(missing)}"] if missing else []
    parts += [f"invalid: {'; '.join(invalid)}"] if invalid else []
    message = (
        f"importing {app} failed: {what} {fields.get('model')} refused "
        f"{len(errors)} value(s) — {' — '.join(parts)}. Give them in contract.generate_env "
        "(plain values, or {env: NAME} for a secret)"
    )
    return MissingSettings(message, missing, invalid)


def _short_path(location: str | None, root: Path) -> str | None:
    """'backend/app/x.py:5' for a file inside the checkout being imported."""
    if not location:
        return location
    path = Path(location)
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return location


def _failure(
    params: ContractParams,
    error: dict[str, Any],
    stderr: str,
    secrets: dict[str, str],
    where: str,
    root: Path,
) -> SchemaGenerationError:
    settings = _settings_message(params.app, error["fields"]) if error.get("fields") else None
    if settings is not None:
        settings.args = (_redact(str(settings), secrets),)
        return settings
    foreign = error.get("foreign_frames") or []
    leak = (
        f" — the failing code is a file of the current checkout ({foreign[-1]}), not of the "
        "baseline: see contract.python"
        if foreign
        else ""
    )
    message = (
        f"importing {params.app} failed: {error['type']}: "
        f"{error['message'].splitlines()[0] if error['message'] else ''}"
        f" (at {_short_path(error.get('where'), root)}){leak}\n"
        f"(imported {where})\n{_tail(stderr)}"
    )
    return SchemaGenerationError(_redact(message, secrets))


def import_schema(
    params: ContractParams,
    repo: Path,
    checkout: Path,
    *,
    checkout_root: Path | None = None,
    isolate_from: Path | None = None,
) -> ImportedSchema:
    """Import params.app from `checkout` (the candidate `repo` itself, or a baseline worktree
    of it) with the target's interpreter; nothing under `isolate_from` may be imported."""
    repo, checkout = Path(repo).absolute(), Path(checkout).absolute()
    root = (checkout_root or checkout).absolute()
    argv = interpreter_argv(params.python, repo)
    env, secrets = clean_env(params.generate_env)
    app_dir = (checkout / params.app_dir).resolve()
    where = f"from {app_dir} with {' '.join(argv)}"
    if not app_dir.is_dir():
        raise SchemaGenerationError(f"contract.app_dir {params.app_dir!r}: no folder {app_dir}")
    spec = {
        "app": params.app,
        "app_dir": str(app_dir),
        "checkout_root": str(root.resolve()),
        "isolate_from": str(isolate_from.resolve()) if isolate_from else None,
    }
    try:
        proc = subprocess.run(
            [*argv, "-I", "-B", "-c", _IMPORT_SCRIPT, json.dumps(spec)],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=params.generate_timeout_s,
            check=False,
        )
    except (FileNotFoundError, PermissionError) as exc:
        raise SchemaGenerationError(f"cannot run {argv[0]} in {checkout}: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise SchemaGenerationError(
            f"importing {params.app} {where} timed out after {params.generate_timeout_s}s"
        ) from exc
    try:
        envelope = json.loads(proc.stdout)
    except ValueError:
        raise SchemaGenerationError(
            _redact(
                f"importing {params.app} {where} exited {proc.returncode} without a result:\n"
                + _tail(proc.stderr),
                secrets,
            )
        ) from None
    if "error" in envelope:
        raise _failure(params, envelope["error"], proc.stderr, secrets, where, root)
    leaked = envelope.get("leaked") or []
    module_file = envelope.get("module_file")
    if leaked:
        raise ImportLeak(
            f"importing {params.app} from {checkout} loaded {len(leaked)} file(s) of the current "
            f"checkout {isolate_from}, e.g. {leaked[0]}: something in the target's environment "
            "imports them before the app (a .pth hook or sitecustomize)",
            leaked,
        )
    if module_file is None or not Path(module_file).resolve().is_relative_to(root.resolve()):
        raise SchemaGenerationError(
            f"{params.app} was imported from {module_file}, not from {root}: the interpreter "
            f"has another copy of it installed, or contract.app_dir {params.app_dir!r} is wrong"
        )
    return ImportedSchema(
        document=envelope["openapi"],
        module_file=module_file,
        interpreter=argv,
        cwd=str(checkout),
        env_names=sorted(env),
        remapped=envelope.get("remapped") or [],
        dropped=envelope.get("dropped") or [],
    )
