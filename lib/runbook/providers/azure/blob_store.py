"""The evidence store on Azure Blob Storage: copy a finished run up (append-only), mirror runs
back into a cache folder with the local layout, and read the container's retention policy.

Writing never overwrites: every blob is uploaded with `overwrite=False`. A blob that already
exists with the same MD5 (a retried upload) counts as stored; with other content it is a
conflict, reported, and nothing of the store is changed. A failed upload never changes a run's
verdict: it is printed and recorded in `outputs/<env>/uploads.jsonl`, the run's evidence then
being only local. The container is never created here: it should be made with its retention
policy (README, "The evidence store").
"""

from __future__ import annotations

import hashlib
import json
import secrets as _random
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.core import evidence as ev
from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.evidence_store import (
    CHAIN_FOLDER,
    UPLOADS_LOG,
    EvidenceStoreParams,
    cache_folder,
    chain_blob,
    chain_segment,
    env_prefix,
    order_chain,
    run_blob,
)
from runbook.core.secret_refs import SecretUnavailable, resolve

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

IMMUTABILITY_CHECK = "evidence.store.immutability"
IMMUTABILITY_SECTION = "Evidence — kept durable and immutable (time-based retention policy)"
WORKERS = 4
LAST = (ev.SIGNATURE, ev.MANIFEST)  # uploaded last, in this order: a manifest means complete


class StoreError(Exception):
    """The store could not be reached, read or written; the message says why (never a secret)."""


class StoreConflict(StoreError):
    """A blob of this run already exists in the store with other content (never overwritten)."""


def container_client(store: EvidenceStoreParams) -> ContainerClient:
    """A client for the store's container (StoreError when its secret is not set)."""
    from azure.storage.blob import BlobServiceClient, ExponentialRetry

    options: dict[str, Any] = {
        # 3 retries about 3, 4 and 6 s apart (the SDK's default waits 15 s and more each)
        "retry_policy": ExponentialRetry(initial_backoff=2, increment_base=2, retry_total=3),
        "connection_timeout": 20,
        "read_timeout": 120,
    }
    try:
        if store.connection_string is not None:
            service = BlobServiceClient.from_connection_string(
                resolve(store.connection_string), **options
            )
        else:
            credential: Any
            if store.credential is None or store.credential == "default":
                from azure.identity import DefaultAzureCredential

                credential = DefaultAzureCredential()
            else:
                credential = resolve(store.credential)  # a SAS token
            service = BlobServiceClient(str(store.account_url), credential=credential, **options)
    except SecretUnavailable as exc:
        raise StoreError(f"evidence store {store.describe()}: {exc}") from None
    except ValueError as exc:  # a malformed connection string (its text is not repeated)
        raise StoreError(
            f"evidence store {store.describe()}: the connection string is not valid "
            f"({type(exc).__name__})"
        ) from None
    return service.get_container_client(store.container)


def _why(exc: BaseException) -> str:
    from runbook.providers.azure.errors import describe_azure_error

    return describe_azure_error(exc).message


@dataclass
class UploadRecord:
    """One attempt to store a run: a line of outputs/<env>/uploads.jsonl."""

    environment: str
    run_id: str
    store: str
    status: str  # stored | failed
    blobs: int = 0
    already_there: int = 0
    bytes: int = 0
    seconds: float = 0.0
    error: str | None = None
    retention: str | None = None  # the immutability check's status and sentence
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def ok(self) -> bool:
        return self.status == "stored"


def _put(container: ContainerClient, name: str, data: bytes | Path) -> bool:
    """Upload one blob, never overwriting. True: written now; False: already there with the
    same content. StoreConflict when it exists with other content."""
    from azure.core.exceptions import ResourceExistsError

    payload = data.read_bytes() if isinstance(data, Path) else data
    try:
        container.upload_blob(name, payload, overwrite=False)
        return True
    except ResourceExistsError:
        stored = container.get_blob_client(name).get_blob_properties().content_settings
        here = hashlib.md5(payload, usedforsecurity=False).digest()
        if stored.content_md5 is not None and bytes(stored.content_md5) == here:
            return False
        raise StoreConflict(
            f"the store already holds {name} with other content; evidence is never "
            "overwritten (a run id reused, or the store was written by someone else)"
        ) from None


