"""Faults injected into real `runbook run`s that no other test covers: the kernel dying
mid-phase, two runs of one environment at once, a TLS failure against the Azure endpoint, and
Azure throttling (429 + Retry-After) inside and beyond the retry budget.

Every run is a real subprocess (CLI, papermill, kernel, sandbox, Azure stand-in). To stay
within the time budget, the module fixture starts all of them at once and each test waits for
its own (no timing is asserted, only outcomes). Already covered elsewhere, not repeated here:
target down / unreachable / cell timeout (tests/backbone/test_run_local.py), failing zip
deploy and metrics errors (tests/phases/test_release_rehearsal.py), deploy poll timeout and
failing swap (tests/deploy/test_deploy_rehearsal.py).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import certifi
import pytest
from launched_runs import NO_INTEGRATION, ROOT, Launched, launch

from runbook.cli import main
from runbook.core import evidence
from runbook.governance.chain import verify_chain

ARM_TOKEN = "arm-" + os.urandom(9).hex()


def _dying_checkout(tmp: Path) -> Path:
    """A throwaway checkout whose verify notebook kills its own kernel after the health check."""
    root = tmp / "checkout"
    for folder in ("parameters", "runbooks"):
        shutil.copytree(ROOT / folder, root / folder)
    path = root / "runbooks" / "04_verify.ipynb"
    nb = json.loads(path.read_text())
    at = next(i for i, c in enumerate(nb["cells"]) if "session.run_all()" in "".join(c["source"]))
    nb["cells"].insert(
        at + 1,
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "die",
            "metadata": {},
            "outputs": [],
            "source": ["import os\n", "os._exit(1)"],
        },
    )
    path.write_text(json.dumps(nb, indent=1))
    return root


def _untrusted_standin(stack: ExitStack, tmp: Path) -> str:
    """A real Azure stand-in whose (self-signed) certificate the run will not trust."""
    from rehearsal.azure_standin.process import start_standin
    from rehearsal.params import rehearsal_of
    from runbook.core.parameters import load

    config = rehearsal_of(load("local", root=ROOT).params).azure_standin
    assert config is not None
    config = config.model_copy(update={"accept_token_env": "RUNBOOK_ARM_TOKEN"})
    handle = stack.enter_context(
        start_standin(config, tmp / "standin", env={"RUNBOOK_ARM_TOKEN": ARM_TOKEN})
    )
    return handle.url.rstrip("/")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Iterator[dict[str, Launched]]:
    tmp = tmp_path_factory.mktemp("faults")
    with ExitStack() as stack:
        arm_url = _untrusted_standin(stack, tmp)
        shared = tmp / "shared-outputs"
        launched = {
            "dying": launch(
                tmp / "dying", "--phase", "verify", *NO_INTEGRATION, root=_dying_checkout(tmp)
            ),
            "twin-a": launch(shared, "--phase", "verify", *NO_INTEGRATION),
            "twin-b": launch(shared, "--phase", "verify", *NO_INTEGRATION),
            "tls": launch(
                tmp / "tls",
                "--phase",
                "environment",
                "--param",
                "rehearsal.azure_standin=null",
                "--param",
                f"azure.arm_endpoint={arm_url}",
                "--param",
                f"azure.ca_bundle={certifi.where()}",
                extra_env={"RUNBOOK_ARM_TOKEN": ARM_TOKEN},
            ),
            "throttled": launch(
                tmp / "throttled",
                "--phase",
                "environment",
                "--param",
                "rehearsal.azure_standin.faults.throttle.count=1",
                "--param",
                "rehearsal.azure_standin.faults.throttle.retry_after=1",
            ),
            "throttled-out": launch(
                tmp / "throttled-out",
                "--phase",
                "environment",
                "--param",
                "rehearsal.azure_standin.faults.throttle.count=50",
                "--param",
                "rehearsal.azure_standin.faults.throttle.retry_after=0",
            ),
        }
        try:
            yield launched
        finally:
            for run in launched.values():
                if run.proc.poll() is None:
                    run.proc.kill()
                run.proc.communicate()


def _verifies(run_dir: Path) -> bool:
    return main(["verify", str(run_dir)]) == 0


def test_kernel_dying_mid_phase_is_no_go_naming_the_dead_kernel_and_keeps_evidence(runs) -> None:
    run = runs["dying"]
    rc, out, err = run.finish()
    assert rc == 1, err
    assert out.strip().splitlines()[-1].startswith("NO-GO: ")
    r = run.results
    assert r["smoke.health"]["status"] == "pass"  # gathered before the kernel died, kept
    crash = r["runbook.verify.execution"]
    assert crash["status"] == "error"
    assert "kernel" in crash["explanation"].lower() and "died" in crash["explanation"].lower(), (
        crash["explanation"]
    )
    assert "auth.sweep" not in r  # nothing after the death is invented
    assert run.manifest["phases"][0]["status"] == "crashed"
    assert (run.run_dir / "notebooks" / "04_verify.ipynb").is_file()
    assert _verifies(run.run_dir)


def test_two_runs_of_one_environment_at_once_both_finish_apart_and_chain(runs) -> None:
    a, b = runs["twin-a"], runs["twin-b"]
    for run in (a, b):
        rc, _, err = run.finish()
        assert rc == 0, err
        assert run.manifest["verdict"] == "GO"
        assert _verifies(run.run_dir)
    assert a.run_dir != b.run_dir and a.run_dir.parent == b.run_dir.parent
    assert a.manifest["run_id"] != b.manifest["run_id"]
    env_dir = a.run_dir.parent
    chain = evidence.read_chain(env_dir)
    assert len(chain) == 2
    assert verify_chain(env_dir).ok
    assert main(["verify", "--chain", "local", "--outputs", str(a.outputs)]) == 0


def test_tls_failure_against_azure_is_an_error_not_a_pass(runs) -> None:
    run = runs["tls"]
    rc, _, err = run.finish()
    assert rc == 1, err
    assert run.manifest["verdict"] == "NO-GO"
    azure = {i: r for i, r in run.results.items() if i.startswith("azure.appsettings")}
    assert azure, run.results.keys()
    for result in azure.values():
        assert result["status"] == "error"
        text = result["explanation"].lower()
        assert "ssl" in text or "certificate" in text, result["explanation"]
    assert _verifies(run.run_dir)


def test_a_429_with_retry_after_inside_the_retry_budget_still_goes(runs) -> None:
    run = runs["throttled"]
    rc, _, err = run.finish()
    assert rc == 0, err
    assert run.manifest["verdict"] == "GO"
    assert all(
        r["status"] == "pass" for i, r in run.results.items() if i.startswith("azure.appsettings")
    )
    assert _verifies(run.run_dir)


def test_throttling_beyond_the_retry_budget_fails_cleanly_naming_429(runs) -> None:
    run = runs["throttled-out"]
    rc, _, err = run.finish()
    assert rc == 1, err
    assert run.manifest["verdict"] == "NO-GO"
    azure = {i: r for i, r in run.results.items() if i.startswith("azure.appsettings")}
    assert azure
    for result in azure.values():
        assert result["status"] == "error"
        assert "429" in result["explanation"] or "too many" in result["explanation"].lower(), (
            result["explanation"]
        )
    assert _verifies(run.run_dir)
