"""The parts: parameters, packages, the development command, releases, the probe's verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from deploy_support import ROOT, deploy_params, version_of
from pydantic import ValidationError

from rehearsal.azure_standin.process import StandinHandle
from rehearsal.sandbox.release import Release, exchange_releases, get_release, put_release
from runbook.core.checks import Status
from runbook.core.evidence import sha256_file
from runbook.phases.deploy.command import command_deploy
from runbook.phases.deploy.downtime import ZeroDowntimeProbe
from runbook.phases.deploy.package import build_package
from runbook.phases.deploy.params import DeployParams
from runbook.phases.deploy.sequence import run_deploy
from runbook.phases.deploy.zipdeploy import zip_deploy
from runbook.providers.azure.params import AzureParams


def _command_params(argv: list[str], **command: object) -> DeployParams:
    return DeployParams.model_validate(
        {"method": "command", "command": {"argv": argv, **command},
         "labels": {"section": "Deployment Steps §1.1 Deploy to Development",
                    "deployed": "Code deployed to development"}}
    )  # fmt: skip


def _zip_params(tmp_path: Path, **package: object) -> DeployParams:
    return DeployParams.model_validate({"method": "zip", "package": {"build_id": "b1", **package}})


# -- parameters ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data, message",
    [
        ({"method": "zip"}, "needs 'package'"),
        ({"method": "command"}, "needs 'command"),
        ({"method": "zip", "package": {"build_id": "b"}}, "exactly one of"),
        ({"method": "command", "command": {"argv": ["x"]}, "swap_to_production": True},
         "non-production 'target_slot'"),
        ({"method": "command", "command": {"argv": ["x"]}, "kudu": {"scm_url": "https://x"}},
         "{scm_host}"),
        ({"method": "command", "command": {"argv": ["x"]}, "colour": "red"}, "Extra inputs"),
    ],
)  # fmt: skip
def test_parameters_refuse_inconsistent_deploys(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DeployParams.model_validate(data)


# -- packages -----------------------------------------------------------------------------------
def test_a_folder_zips_to_the_same_bytes_every_time_without_excluded_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "backend" / "__pycache__").mkdir(parents=True)
    (src / "backend" / "main.py").write_text("app = 1\n")
    (src / "backend" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (src / "release.json").write_text('{"version": "2.0.0"}')
    params = _zip_params(tmp_path, source_dir=str(src))

    first = build_package(params, tmp_path / "a")
    (src / "backend" / "main.py").touch()  # a newer mtime must not change the bytes
    second = build_package(params, tmp_path / "b")

    assert first.result.status is Status.PASS and first.package and second.package
    assert first.package.sha256 == second.package.sha256
    assert first.result.observed["sha256"] == first.package.sha256
    with zipfile.ZipFile(first.package.path) as archive:
        assert archive.namelist() == ["backend/main.py", "release.json"]


def test_a_missing_package_is_an_error(tmp_path: Path) -> None:
    for package in ({"source_dir": str(tmp_path / "nope")}, {"path": str(tmp_path / "x.zip")}):
        built = build_package(_zip_params(tmp_path, **package), tmp_path)
        assert built.package is None
        assert built.result.status is Status.ERROR and "does not exist" in built.result.explanation
    not_zip = tmp_path / "backend.zip"
    not_zip.write_text("not a zip")
    built = build_package(_zip_params(tmp_path, path=str(not_zip)), tmp_path)
    assert built.result.status is Status.ERROR and "not a zip" in built.result.explanation


def test_the_sample_release_script_builds_reproducible_zips(
    tmp_path: Path, packages: dict[str, Path]
) -> None:
    script = ROOT / "rehearsal" / "src" / "rehearsal" / "samples" / "releases" / "build_releases.py"
    out = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True,
                         text=True, check=True, timeout=60).stdout  # fmt: skip
    one = [json.loads(line) for line in out.splitlines()]
    names = ["release-1.0.0", "release-1.1.0", "release-1.1.0-regressed"]
    assert [r["name"] for r in one] == names
    # another process, another folder, another time: the same bytes as the session's build
    assert [r["sha256"] for r in one] == [sha256_file(packages[r["name"]]) for r in one]
    with zipfile.ZipFile(one[2]["path"]) as archive:
        release = Release.model_validate_json(archive.read("release.json"))
    assert release.version == "1.1.0" and release.sandbox.slow_route_ms == 400


# -- development: a command ---------------------------------------------------------------------
def test_the_development_command_passes_fails_and_times_out(tmp_path: Path) -> None:
    ok = command_deploy(_command_params([sys.executable, "-c", "print('deployed')"]))
    assert ok.status is Status.PASS and ok.evidence["stdout_tail"] == "deployed\n"
    assert ok.section == "Deployment Steps §1.1 Deploy to Development"

    bad = command_deploy(_command_params([sys.executable, "-c", "raise SystemExit(3)"]))
    assert bad.status is Status.FAIL and bad.observed["exit_code"] == 3

    slow = command_deploy(
        _command_params([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.5)
    )
    assert slow.status is Status.ERROR and "did not finish" in slow.explanation

    missing = command_deploy(_command_params([str(tmp_path / "no-such-tool")]))
    assert missing.status is Status.ERROR and "could not start" in missing.explanation


def test_a_command_deploy_then_waits_for_health(standin: StandinHandle, urls: dict) -> None:
    params = DeployParams.model_validate({
        "method": "command", "command": {"argv": [sys.executable, "-c", "pass"]},
        "app_urls": {"production": urls["production"]},
        "health": {"route": "/health", "expected_json": {"status": "healthy"}, "timeout": 2,
                   "version_field": None},
    })  # fmt: skip
    run = run_deploy(params, None, Path("."))
    assert run.ok and [r.id for r in run.results] == ["deploy.command", "deploy.health.production"]


# -- releases in the sandbox --------------------------------------------------------------------
def test_a_release_switch_is_refused_when_invalid_and_exchanged_between_sandboxes(
    standin: StandinHandle, urls: dict
) -> None:
    bad = httpx.put(urls["staging"] + "/_sandbox/release", json={"version": ""}, timeout=5)
    assert bad.status_code == 422
    assert get_release(urls["staging"])["version"] == "1.0.0"

    put_release(urls["staging"], Release(version="2.0.0", sandbox={"slow_route_ms": 1}))
    assert exchange_releases(urls["production"], urls["staging"]) == {"a": "2.0.0", "b": "1.0.0"}
    assert version_of(urls["production"]) == "2.0.0"
    assert get_release(urls["production"])["sandbox"]["slow_route_ms"] == 1
    assert version_of(urls["staging"]) == "1.0.0"


def test_a_package_without_release_json_fails_with_kudus_reason(
    standin: StandinHandle, azure: AzureParams, urls: dict, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "main.py").write_text("app = 1\n")
    params = deploy_params(urls, tmp_path / "unused.zip", standin.url)
    folder = _zip_params(tmp_path, source_dir=str(src)).package
    params = params.model_copy(update={"package": folder})
    built = build_package(params, tmp_path / "out")
    assert built.package is not None
    result = zip_deploy(params, azure, built.package)
    assert result.status is Status.FAIL and "no top-level release.json" in result.explanation
    assert version_of(urls["staging"]) == "1.0.0"


def test_kudu_refuses_a_wrong_token(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    params = deploy_params(urls, packages["release-1.0.0"], standin.url)
    built = build_package(params, tmp_path)
    assert built.package is not None
    from runbook.providers.azure.clients import web_client

    client = web_client(azure)  # ARM still works; only Kudu's token is wrong
    monkeypatch.setenv("DEPLOY_TEST_WRONG", "not-the-token")
    wrong = AzureParams.model_validate({
        **azure.model_dump(),
        "credential": {"kind": "static-token", "token": {"env": "DEPLOY_TEST_WRONG"}},
    })  # fmt: skip
    result = zip_deploy(params, wrong, built.package, client=client)
    assert result.status is Status.ERROR and "HTTP 401" in result.explanation


# -- the probe's verdicts -----------------------------------------------------------------------
def test_a_probe_with_no_or_too_few_requests_is_inconclusive(
    standin: StandinHandle, urls: dict, packages: dict
) -> None:
    params = deploy_params(urls, packages["release-1.0.0"], standin.url,
                           probe={"interval": 1, "min_requests": 5})  # fmt: skip
    never = ZeroDowntimeProbe.for_slot(params, "production").stop()
    assert never.status is Status.INCONCLUSIVE and never.observed["requests"] == 0

    few = ZeroDowntimeProbe.for_slot(params, "production").start()
    time.sleep(0.3)  # one request (the next would be after 1 s)
    result = few.stop()
    assert result.status is Status.INCONCLUSIVE and "too few" in result.explanation
    assert (result.observed["requests"], result.observed["failed"]) == (1, 0)
    assert result.observed["versions"] == ["1.0.0"]
