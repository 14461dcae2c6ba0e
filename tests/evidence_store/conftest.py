"""Fixtures: a real Azurite blob service for the module, and a fresh container per test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from azurite_service import Azurite, running
from store_support import CONNECTION_ENV

from runbook.core.evidence_store import EvidenceStoreParams
from runbook.core.secret_refs import SecretRef


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with running(tmp_path_factory.mktemp("azurite")) as service:
        yield service


@pytest.fixture
def store(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> EvidenceStoreParams:
    """A new empty container of the running Azurite, reached by a connection-string reference."""
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setenv(CONNECTION_ENV, azurite.connection_string)
    name = "evidence-" + secrets.token_hex(4)
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container(name)
    return EvidenceStoreParams(
        container=name, prefix="pixcrawler", connection_string=SecretRef(env=CONNECTION_ENV)
    )


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"
