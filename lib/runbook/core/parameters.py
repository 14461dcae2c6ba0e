"""Parameters: `parameters/<env>.yaml` plus `--param key=value` overrides, validated before
any notebook starts. Every problem names the file (or the --param), the key and what was
expected; the CLI turns a `ParameterError` into exit code 2.
"""

from __future__ import annotations

import json
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from runbook.core.checklist.params import ChecklistParams
from runbook.core.evidence import EvidenceParams
from runbook.core.target import TargetParams
from runbook.governance.approval import ApprovalParams
from runbook.governance.notify import NotifyParams
from runbook.governance.promotion import PromotionParams
from runbook.governance.settlement import SettlementParams
from runbook.governance.signoff import SignOffParams
from runbook.phases.deploy.params import DeployParams
from runbook.phases.environment.envconfig.params import EnvironmentConfigParams
from runbook.phases.monitoring.database.params import DatabaseParams
from runbook.phases.monitoring.params import MonitorParams
from runbook.phases.monitoring.workers.params import WorkersParams
from runbook.phases.performance.params import PerformanceParams
from runbook.phases.post_deployment.baseline import PostDeploymentParams
from runbook.phases.pre_deployment.contract.params import ContractParams
from runbook.phases.pre_deployment.gates.params import PreDeploymentParams
from runbook.phases.rollback.params import RollbackParams
from runbook.phases.success.criteria import SuccessParams
from runbook.phases.verify.integration.params import IntegrationParams
from runbook.phases.verify.smoke import SmokeParams
from runbook.providers.azure.params import AppSettingsParams, AzureParams

ENVIRONMENTS_DIR = "parameters"
OVERRIDES_ENV = "RUNBOOK_OVERRIDES"  # newline-separated key=value, for interactive kernels
PARAMS_FILE_ENV = "RUNBOOK_PARAMS_FILE"  # JSON written by `runbook lab` (secret references only)


class ExecutionParams(BaseModel):
    """How notebooks are executed."""

    model_config = ConfigDict(extra="forbid")

    cell_timeout_s: float = Field(300, gt=0, description="papermill execution_timeout per cell")
    start_timeout_s: float = Field(60, gt=0, description="kernel start-up timeout")
    kernel_name: str = "python3"


class EnvironmentPhaseParams(BaseModel):
    """Phase "environment": the variables to validate and the live App Settings to compare."""

    model_config = ConfigDict(extra="forbid")

    variables: EnvironmentConfigParams
    app_settings: AppSettingsParams | None = Field(
        None, description="compare the App Service's live settings (needs the 'azure' key)"
    )


