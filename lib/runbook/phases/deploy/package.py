"""The deploy package: zip a folder deterministically (same files, same bytes), hash it."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.evidence import sha256_file
from runbook.phases.deploy.params import DeployParams, PackageParams

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


class PackageInfo(BaseModel):
    """A package ready to deploy: where it is, its sha256, its size, its build id."""

    model_config = ConfigDict(extra="forbid")

    path: str
    sha256: str
    size: int
    build_id: str
    built_from: str | None = None  # the folder, when the runbook zipped it
    files: int | None = None


@dataclass
class PackageBuild:
    """What build_package did: a check result, and the package when there is one."""

    result: CheckResult
    package: PackageInfo | None


def _excluded(relative: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(relative, p) for p in patterns)


def zip_folder(folder: Path, dest: Path, exclude: list[str] | None = None) -> int:
    """Zip `folder` into `dest` reproducibly (sorted, fixed times and modes); the file count."""
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not _excluded(p.relative_to(folder).as_posix(), exclude or [])
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w") as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            executable = path.stat().st_mode & 0o111
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.create_system = 3  # unix, whatever the host
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return len(files)


def _result(params: DeployParams, status: Status, observed: object, explanation: str,
            evidence: dict) -> CheckResult:  # fmt: skip
    return CheckResult(
        id=f"{params.id_prefix}.package",
        section=params.labels.section,
        title="Deployment package built and identified (sha256)",
        severity=Severity.BLOCKER,
        status=status,
        observed=observed,
        threshold="a zip package with a sha256 and a build id",
        explanation=explanation,
        evidence=evidence,
    )


def build_package(params: DeployParams, workdir: Path) -> PackageBuild:
    """Zip package.source_dir into workdir (or take package.path) and hash it; ERROR if missing."""
    spec: PackageParams | None = params.package
    if spec is None:
        result = _result(params, Status.ERROR, None, "no package is configured", {})
        return PackageBuild(result, None)
    try:
        if spec.build_id is None:
            raise ValueError("it has no build id (deploy.package.build_id or build_id)")
        if spec.source_dir is not None:
            folder = Path(spec.source_dir)
            if not folder.is_dir():
                raise FileNotFoundError(f"package folder {folder} does not exist")
            path = Path(workdir) / f"{folder.resolve().name}-{spec.build_id}.zip"
            count: int | None = zip_folder(folder, path, spec.exclude)
            if not count:
                raise FileNotFoundError(f"package folder {folder} holds no file to deploy")
        else:
            path, count = Path(str(spec.path)), None
            if not path.is_file():
                raise FileNotFoundError(f"package {path} does not exist")
            if not zipfile.is_zipfile(path):
                raise ValueError(f"package {path} is not a zip archive")
        info = PackageInfo(
            path=str(path),
            sha256=sha256_file(path),
            size=path.stat().st_size,
            build_id=spec.build_id,
            built_from=spec.source_dir,
            files=count,
        )
    except (OSError, ValueError) as exc:
        result = _result(
            params, Status.ERROR, None, f"no package to deploy: {exc}", spec.model_dump()
        )
        return PackageBuild(result, None)
    result = _result(
        params,
        Status.PASS,
        {"sha256": info.sha256, "size": info.size},
        f"package {Path(info.path).name} (build {info.build_id}) sha256 {info.sha256[:12]}…",
        info.model_dump(),
    )
    return PackageBuild(result, info)
