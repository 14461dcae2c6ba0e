"""The durable evidence store: where finished runs are copied (Azure Blob Storage) and how the
copies are laid out, so any machine can read them back.

Layout in the container (every blob written once, never overwritten):
    <prefix>/<env>/<run_id>/<file>            every file of the run directory, manifest.json last
    <prefix>/<env>/chain/<run_id>.json        the run's line of outputs/<env>/chain.jsonl

A store is read by mirroring it into a cache folder with the local layout
(`<cache>/<env>/<run_id>/…` and a `chain.jsonl` rebuilt from the entry blobs), so that
verification, listing, re-judging and the promotion gate use the same code as local runs.
This module is pure (names, order, parameters); `providers.azure.blob_store` talks to Azure.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbook.core.secret_refs import SecretRef

CHAIN_FOLDER = "chain"
UPLOADS_LOG = "uploads.jsonl"  # outputs/<env>/uploads.jsonl: one line per upload attempt
AZURITE_ACCOUNT_URL = "http://127.0.0.1:10000/devstoreaccount1"


class EvidenceStoreParams(BaseModel):
    """Parameters `evidence.store`: an Azure Blob Storage container that keeps every run."""

    model_config = ConfigDict(extra="forbid")

    container: str = Field(
        pattern=r"^[a-z0-9]([a-z0-9]|-[a-z0-9]){2,62}$",
        description="blob container (3-63 lower-case letters, digits, single hyphens)",
    )
    prefix: str = Field(
        "",
        pattern=r"^([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$",
        description="folder inside the container, e.g. 'pixcrawler' (no leading/trailing '/')",
    )
    account_url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="https://<account>.blob.core.windows.net (with `credential`)",
    )
    credential: Literal["default"] | SecretRef | None = Field(
        None,
        description="'default': DefaultAzureCredential (managed identity, az login, workload "
        "identity in CI); or a secret reference to a SAS token",
    )
    connection_string: SecretRef | None = Field(
        None,
        description="a storage connection string by secret reference (instead of account_url; "
        "Azurite's development account is one)",
    )

    @model_validator(mode="after")
    def _one_way_in(self) -> EvidenceStoreParams:
        if (self.account_url is None) == (self.connection_string is None):
            raise ValueError("give exactly one of 'account_url' or 'connection_string'")
        if self.connection_string is not None and self.credential is not None:
            raise ValueError("'credential' goes with 'account_url', not 'connection_string'")
        return self

    def describe(self) -> str:
        """Where the store is, without any secret: 'container/prefix at <url or $REF>'."""
        where = self.account_url or f"the account of {self.connection_string.describe()}"  # type: ignore[union-attr]
        path = "/".join(p for p in (self.container, self.prefix) if p)
        return f"{path} at {where}"

    def key(self) -> str:
        """A short stable name for this store (its cache folder)."""
        ident = "|".join(
            [
                self.account_url or (self.connection_string.env if self.connection_string else ""),
                self.container,
                self.prefix,
            ]
        )
        return hashlib.sha256(ident.encode()).hexdigest()[:12]


def env_prefix(store: EvidenceStoreParams, env: str) -> str:
    """'<prefix>/<env>/' (or '<env>/' without a prefix)."""
    return "/".join(p for p in (store.prefix, env) if p) + "/"


def run_blob(store: EvidenceStoreParams, env: str, run_id: str, relative: str) -> str:
    """The blob name of one file of a run."""
    return f"{env_prefix(store, env)}{run_id}/{relative}"


def chain_blob(store: EvidenceStoreParams, env: str, run_id: str) -> str:
    """The blob name of a run's chain entry."""
    return f"{env_prefix(store, env)}{CHAIN_FOLDER}/{run_id}.json"


def cache_folder(store: EvidenceStoreParams, cache: Path) -> Path:
    """The mirror of one store under a cache folder: it has the layout of `outputs/`."""
    return cache / store.key()


def order_chain(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chain entries in chain order: follow previous_manifest_sha256 links from each start
    (an entry whose predecessor is not in the store), starts oldest first by finished_at;
    entries left over (a cycle, a fork's second branch) follow by finished_at, so that
    `verify --chain` names them as broken links rather than hiding them."""
    by_previous: dict[str | None, list[dict[str, Any]]] = {}
    digests = {e.get("manifest_sha256") for e in entries}
    for entry in entries:
        by_previous.setdefault(entry.get("previous_manifest_sha256"), []).append(entry)

    def when(entry: dict[str, Any]) -> str:
        return str(entry.get("finished_at") or "")

    starts = sorted(
        (e for e in entries if e.get("previous_manifest_sha256") not in digests), key=when
    )
    ordered: list[dict[str, Any]] = []
    placed: set[int] = set()
    for start in starts:
        step: dict[str, Any] | None = start
        while step is not None and id(step) not in placed:
            ordered.append(step)
            placed.add(id(step))
            following = sorted(by_previous.get(step.get("manifest_sha256"), []), key=when)
            step = next((f for f in following if id(f) not in placed), None)
    ordered += sorted((e for e in entries if id(e) not in placed), key=when)
    return ordered


def store_of(env: str, overrides: list[str] | None = None) -> EvidenceStoreParams:
    """The `evidence.store` of parameters/<env>.yaml (with overrides); ParameterError when the
    file is invalid or names no store."""
    from runbook.core.parameters import ParameterError, load

    loaded = load(env, overrides)
    evidence = loaded.params.evidence
    if evidence is None or evidence.store is None:
        raise ParameterError(
            [f"{loaded.source}: key 'evidence.store' is not set: this environment names no store"]
        )
    return evidence.store


def default_cache() -> Path:
    """<project root>/.cache/evidence-store, where stores are mirrored to be read."""
    from runbook.core.parameters import project_root

    return project_root() / ".cache" / "evidence-store"


def chain_segment(ordered: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    """The linked stretch of `ordered` (see order_chain) that holds `run_id`: from the entry
    starting it to the last one linked after it. A store written by jobs that each began with
    an empty outputs/ holds one such stretch per job; a run is verified against its own."""
    segments: list[list[dict[str, Any]]] = []
    for entry in ordered:
        follows = bool(segments) and (
            entry.get("previous_manifest_sha256") == segments[-1][-1].get("manifest_sha256")
        )
        if follows:
            segments[-1].append(entry)
        else:
            segments.append([entry])
    for segment in segments:
        if any(e.get("run_id") == run_id for e in segment):
            return segment
    return []