class Parameters(BaseModel):
    """Everything one environment's run needs. Phase sections are optional per environment."""

    model_config = ConfigDict(extra="forbid")

    environment: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    description: str = ""
    target: TargetParams
    build_id: str | None = None
    execution: ExecutionParams = Field(default_factory=ExecutionParams)
    rehearsal: dict[str, Any] | None = Field(
        None,
        description="present: `runbook run` starts local stand-ins (sandbox, Azure stand-in, "
        "sample repository) through the rehearsal package, which validates this section",
    )
    azure: AzureParams | None = Field(None, description="the App Service, reached how")
    pre_deployment: PreDeploymentParams | None = None
    contract: ContractParams | None = Field(
        None, description="API documentation and backward compatibility (Pre-Deployment §3, §4)"
    )
    environment_config: EnvironmentPhaseParams | None = None
    deploy: DeployParams | None = None
    verify: SmokeParams | None = None
    integration: IntegrationParams | None = Field(
        None, description="Deployment Steps §2.3 integration tests, run in phase verify"
    )
    performance: PerformanceParams | None = None
    monitor: MonitorParams | None = None
    rollback: RollbackParams | None = None
    post_deployment: PostDeploymentParams | None = None
    success_criteria: SuccessParams | None = None
    signoff: SignOffParams | None = Field(
        None, description="manual checklist boxes: who may sign, and headless sign-offs"
    )
    settlement: SettlementParams | None = Field(
        None, description="inconclusive blockers settled by a person (check id + evidence hash)"
    )
    approval: ApprovalParams | None = Field(
        None, description="require an approval of exactly this plan (runbook plan / approve)"
    )
    promotion: PromotionParams | None = Field(
        None, description="require a fresh GO run of the same build in an earlier environment"
    )
    workers: WorkersParams | None = Field(
        None, description="Redis and Celery health (Monitoring §3, §4); local: started for the run"
    )
    database: DatabaseParams | None = Field(
        None, description="PostgreSQL read for Monitoring §2 (absent: one SKIP, not configured)"
    )
    checklist: ChecklistParams = Field(
        default_factory=ChecklistParams,
        description="the team's checklist in the target repository, compared with the catalogue",
    )
    notify: NotifyParams | None = Field(None, description="tell Teams/Slack/a webhook the verdict")
    evidence: EvidenceParams | None = Field(
        None, description="signing of the run's manifest (runbook keygen, runbook verify --key)"
    )

    @model_validator(mode="after")
    def _deploy_defaults(self) -> Parameters:
        """The package's build id defaults to the run's; the production slot's app URL (where
        the deploy checks health) defaults to the target's base URL."""
        dp = self.deploy
        if dp is not None:
            if dp.package is not None and dp.package.build_id is None:
                dp.package.build_id = self.build_id or "unversioned"
            dp.app_urls.setdefault("production", self.target.base_url)
            if dp.start is not None and dp.start.repo is None and self.pre_deployment:
                dp.start.repo = str(self.pre_deployment.repo)
        return self

    @model_validator(mode="after")
    def _rollback_lines_not_stricter_than_gates(self) -> Parameters:
        """A "When to Rollback" line below the gate that measures the same thing would order a
        rollback of a release every gate passed (e.g. a memory slope the monitor accepts)."""
        problems = [
            f"rollback.criteria.{line} ({limit:g}) is below {gate} ({value:g}): a rollback "
            "line must not be stricter than the gate for the same quantity"
            for line, limit, gate, value in self._rollback_lines_and_gates()
            if limit < value
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _rollback_lines_and_gates(self) -> list[tuple[str, float, str, float]]:
        c = (self.rollback or RollbackParams()).criteria  # the phase runs on defaults too
        pairs = []
        if self.performance is not None:
            g = self.performance.gates
            pairs += [
                ("error_rate.limit", c.error_rate.limit, "performance.gates.error_rate",
                 g.error_rate),
                ("p95_ms.limit", c.p95_ms.limit, "performance.gates.p95_ms", g.p95_ms),
                ("memory_slope_mb_per_h.limit", c.memory_slope_mb_per_h.limit,
                 "performance.gates.memory_slope_mb_per_h", g.memory_slope_mb_per_h),
            ]  # fmt: skip
        if self.monitor is not None:
            t = self.monitor.thresholds
            pairs += [
                ("error_rate.limit", c.error_rate.limit, "monitor.thresholds.error_rate",
                 t.error_rate),
                ("memory_slope_mb_per_h.limit", c.memory_slope_mb_per_h.limit,
                 "monitor.thresholds.memory_slope_mb_per_h", t.memory_slope_mb_per_h),
            ]  # fmt: skip
        return [p for p in pairs if getattr(c, p[0].split(".")[0]).enabled]


class ParameterError(ValueError):
    """Invalid parameters: `problems` are complete sentences naming where and what."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class LoadedParameters:
    """Validated parameters and where they came from."""

    params: Parameters
    source: Path
    overrides: list[str] = field(default_factory=list)


PACKAGED_DATA = Path(__file__).resolve().parents[1] / "_data"
"""Where an installed wheel keeps the notebooks and the shipped parameters (absent in a checkout,
whose own runbooks/ and parameters/ are used)."""


def project_root(start: Path | None = None) -> Path:
    """Where a run reads its parameters and writes outputs/: $RUNBOOK_ROOT, else the nearest
    folder up with parameters/ and runbooks/ (the runbook's checkout), else the nearest with
    parameters/ (a team's repository), else — installed as a wheel — the current folder."""
    env = os.environ.get("RUNBOOK_ROOT")
    if env:
        return Path(env).resolve()
    here = start or Path.cwd()
    for base in [here, Path(__file__).resolve()]:
        for folder in [base, *base.parents]:
            if (folder / ENVIRONMENTS_DIR).is_dir() and (folder / "runbooks").is_dir():
                return folder
    for folder in [here, *here.parents]:
        if (folder / ENVIRONMENTS_DIR).is_dir():
            return folder
    if PACKAGED_DATA.is_dir():
        return here.resolve()
    raise ParameterError(
        [
            "cannot find the runbook checkout (a folder with parameters/ and runbooks/); "
            "run from inside it or set RUNBOOK_ROOT"
        ]
    )


def runbooks_dir(root: Path) -> Path:
    """The phase notebooks: the root's runbooks/, else those shipped in the package."""
    own = root / "runbooks"
    return own if own.is_dir() or not PACKAGED_DATA.is_dir() else PACKAGED_DATA / "runbooks"


def parameter_dirs(root: Path) -> list[Path]:
    """Where environments' files are looked up, in order: the root's parameters/, then the
    files shipped in the package (the checklist's defaults, development, staging, production)."""
    dirs = [root / ENVIRONMENTS_DIR]
    if PACKAGED_DATA.is_dir():
        dirs.append(PACKAGED_DATA / ENVIRONMENTS_DIR)
    return dirs


def available_environments(root: Path) -> list[str]:
    return sorted(
        {
            p.stem
            for d in parameter_dirs(root)
            for p in d.glob("*.yaml")
            if not p.name.startswith("_")
        }
    )


def parse_override(text: str) -> tuple[list[str], Any]:
    """'a.b.0.c=value' -> (['a','b','0','c'], YAML-parsed value); malformed -> ParameterError."""
    if "=" not in text:
        raise ParameterError([f"--param {text!r}: expected key=value (e.g. target.timeout_s=5)"])
    key, raw = text.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p or not p.replace("_", "").replace("-", "").isalnum() for p in parts):
        raise ParameterError([f"--param {text!r}: {key!r} is not a dotted key like a.b.c"])
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ParameterError([f"--param {key}: value {raw!r} is not valid YAML ({exc})"]) from None
    return parts, value


def apply_override(data: dict[str, Any], parts: list[str], value: Any) -> None:
    """Set data[a][b][0][c] = value, creating mappings on the way."""
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(node, list):
            index = int(part) if part.isdigit() else None
            if index is None or index >= len(node):
                raise ParameterError(
                    [
                        f"--param {'.'.join(parts)}: {'.'.join(parts[: i + 1])} is not an item of "
                        f"a list of {len(node)}"
                    ]
                )
            node = node[index]
            continue
        if not isinstance(node, dict):
            raise ParameterError(
                [f"--param {'.'.join(parts)}: {'.'.join(parts[:i])} is not a mapping"]
            )
        if node.get(part) is None:
            node[part] = [] if nxt.isdigit() else {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ParameterError([f"--param {'.'.join(parts)}: no item {last} in that list"])
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ParameterError([f"--param {'.'.join(parts)}: parent is not a mapping"])


def read_yaml(path: Path) -> dict[str, Any]:
    """Load a parameters file; YAML errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError([f"{path}: cannot read ({exc.strerror})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ParameterError([f"{path}: malformed YAML at {where}: {problem}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParameterError(
            [f"{path}: the top level must be a mapping of keys, not {type(data).__name__}"]
        )
    return data


def read_with_base(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a parameters file; `extends: _base.yaml` deep-merges it over that file (mappings
    merge key by key, anything else is replaced)."""
    data = read_yaml(path)
    base_name = data.pop("extends", None)
    if base_name is None:
        return data
    base = (path.parent / str(base_name)).resolve()
    packaged = (PACKAGED_DATA / ENVIRONMENTS_DIR / str(base_name)).resolve()
    if not base.is_file() and packaged.is_file() and packaged.parent.name == ENVIRONMENTS_DIR:
        base = packaged  # a team's file extending the shipped defaults
    if base in seen or base == path.resolve():
        raise ParameterError([f"{path}: 'extends: {base_name}' makes a cycle"])
    if not base.is_file() or base.parent not in (path.parent.resolve(), packaged.parent):
        raise ParameterError(
            [f"{path}: key 'extends': {base_name!r} is not a file in {path.parent}"]
        )
    return deep_merge(read_with_base(base, (*seen, path.resolve())), data)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`; nested mappings merge, other values replace."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load(
    env: str, overrides: list[str] | None = None, root: Path | None = None
) -> LoadedParameters:
    """Read, override and validate one environment's parameters."""
    root = root or project_root()
    overrides = list(overrides or [])
    candidates = [d / f"{env}.yaml" for d in parameter_dirs(root)]
    path = next((c for c in candidates if c.is_file()), candidates[0])
    if not re.fullmatch(r"[a-z][a-z0-9-]*", env) or not path.is_file():
        known = ", ".join(available_environments(root)) or "none"
        raise ParameterError(
            [f"unknown environment {env!r}: there is no {path} (known environments: {known})"]
        )
    data = read_with_base(path)
    data.setdefault("environment", env)
    if data["environment"] != env:
        raise ParameterError(
            [f"{path}: key 'environment' is {data['environment']!r} but the file is for {env!r}"]
        )
    parsed = [parse_override(o) for o in overrides]
    for parts, value in parsed:
        apply_override(data, parts, value)
    try:
        params = Parameters.model_validate(data)
    except ValidationError as exc:
        keys = [".".join(parts) for parts, _ in parsed]
        raise ParameterError(describe_validation(exc, path, keys)) from None
    return LoadedParameters(params=params, source=path, overrides=overrides)


def from_notebook(env: str, params: dict[str, Any] | None) -> Parameters:
    """Parameters inside a kernel: the dict injected by `runbook run`; interactively, the
    file `runbook lab` wrote ($RUNBOOK_PARAMS_FILE), else the environment's file plus
    $RUNBOOK_OVERRIDES."""
    if params:
        return Parameters.model_validate(params)
    lab_file = os.environ.get(PARAMS_FILE_ENV)
    if lab_file:
        data = json.loads(Path(lab_file).read_text(encoding="utf-8"))
        if data.get("environment") == env:
            return Parameters.model_validate(data)
    extra = [line for line in os.environ.get(OVERRIDES_ENV, "").splitlines() if line.strip()]
    return load(env, extra).params


def describe_validation(exc: ValidationError, path: Path, override_keys: list[str]) -> list[str]:
    """Turn pydantic errors into sentences naming the source, the key and the expectation."""
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        source = next(
            (
                f"--param {k}"
                for k in override_keys
                if loc == k or loc.startswith(k + ".") or k.startswith(loc + ".")
            ),
            None,
        )
        where = source or str(path)
        kind = err["type"]
        if kind == "extra_forbidden":
            allowed = allowed_keys(err["loc"][:-1])
            hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
            problems.append(f"{where}: unknown key '{loc}'{hint}")
        elif kind == "missing":
            problems.append(f"{where}: key '{loc}' is required but missing")
        else:
            got = err.get("input")
            shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
            problems.append(f"{where}: key '{loc or '(top level)'}': {err['msg']}{shown}")
    return problems


def allowed_keys(loc: tuple[Any, ...], model: type[BaseModel] = Parameters) -> list[str]:
    """The keys a model accepts at `loc` (best effort, for error messages)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field_info = current.model_fields.get(str(part))
            if field_info is None:
                return []
            current = field_info.annotation
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(f.alias or name for name, f in current.model_fields.items())
    return []


def _unwrap(annotation: Any) -> Any:
    """Optional[X] / list[X] / dict[str, X] -> X."""
    for _ in range(4):
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else annotation
            if len(args) != 1:
                return annotation
        elif origin in (list, tuple):
            annotation = typing.get_args(annotation)[0]
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return annotation
    return annotation


def public_dump(params: Parameters) -> dict[str, Any]:
    """The parameters as JSON, secrets only as references (what notebooks and manifests get).
    The rehearsal's `local_environment` and its Azure stand-in's seed (which holds placeholder
    secret settings) stay out: no notebook needs them."""
    dumped = params.model_dump(mode="json", by_alias=True)
    if isinstance(dumped.get("rehearsal"), dict):
        dumped["rehearsal"] = {
            k: v
            for k, v in dumped["rehearsal"].items()
            if k not in ("local_environment", "azure_standin")
        }
    return dumped
