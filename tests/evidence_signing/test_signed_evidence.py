"""Self-contained, signed evidence, as a reviewer meets it: a run directory copied out of
outputs/ (a CI artifact) verifies on its own; a one-byte edit, a removed, an added file, an
edited manifest, a re-signing with another key and an unsigned run are each caught; the chain
still catches a chain edit. Real runs (`runbook run --env local --phase environment`), real
Ed25519 keys from `runbook keygen`, the real CLI."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from runbook.cli import main
from runbook.core import evidence as ev
from runbook.governance import signing

ROOT = Path(__file__).resolve().parents[2]
KEY_VAR = "RUNBOOK_TEST_SIGNING_KEY"
SIGN = f"evidence.signing_key={{env: {KEY_VAR}}}"


@dataclass
class SignedRun:
    run_dir: Path
    outputs: Path
    public_key: Path
    private_pem: str


def run_local(outputs: Path, *params: str, key: str | None) -> subprocess.CompletedProcess[str]:
    """`runbook run --env local --phase environment` for real; the signing key (PEM) in
    KEY_VAR when given, unset otherwise."""
    env = {k: v for k, v in os.environ.items() if k not in {KEY_VAR, "RUNBOOK_HEADLESS"}}
    if key is not None:
        env[KEY_VAR] = key
    cmd = [sys.executable, "-m", "runbook.cli", "run", "--env", "local", "--phase", "environment"]
    for p in params:
        cmd += ["--param", p]
    return subprocess.run(
        [*cmd, "--outputs", str(outputs)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=ROOT,
        check=False,
    )


def run_dir_of(proc: subprocess.CompletedProcess[str]) -> Path:
    _verdict, path = proc.stdout.strip().splitlines()[-1].split(": ", 1)
    return Path(path)


def verify(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """`runbook verify ...` through the CLI's entry point: (exit code, stdout + stderr)."""
    capsys.readouterr()
    code = main(["verify", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two key pairs made by `runbook keygen`: 'a' signs the runs, 'b' is someone else's."""
    base = tmp_path_factory.mktemp("keys")
    for name in ("a", "b"):
        assert main(["keygen", "--out", str(base / name)]) == 0
    return {name: base / name for name in ("a", "b")}


@pytest.fixture(scope="module")
def signed_run(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Path]) -> SignedRun:
    outputs = tmp_path_factory.mktemp("outputs")
    pem = (keys["a"] / signing.PRIVATE_KEY_FILE).read_text()
    proc = run_local(outputs, SIGN, key=pem)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return SignedRun(run_dir_of(proc), outputs, keys["a"] / signing.PUBLIC_KEY_FILE, pem)


@pytest.fixture
def copied(signed_run: SignedRun, tmp_path: Path) -> Path:
    """The signed run as a CI artifact: its directory alone, somewhere else."""
    target = tmp_path / "artifact" / signed_run.run_dir.name
    shutil.copytree(signed_run.run_dir, target)
    return target


def test_a_signed_run_verifies_in_place_against_its_chain_and_key(
    signed_run: SignedRun, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = verify(capsys, signed_run.run_dir, "--standalone")
    assert code == 0 and "chain: not available — verified standalone" in out, out
    code, out = verify(capsys, signed_run.run_dir, "--key", signed_run.public_key)
    assert code == 0, out
    assert "files vs manifest: OK" in out
    assert f"chain: OK (entry 1 of 1 in {signed_run.run_dir.parent / ev.CHAIN})" in out
    fp = signing.fingerprint(signing.load_public_key(signed_run.public_key))
    assert f"signature: OK, Ed25519 by the trusted key {fp}" in out
    manifest = json.loads((signed_run.run_dir / ev.MANIFEST).read_text())
    assert manifest["signature"] == {
        "signed": True,
        "algorithm": "ed25519",
        "key_fingerprint": fp,
        "file": ev.SIGNATURE,
    }
    result = next(r for r in manifest["results"] if r["id"] == signing.CHECK_ID)
    assert result["status"] == "pass" and KEY_VAR in result["explanation"]


def test_the_signature_keeps_the_chain_and_the_secret_scan_intact(
    signed_run: SignedRun, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    outputs = str(signed_run.outputs)
    assert main(["verify", "--chain", "local", "--outputs", outputs]) == 0
    key = str(signed_run.public_key)
    assert main(["verify", "--chain", "local", "--outputs", outputs, "--key", key]) == 0
    manifest = json.loads((signed_run.run_dir / ev.MANIFEST).read_text())
    scan = next(r for r in manifest["results"] if r["id"] == "runbook.secret-scan")
    assert scan["status"] == "pass" and manifest["verdict"] == "GO"
    assert ev.SIGNATURE not in manifest["files"]
    body = "".join(signed_run.private_pem.split("\n")[1:-2])  # the key's base64 lines
    for path in signed_run.run_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert body[:40].encode() not in data and b"PRIVATE KEY" not in data, path


def test_a_copied_run_verifies_standalone(
    signed_run: SignedRun, copied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = verify(capsys, copied)
    assert code == 0, out
    assert "chain: not available — verified standalone" in out
    assert "not compared with a trusted key" in out
    code, out = verify(capsys, copied, "--key", signed_run.public_key)
    assert code == 0 and "standalone" in out and "trusted key" in out, out
    # and against the chain it came from, when that is at hand
    chain = signed_run.run_dir.parent / ev.CHAIN
    code, out = verify(capsys, copied, "--chain-file", chain)
    assert code == 0 and f"chain: OK (entry 1 of 1 in {chain})" in out, out


def test_a_copy_beside_an_unrelated_chain_is_judged_alone_but_not_inside_its_env_folder(
    signed_run: SignedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A download folder may hold another chain.jsonl: the copy is judged standalone (saying
    so), while a run in an environment folder whose chain lacks it is still an insertion."""
    downloads = tmp_path / "downloads"
    copy = downloads / signed_run.run_dir.name
    shutil.copytree(signed_run.run_dir, copy)
    (downloads / ev.CHAIN).write_text(
        json.dumps({"run_id": "someone-else", "manifest_sha256": "0" * 64,
                    "previous_manifest_sha256": None}) + "\n"
    )  # fmt: skip
    code, out = verify(capsys, copy)
    assert code == 0, out
    assert "is another chain" in out and "verified standalone" in out
    code, out = verify(capsys, copy, "--chain-file", downloads / ev.CHAIN)
    assert code == 1 and "chain: FAILED" in out, out  # asked for: checked, and it fails
    inserted = tmp_path / "outputs" / "local" / signed_run.run_dir.name
    shutil.copytree(signed_run.run_dir, inserted)
    shutil.copy(downloads / ev.CHAIN, inserted.parent / ev.CHAIN)
    code, out = verify(capsys, inserted)
    assert code == 1 and "chain: FAILED" in out, out


def test_one_edited_byte_of_a_notebook_is_caught(
    copied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copied / "notebooks" / "02_environment.ipynb"
    data = bytearray(notebook.read_bytes())
    middle = len(data) // 2
    data[middle] = ord("x") if data[middle] != ord("x") else ord("y")
    notebook.write_bytes(bytes(data))
    code, out = verify(capsys, copied)
    assert code == 1, out
    assert "files vs manifest: FAILED" in out and "edited: notebooks/02_environment.ipynb" in out


def test_a_removed_file_is_caught(copied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (copied / "report.html").unlink()
    code, out = verify(capsys, copied)
    assert code == 1 and "removed: report.html" in out, out


def test_an_added_file_is_caught(copied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (copied / "notebooks" / "10_extra.ipynb").write_text("{}")
    code, out = verify(capsys, copied)
    assert code == 1 and "added: notebooks/10_extra.ipynb" in out, out


def test_an_edited_manifest_is_caught_by_its_signature_and_by_the_chain(
    signed_run: SignedRun, copied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copied / ev.MANIFEST
    path.write_bytes(path.read_bytes().replace(b'"verdict": "GO"', b'"verdict": "GO "', 1))
    code, out = verify(capsys, copied)
    assert code == 1 and "the manifest was changed after it was signed" in out, out
    chain = signed_run.run_dir.parent / ev.CHAIN
    code, out = verify(capsys, copied, "--chain-file", chain)
    assert code == 1 and "chain: FAILED" in out and "differs from the manifest recorded" in out


def test_a_run_re_signed_with_another_key_is_caught_with_key(
    signed_run: SignedRun, keys: dict[str, Path], copied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A forger edits the verdict, rewrites the manifest's own signer record to their key and
    signs it: only the trusted key (and the chain) can tell."""
    other = signing.private_key_from_text(
        (keys["b"] / signing.PRIVATE_KEY_FILE).read_text(), "key b"
    )
    path = copied / ev.MANIFEST
    manifest = json.loads(path.read_text())
    manifest["verdict"] = "NO-GO"
    manifest["signature"]["key_fingerprint"] = signing.fingerprint(other.public_key())
    path.write_text(json.dumps(manifest, indent=2))
    signing.sign_manifest(copied, other)
    code, out = verify(capsys, copied, "--key", signed_run.public_key)
    assert code == 1, out
    assert "not by the trusted key" in out and "re-signed or produced by someone else" in out
    assert "its signature does not prove who produced it" in out
    # even without --key, a re-signature that leaves the manifest's signer record is caught
    untouched = copied.parent / "untouched"
    shutil.copytree(signed_run.run_dir, untouched)
    signing.sign_manifest(untouched, other)
    code, out = verify(capsys, untouched)
    assert code == 1 and "says it was signed by" in out, out


def test_an_unsigned_run_is_reported_with_key(
    signed_run: SignedRun, copied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (copied / ev.SIGNATURE).unlink()
    code, out = verify(capsys, copied)  # the manifest says it was signed
    assert code == 1 and f"{ev.SIGNATURE} is missing" in out, out
    unsigned_outputs = copied.parent / "unsigned-outputs"
    proc = run_local(unsigned_outputs, key=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    unsigned = run_dir_of(proc)
    code, out = verify(capsys, unsigned)
    assert code == 0 and "signature: none: the manifest is not signed" in out, out
    code, out = verify(capsys, unsigned, "--key", signed_run.public_key)
    assert code == 1 and "not signed, so key" in out, out
    walk = ["verify", "--chain", "local", "--outputs", str(unsigned_outputs)]
    assert main(walk) == 0
    assert main([*walk, "--key", str(signed_run.public_key)]) == 1
    assert "signature: none: the manifest is not signed" in capsys.readouterr().out


def test_the_chain_still_catches_a_chain_edit(
    signed_run: SignedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_dir = tmp_path / "local"
    shutil.copytree(signed_run.run_dir.parent, env_dir)
    run_dir = env_dir / signed_run.run_dir.name
    chain = env_dir / ev.CHAIN
    entry = json.loads(chain.read_text())
    entry["verdict"] = "GO"
    entry["manifest_sha256"] = "0" * 64
    chain.write_text(json.dumps(entry) + "\n")
    code, out = verify(capsys, run_dir, "--key", signed_run.public_key)
    assert code == 1 and "chain: FAILED" in out, out
    assert "FAILED: " in out and "(chain)" in out
    capsys.readouterr()
    assert main(["verify", "--chain", "local", "--outputs", str(tmp_path)]) == 1


def test_a_required_signature_without_its_key_leaves_the_run_incomplete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proc = run_local(tmp_path, SIGN, "evidence.require_signature=true", key=None)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run_dir = run_dir_of(proc)
    manifest = json.loads((run_dir / ev.MANIFEST).read_text())
    assert manifest["verdict"] == "INCOMPLETE"
    assert any(KEY_VAR in r and signing.CHECK_ID in r for r in manifest["reasons"])
    assert manifest["signature"]["signed"] is False and not (run_dir / ev.SIGNATURE).exists()
    code, out = verify(capsys, run_dir)  # its evidence is intact, just unsigned
    assert code == 0 and "not signed" in out, out


def test_requiring_a_signature_without_naming_a_key_is_invalid_input(
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    code = main(
        ["run", "--env", "local", "--dry-run", "--param", "evidence.require_signature=true"]
    )
    assert code == 2
    assert "evidence.signing_key names no key" in capsys.readouterr().err


def test_keygen_keys_sign_in_both_accepted_forms(keys: dict[str, Path], tmp_path: Path) -> None:
    private = keys["a"] / signing.PRIVATE_KEY_FILE
    assert private.stat().st_mode & 0o077 == 0  # nobody else may read it
    assert main(["keygen", "--out", str(keys["a"])]) == 1  # never replaced silently
    pem_key = signing.private_key_from_text(private.read_text(), "pem")
    raw = pem_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    b64_key = signing.private_key_from_text(base64.b64encode(raw).decode(), "raw")
    public = signing.load_public_key(keys["a"] / signing.PUBLIC_KEY_FILE)
    assert signing.fingerprint(b64_key.public_key()) == signing.fingerprint(public)
    with pytest.raises(signing.SigningKeyError, match=r"\$X is neither"):
        signing.private_key_from_text("not a key", "$X")