def _properties(container: ContainerClient) -> Any:
    """The container's properties; None when the credential may not read them (HTTP 403: a
    container SAS, or a role that may only write blobs), which is no reason not to upload."""
    from azure.core.exceptions import HttpResponseError

    try:
        return container.get_container_properties()
    except HttpResponseError as exc:
        if exc.status_code == 403:
            return None
        raise


def _each(work: Callable[[Path], bool], paths: list[Path]) -> list[bool]:
    """`work` over `paths` on a few threads; the first failure cancels what has not started
    and is raised."""
    pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="runbook-store")
    try:
        futures = [pool.submit(work, path) for path in paths]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _chain_line(env_dir: Path, run_id: str) -> dict[str, Any]:
    entries = [e for e in ev.read_chain(env_dir) if e.get("run_id") == run_id]
    if not entries:
        raise StoreError(f"run {run_id} is not in {env_dir / ev.CHAIN}: it did not finish")
    return entries[-1]


def upload_run(store: EvidenceStoreParams, run_dir: Path) -> UploadRecord:
    """Copy a finished run (every file, then manifest.sig and manifest.json, then its chain
    entry) to the store and record the attempt in outputs/<env>/uploads.jsonl. Never raises
    for the store's sake: a failure is in the record."""
    env_dir, run_id = run_dir.parent, run_dir.name
    record = UploadRecord(
        environment=env_dir.name, run_id=run_id, store=store.describe(), status="failed"
    )
    began = time.monotonic()
    try:
        if not (run_dir / ev.MANIFEST).is_file():
            raise StoreError(f"{run_dir} has no {ev.MANIFEST}: only finished runs are stored")
        entry = _chain_line(env_dir, run_id)
        container = container_client(store)
        props = _properties(container)  # a dead store or a missing container: raised here
        files = sorted(p for p in run_dir.rglob("*") if p.is_file())
        body = [p for p in files if p.relative_to(run_dir).as_posix() not in LAST]
        last = [run_dir / name for name in LAST if (run_dir / name).is_file()]

        def put(path: Path) -> bool:
            name = run_blob(store, env_dir.name, run_id, path.relative_to(run_dir).as_posix())
            return _put(container, name, path)

        written = _each(put, body)
        written += [put(path) for path in last]
        line = (json.dumps(entry, sort_keys=True) + "\n").encode()
        written.append(_put(container, chain_blob(store, env_dir.name, run_id), line))
        record.status = "stored"
        record.blobs = len(written)
        record.already_there = written.count(False)
        record.bytes = sum(p.stat().st_size for p in files) + len(line)
        retention = (
            judge_retention(store, _retention(props))
            if props is not None
            else _unreadable(store, "this credential may not read the container's properties")
        )
        record.retention = f"{retention.status.value}: {retention.explanation}"
    except StoreError as exc:
        record.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - any SDK failure: the evidence stays local
        record.error = f"evidence store {store.describe()}: {_why(exc)}"
    record.seconds = round(time.monotonic() - began, 3)
    try:
        ev.append_whole(env_dir / UPLOADS_LOG, json.dumps(asdict(record)) + "\n")
    except ev.EvidenceWriteError as exc:
        record.error = (record.error + "; " if record.error else "") + exc.describe()
    return record


def store_run(store: EvidenceStoreParams, run_dir: Path, say: Callable[[str], None]) -> bool:
    """Upload a finished run and say where it went, or that its evidence is only local (the
    verdict is not changed either way). True when stored."""
    record = upload_run(store, run_dir)
    if record.ok:
        say(
            f"evidence stored: {record.blobs} blobs ({record.bytes / 1e6:.1f} MB, "
            f"{record.seconds:.1f} s) in {store.describe()} as "
            f"{run_blob(store, record.environment, record.run_id, '')}"
        )
        if record.retention and not record.retention.startswith(Status.PASS.value):
            say(f"warning: evidence store: {record.retention}")
    else:
        say(
            f"warning: the evidence of this run is only local ({run_dir}): {record.error} "
            f"(recorded in {run_dir.parent / UPLOADS_LOG}; `runbook store push` retries)"
        )
    return record.ok


