"""The store's parameters: the commented example of the shipped staging and production files
is valid as written, and the account_url way in (a SAS token by reference) works for real."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from azurite_service import ACCOUNT, ACCOUNT_KEY, Azurite
from pydantic import ValidationError
from store_support import make_run

from runbook.core.evidence_store import EvidenceStoreParams
from runbook.core.parameters import load
from runbook.providers.azure import blob_store as bs

ROOT = Path(__file__).resolve().parents[2]


def _commented_store(env: str) -> dict[str, object]:
    """The `# store:` block of parameters/<env>.yaml, uncommented (alternatives left out)."""
    text = (ROOT / "parameters" / f"{env}.yaml").read_text()
    block = re.search(r"\n(  # store:\n(?:  #   [^#\n].*\n)+)", text)
    assert block, f"parameters/{env}.yaml has no commented evidence.store example"
    lines = [line.replace("  # ", "", 1) for line in block.group(1).splitlines()]
    return dict(yaml.safe_load("\n".join(lines))["store"])


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_shipped_example_validates_with_the_environment(env: str) -> None:
    example = _commented_store(env)
    assert example["credential"] == "default"
    loaded = load(env, [f"evidence.store={example}"], ROOT)
    store = loaded.params.evidence.store if loaded.params.evidence else None
    assert store is not None and store.account_url == example["account_url"]


def test_a_store_is_reached_exactly_one_way() -> None:
    with pytest.raises(ValidationError, match="exactly one of 'account_url' or 'connection_str"):
        EvidenceStoreParams(container="evidence")
    with pytest.raises(ValidationError, match="goes with 'account_url'"):
        EvidenceStoreParams.model_validate(
            {"container": "evidence", "connection_string": {"env": "X"}, "credential": "default"}
        )
    with pytest.raises(ValidationError, match="container"):
        EvidenceStoreParams.model_validate({"container": "Evidence_1", "account_url": "https://a"})


def test_an_account_url_with_a_sas_token_by_reference_stores_a_run(
    azurite: Azurite,
    store: EvidenceStoreParams,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    sas = generate_container_sas(
        ACCOUNT,
        store.container,
        account_key=ACCOUNT_KEY,
        permission=ContainerSasPermissions(read=True, create=True, write=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    monkeypatch.setenv("RUNBOOK_TEST_STORE_SAS", sas)
    by_url = EvidenceStoreParams.model_validate(
        {
            "container": store.container,
            "account_url": azurite.blob_endpoint,
            "credential": {"env": "RUNBOOK_TEST_STORE_SAS"},
        }
    )
    run_dir = make_run(tmp_path / "staging")
    record = bs.upload_run(by_url, run_dir)  # a SAS that may not delete, nor read properties
    assert record.ok, record.error
    assert record.retention is not None and record.retention.startswith("error:")
    assert "may not read the container's properties" in record.retention
    mirrored = bs.mirror_run(by_url, "staging", run_dir.name, tmp_path / "cache")
    assert (mirrored / "manifest.json").read_bytes() == (run_dir / "manifest.json").read_bytes()
    assert sas not in by_url.describe()
