"""A strict model of the Azure Pipelines YAML this repository uses (the subset of the schema
its pipeline and templates need; every other key is refused).

Microsoft's published schema (`service-schema.json`, served per organization by
`_apis/distributedtask/yamlschema`) is in no package of the npm registry or PyPI reachable here
(`azure-pipelines-language-server` and `-service` ship the validator, not the schema), so the
tests hold the pipeline to this model instead: the keys, types and shapes as the YAML schema
reference documents them, and the inputs of each task used."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TASK_PATTERN = r"^[A-Za-z][A-Za-z0-9]*@[0-9]+$"
Condition = str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Filter(Strict):
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


class Trigger(Strict):
    batch: bool | None = None
    branches: Filter | None = None
    tags: Filter | None = None
    paths: Filter | None = None


class Repository(Strict):
    repository: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    type: Literal["git", "github", "githubenterprise", "bitbucket"]
    name: str
    endpoint: str | None = None
    ref: str | None = None


class Resources(Strict):
    repositories: list[Repository] = Field(default_factory=list)


class VariableGroup(Strict):
    group: str


class Variable(Strict):
    name: str
    value: str
    readonly: bool | None = None


class Pool(Strict):  # camelCase fields: the schema's own spelling
    vmImage: str | None = None
    name: str | None = None
    demands: list[str] | str | None = None


# -- steps --------------------------------------------------------------------------------------
class StepCommon(Strict):
    displayName: str | None = None
    name: str | None = None
    condition: Condition | None = None
    continueOnError: bool | None = None
    enabled: bool | None = None
    timeoutInMinutes: int | None = None
    env: dict[str, str] | None = None


class CheckoutStep(StepCommon):
    checkout: str
    path: str | None = None
    fetchDepth: int | None = None
    clean: bool | None = None
    persistCredentials: bool | None = None


class ScriptStep(StepCommon):
    bash: str | None = None
    script: str | None = None
    workingDirectory: str | None = None
    failOnStderr: bool | None = None

    @model_validator(mode="after")
    def _one_body(self) -> ScriptStep:
        if (self.bash is None) == (self.script is None):
            raise ValueError("a script step has exactly one of bash, script")
        return self


# the inputs of each task the pipeline uses: (required, allowed)
TASK_INPUTS: dict[str, tuple[set[str], set[str]]] = {
    "UsePythonVersion@0": ({"versionSpec"}, {"versionSpec", "addToPath", "architecture"}),
    "PublishPipelineArtifact@1": (
        {"targetPath"},
        {"targetPath", "artifact", "artifactName", "publishLocation", "fileSharePath"},
    ),
    "DownloadPipelineArtifact@2": (
        set(),
        {
            "buildType",
            "project",
            "definition",
            "buildVersionToDownload",
            "artifactName",
            "itemPattern",
            "targetPath",
            "patterns",
            "path",
            "artifact",
        },
    ),
}


class TaskStep(StepCommon):
    task: str = Field(pattern=TASK_PATTERN)
    inputs: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_inputs(self) -> TaskStep:
        if self.task not in TASK_INPUTS:
            raise ValueError(f"task {self.task}: not one this model knows ({sorted(TASK_INPUTS)})")
        required, allowed = TASK_INPUTS[self.task]
        missing = required - set(self.inputs)
        unknown = set(self.inputs) - allowed
        if missing or unknown:
            raise ValueError(
                f"task {self.task}: missing inputs {sorted(missing)}, unknown {sorted(unknown)}"
            )
        return self


class DownloadStep(StepCommon):
    download: str
    artifact: str | None = None
    patterns: str | None = None


class TemplateStep(Strict):
    template: str
    parameters: dict[str, Any] = Field(default_factory=dict)


Step = CheckoutStep | ScriptStep | TaskStep | DownloadStep | TemplateStep
STEP_KINDS: dict[str, type[BaseModel]] = {
    "checkout": CheckoutStep,
    "bash": ScriptStep,
    "script": ScriptStep,
    "task": TaskStep,
    "download": DownloadStep,
    "template": TemplateStep,
}


def parse_step(data: Any) -> BaseModel:
    """A step by its key (checkout, bash/script, task, download, template); else an error."""
    if not isinstance(data, dict):
        raise ValueError(f"a step is a mapping, not {type(data).__name__}")
    kinds = [k for k in STEP_KINDS if k in data]
    if len(kinds) != 1 and set(kinds) != {"bash"} and set(kinds) != {"script"}:
        raise ValueError(f"a step needs exactly one of {sorted(STEP_KINDS)}; got {kinds}")
    return STEP_KINDS[kinds[0]].model_validate(data)


class Steps(Strict):
    steps: list[dict[str, Any]] = Field(min_length=1)

    @model_validator(mode="after")
    def _each(self) -> Steps:
        for step in self.steps:
            parse_step(step)
        return self


# -- jobs ---------------------------------------------------------------------------------------
class Matrix(Strict):
    matrix: dict[str, dict[str, str]] = Field(min_length=1)
    maxParallel: int | None = None


class JobCommon(Strict):
    displayName: str | None = None
    dependsOn: str | list[str] | None = None
    condition: Condition | None = None
    timeoutInMinutes: int | None = None
    pool: Pool | None = None
    variables: list[dict[str, Any]] | dict[str, str] | None = None


class Job(JobCommon, Steps):
    job: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    strategy: Matrix | None = None


class Hook(Steps):
    pass


class RunOnce(Strict):
    deploy: Hook
    preDeploy: Hook | None = None
    routeTraffic: Hook | None = None
    postRouteTraffic: Hook | None = None


class DeploymentStrategy(Strict):
    runOnce: RunOnce


class Deployment(JobCommon):
    deployment: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    environment: str = Field(min_length=1)
    strategy: DeploymentStrategy


class Stage(Strict):
    stage: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    displayName: str | None = None
    dependsOn: str | list[str] | None = None
    condition: Condition | None = None
    variables: list[dict[str, Any]] | dict[str, str] | None = None
    jobs: list[Job | Deployment] = Field(min_length=1)


class Pipeline(Strict):
    trigger: Trigger | Literal["none"] | list[str] | None = None
    pr: Trigger | Literal["none"] | list[str] | None = None
    resources: Resources | None = None
    variables: list[VariableGroup | Variable] = Field(default_factory=list)
    stages: list[Stage] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> Pipeline:
        stages = {s.stage for s in self.stages}
        problems = [
            f"stage {s.stage} depends on unknown stage {d}"
            for s in self.stages
            for d in _names(s.dependsOn)
            if d not in stages
        ]
        for s in self.stages:
            jobs = {getattr(j, "job", None) or getattr(j, "deployment", None) for j in s.jobs}
            problems += [
                f"job {name} depends on unknown job {d}"
                for j in s.jobs
                for name in [getattr(j, "job", None) or getattr(j, "deployment", None)]
                for d in _names(j.dependsOn)
                if d not in jobs
            ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


class TemplateParameter(Strict):
    name: str
    type: Literal["string", "number", "boolean", "object", "step", "stepList"]
    default: Any = None


class StepsTemplate(Steps):
    parameters: list[TemplateParameter] = Field(default_factory=list)


def _names(value: str | list[str] | None) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else value