# reading back -----------------------------------------------------------------------------


def _names(container: ContainerClient, prefix: str) -> list[str]:
    try:
        return [b.name for b in container.list_blobs(name_starts_with=prefix)]
    except Exception as exc:  # noqa: BLE001 - unreachable, refused, no container
        raise StoreError(f"could not list {prefix!r} in the evidence store: {_why(exc)}") from None


def _download(container: ContainerClient, pairs: Iterable[tuple[str, Path]]) -> None:
    def get(pair: tuple[str, Path]) -> None:
        name, path = pair
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = container.download_blob(name).readall()
        except Exception as exc:  # noqa: BLE001
            raise StoreError(
                f"could not read {name} from the evidence store: {_why(exc)}"
            ) from None
        path.write_bytes(data)

    with ThreadPoolExecutor(WORKERS * 2, thread_name_prefix="runbook-store") as pool:
        list(pool.map(get, list(pairs)))


def _fresh(env_dir: Path) -> Path:
    """A new empty staging folder beside env_dir (swapped in by _swap)."""
    staging = env_dir.parent / f".{env_dir.name}.{_random.token_hex(4)}"
    staging.mkdir(parents=True)
    return staging


def _swap(staging: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def _mirror(
    store: EvidenceStoreParams,
    env: str,
    cache: Path,
    want: Callable[[str, str], bool],
    container: ContainerClient | None = None,
    segment_of: str | None = None,
) -> Path:
    """Mirror the blobs of one environment that `want(run_id, relative path)` selects, plus
    every chain entry (as chain.jsonl, in chain order; only the stretch holding `segment_of`
    when given), into <cache>/<store>/<env>/, replacing what was there: what is read is what
    the store holds now."""
    container = container or container_client(store)
    prefix = env_prefix(store, env)
    names = _names(container, prefix)
    env_dir = cache_folder(store, cache) / env
    staging = _fresh(env_dir)
    try:
        chain_names, pairs = [], []
        for name in names:
            run_id, _, relative = name[len(prefix) :].partition("/")
            if run_id == CHAIN_FOLDER:
                chain_names.append(name)
            elif relative and want(run_id, relative):
                pairs.append((name, staging / run_id / relative))
        _download(container, pairs)
        entries = _chain_entries(container, chain_names)
        ordered = order_chain(entries)
        if segment_of is not None:
            ordered = chain_segment(ordered, segment_of)
        text = "".join(json.dumps(e) + "\n" for e in ordered)
        (staging / ev.CHAIN).write_text(text)
        return _swap(staging, env_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _chain_entries(container: ContainerClient, names: list[str]) -> list[dict[str, Any]]:
    out = []
    for name in names:
        try:
            raw = container.download_blob(name).readall()
        except Exception as exc:  # noqa: BLE001
            raise StoreError(
                f"could not read {name} from the evidence store: {_why(exc)}"
            ) from None
        try:
            entry = json.loads(raw)
        except ValueError:
            entry = {"run_id": name.rsplit("/", 1)[-1].removesuffix(".json"), "malformed": True}
        out.append(entry if isinstance(entry, dict) else {"malformed": True})
    return out


def mirror_env(store: EvidenceStoreParams, env: str, cache: Path, *, full: bool) -> Path:
    """One environment of the store in the cache: every file of every run (`full`), or only
    the manifests (enough to list runs). Returns <cache>/<store>/<env>."""
    return _mirror(store, env, cache, lambda _run, rel: full or rel == ev.MANIFEST)


def mirror_run(store: EvidenceStoreParams, env: str, run_id: str, cache: Path) -> Path:
    """One run of the store, every file, with its environment's chain. StoreError when the
    store has no such run."""
    env_dir = _mirror(store, env, cache, lambda run, _rel: run == run_id, segment_of=run_id)
    run_dir = env_dir / run_id
    if not run_dir.is_dir():
        raise StoreError(
            f"the evidence store {store.describe()} holds no run {env}/{run_id} "
            "(see `runbook list --store`)"
        )
    return run_dir


def environments(store: EvidenceStoreParams) -> list[str]:
    """The environments the store holds runs of."""
    container = container_client(store)
    base = "/".join(p for p in (store.prefix,) if p)
    base = base + "/" if base else ""
    try:
        found = container.walk_blobs(name_starts_with=base, delimiter="/")
        return sorted(
            item.name[len(base) :].rstrip("/") for item in found if item.name.endswith("/")
        )
    except Exception as exc:  # noqa: BLE001
        raise StoreError(
            f"could not list the evidence store {store.describe()}: {_why(exc)}"
        ) from None


def mirror_for_promotion(
    store: EvidenceStoreParams, envs: list[str], build_id: str | None, cache: Path
) -> list[Path]:
    """The earlier environments' runs of `build_id`, complete, with their chains (manifests
    of the others): what the promotion gate judges, read from the store."""
    container = container_client(store)
    dirs = []
    for env in envs:
        env_dir = _mirror(store, env, cache, lambda _r, rel: rel == ev.MANIFEST, container)
        wanted = {
            path.parent.name
            for path in env_dir.glob(f"*/{ev.MANIFEST}")
            if build_id is not None and _build_of(path) == build_id
        }
        if wanted:
            env_dir = _mirror(store, env, cache, _runs_and_manifests(frozenset(wanted)), container)
        dirs.append(env_dir)
    return dirs


def _runs_and_manifests(runs: frozenset[str]) -> Callable[[str, str], bool]:
    """Select every file of `runs` and the manifest of every other run."""
    return lambda run, rel: run in runs or rel == ev.MANIFEST


def _build_of(manifest: Path) -> str | None:
    try:
        value = json.loads(manifest.read_text()).get("build_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


# retention ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    """What the Blob API says about a container's immutability."""

    time_based_policy: bool
    version_level_worm: bool
    legal_hold: bool


def judge_retention(store: EvidenceStoreParams, found: Retention) -> CheckResult:
    """PASS only with a container-level time-based retention policy; anything less is WARN
    naming what can happen to the evidence (never a silent pass)."""
    if found.time_based_policy:
        status = Status.PASS
        text = (
            "the container has a time-based retention policy (its period and lock state are "
            "read with the management API or the portal, not the Blob API)"
        )
    elif found.version_level_worm:
        status = Status.WARN
        text = (
            "version-level immutability is enabled but the Blob API shows no container "
            "retention policy: without a default policy, evidence blobs can be deleted"
        )
    else:
        status = Status.WARN
        text = "no retention policy: evidence can be deleted" + (
            " (a legal hold is set, until someone clears it)" if found.legal_hold else ""
        )
    return CheckResult(
        id=IMMUTABILITY_CHECK,
        section=IMMUTABILITY_SECTION,
        severity=Severity.WARNING,
        status=status,
        title="The evidence store keeps runs immutable",
        observed=asdict(found),
        threshold={"time_based_policy": True},
        explanation=f"{store.describe()}: {text}",
    )


def immutability_check(
    store: EvidenceStoreParams, container: ContainerClient | None = None
) -> CheckResult:
    """Read the container's immutability through the Blob API and judge it; an unreachable
    store or missing container is ERROR."""
    try:
        props = (container or container_client(store)).get_container_properties()
    except StoreError as exc:
        return _unreadable(store, str(exc))
    except Exception as exc:  # noqa: BLE001
        return _unreadable(store, _why(exc))
    return judge_retention(store, _retention(props))


def _retention(props: Any) -> Retention:
    return Retention(
        time_based_policy=bool(props.has_immutability_policy),
        version_level_worm=bool(props.immutable_storage_with_versioning_enabled),
        legal_hold=bool(props.has_legal_hold),
    )


def _unreadable(store: EvidenceStoreParams, why: str) -> CheckResult:
    return CheckResult(
        id=IMMUTABILITY_CHECK,
        section=IMMUTABILITY_SECTION,
        severity=Severity.WARNING,
        status=Status.ERROR,
        title="The evidence store keeps runs immutable",
        explanation=f"could not read the container of {store.describe()}: {why}",
    )
