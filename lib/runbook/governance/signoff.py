"""Sign-offs: the checklist boxes only a person can tick ("Team notified of deployment",
"Deployment window scheduled", "Rollback plan prepared", "Share lessons learned", …).

A sign-off is a `SignOff` record (who, role, note, when, the sha256 of the results recorded so
far in the phase, and where it came from) turned into a `CheckResult` by `signoff_result`:
PASS with the record in its evidence, or PENDING_SIGN_OFF when nobody signed (a required item
is a blocker, so the verdict rules make the run INCOMPLETE and target-changing phases after it
do not start).

Two ways to sign, one notebook cell (`signoff_cell`):
- interactive (JupyterLab): a widget (who, role, note, Sign). The cell first shows the pending
  result; clicking Sign replaces that output (same display id) with the signed result, so the
  saved notebook carries the signed CheckResult as the cell's MIME output.
- headless (papermill, CI): nobody clicks. The record comes from parameters
  (`signoff.signed.<item>: {by, role, note}`) or from the CI system's environment
  (`signoff.ci.approver_env` names the variable holding the approver, e.g. the approver of a
  GitHub protected environment written there by a workflow step). No record: PENDING.

Headless is detected by `is_headless`: the orchestrator set RUNBOOK_HEADLESS=1 in the kernel's
environment, or papermill injected a non-empty `params` (unless `runbook lab` set
RUNBOOK_INTERACTIVE=1: its notebooks are parameterized too, but a person signs them).

Durable: a widget sign-off is written to `<run_dir>/signoffs/<item>.json` the moment it is
given, created exclusively (the first signature of an item stands; a later one shows it).
Re-executing the cell, or a new kernel after a dead one, shows that signature instead of a blank
form, and `runbook finish` reads these files, so nothing signed is lost with a kernel. A guard
(`stop_if_pending`) checks every required item of its phase against the recorded results and
these files, whether or not the sign-off cell ran in this kernel.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.secret_refs import ENV_NAME_PATTERN

HEADLESS_ENV = "RUNBOOK_HEADLESS"
INTERACTIVE_ENV = "RUNBOOK_INTERACTIVE"  # set by `runbook lab` for its server and kernels
SIGNOFFS_DIR = "signoffs"  # <run_dir>/signoffs/<item>.json: the widget sign-offs of a run
ID_PREFIX = "signoff."
ITEM_ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
SOURCE_PATTERN = r"^(widget|parameters|ci:[a-z0-9][a-z0-9-]*)$"

SECTION_PRE_PRODUCTION = "Deployment Steps §3.1 Pre-Production Checklist"
SECTION_DOCS = "Post-Deployment Tasks §1 Documentation Updates"
SECTION_COMMUNICATION = "Post-Deployment Tasks §2 Team Communication"
SECTION_CLEANUP = "Post-Deployment Tasks §3 Cleanup"
# the checklist's escalation path: Development Team, Tech Lead, CTO / Engineering Manager
APPROVERS = ["tech-lead", "engineering-manager"]
TEAM = ["development-team", "tech-lead", "engineering-manager"]


class SignOffItem(BaseModel):
    """A checklist box a person signs: id, checklist section, title, required, allowed roles."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ITEM_ID_PATTERN, description="check id becomes 'signoff.<id>'")
    section: str
    title: str
    required: bool = Field(True, description="required: a missing sign-off blocks (INCOMPLETE)")
    roles: list[str] = Field(min_length=1, description="roles allowed to sign this item")
    phase: str | None = Field(None, description="the phase notebook that asks for it")

    @property
    def check_id(self) -> str:
        return ID_PREFIX + self.id


def default_items() -> list[SignOffItem]:
    """The checklist's manual boxes, one item per box (defaults; an environment's parameters
    may replace them). The post-deployment tasks are signed in phase post-deployment."""
    pre, docs, comm, clean = (
        SECTION_PRE_PRODUCTION,
        SECTION_DOCS,
        SECTION_COMMUNICATION,
        SECTION_CLEANUP,
    )
    post = "post-deployment"
    rows = [
        ("team-notified", pre, "Team notified of deployment", True, APPROVERS, "deploy"),
        ("deployment-window", pre, "Deployment window scheduled", True, APPROVERS, "deploy"),
        ("rollback-plan", pre, "Rollback plan prepared", True, APPROVERS, "deploy"),
        ("deployment-docs-updated", docs, "Update deployment documentation", False, TEAM, post),
        ("issues-documented", docs, "Document any issues encountered", False, TEAM, post),
        ("runbooks-updated", docs, "Update runbooks if needed", False, TEAM, post),
        ("lessons-learned", docs, "Share lessons learned with team", False, TEAM, post),
        ("success-notified", comm, "Notify team of successful deployment", False, TEAM, post),
        ("dashboards-shared", comm, "Share monitoring dashboard links", False, TEAM, post),
        ("known-issues-documented", comm, "Document any known issues", False, TEAM, post),
        ("post-mortem", comm, "Schedule post-mortem if needed", False, TEAM, post),
        (
            "old-env-vars-removed",
            clean,
            "Remove old environment variables (after verification)",
            False,
            TEAM,
            post,
        ),
        ("artifacts-archived", clean, "Archive old deployment artifacts", False, TEAM, post),
        ("pipelines-updated", clean, "Update CI/CD pipelines if needed", False, TEAM, post),
        ("temporary-resources-cleaned", clean, "Clean up temporary resources", False, TEAM, post),
    ]
    return [
        SignOffItem(id=i, section=s, title=t, required=r, roles=list(ro), phase=p)
        for i, s, t, r, ro, p in rows
    ]


class SignedEntry(BaseModel):
    """A sign-off given in parameters (headless): who, in which role, with what note."""

    model_config = ConfigDict(extra="forbid")

    by: str = Field(min_length=1)
    role: str = Field(min_length=1)
    note: str = ""


class CISignOff(BaseModel):
    """A sign-off taken from the CI system: the environment variable (a name, never a value in
    the file) holding the approver, the role that approval stands for, the items it signs."""

    model_config = ConfigDict(extra="forbid")

    system: str = Field("github", pattern=r"^[a-z0-9][a-z0-9-]*$", description="source ci:<system>")
    approver_env: str = Field(
        pattern=ENV_NAME_PATTERN, description="variable holding the approver's login"
    )
    role: str = Field(min_length=1, description="the role a CI approval stands for")
    items: list[str] = Field(min_length=1, description="item ids the CI approval signs")
    note: str = "approved in the CI system"
    context_env: list[str] = Field(
        default_factory=list,
        description="non-secret variables recorded with the sign-off (e.g. GITHUB_RUN_ID)",
    )


class SignOffParams(BaseModel):
    """Parameters section `signoff`: the items, sign-offs given headless, the CI source."""

    model_config = ConfigDict(extra="forbid")

    items: list[SignOffItem] = Field(default_factory=default_items)
    signed: dict[str, SignedEntry] = Field(
        default_factory=dict, description="item id -> {by, role, note}"
    )
    ci: CISignOff | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SignOffParams:
        by_id = {i.id: i for i in self.items}
        if len(by_id) != len(self.items):
            raise ValueError("signoff.items: item ids must be unique")
        problems = [f"signed.{k}: no such item" for k in self.signed if k not in by_id]
        problems += [
            f"signed.{k}: role {e.role!r} may not sign it (allowed: {', '.join(by_id[k].roles)})"
            for k, e in self.signed.items()
            if k in by_id and e.role not in by_id[k].roles
        ]
        if self.ci:
            problems += [f"ci.items: no item {k!r}" for k in self.ci.items if k not in by_id]
            problems += [
                f"ci.role {self.ci.role!r} may not sign {k!r}"
                for k in self.ci.items
                if k in by_id and self.ci.role not in by_id[k].roles
            ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def item(self, item_id: str) -> SignOffItem:
        """The item with this id (KeyError naming the known ids)."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(
            f"no sign-off item {item_id!r}; known: " + ", ".join(i.id for i in self.items)
        )


class SignOff(BaseModel):
    """One sign-off: who, role, note, when (UTC), against which evidence, from where."""

    model_config = ConfigDict(extra="forbid")

    item: str
    by: str = Field(min_length=1)
    role: str = Field(min_length=1)
    note: str = ""
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    evidence_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    evidence_ids: list[str] = Field(
        default_factory=list, description="the result ids the hash covers"
    )
    source: str = Field(pattern=SOURCE_PATTERN)
    context: dict[str, str] = Field(default_factory=dict)


# -- the evidence a sign-off is bound to ----------------------------------------------------------
def evidence_digest(results: Iterable[CheckResult]) -> tuple[str, list[str]]:
    """sha256 of the canonical JSON of these results (sorted by id), and the ids it covers."""
    payloads = sorted((r.to_payload() for r in results), key=lambda p: p["id"])
    data = json.dumps(
        payloads, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(data.encode()).hexdigest(), [p["id"] for p in payloads]


def evidence_matches(record: SignOff, results: Iterable[CheckResult]) -> bool:
    """True when `results` (e.g. read back from a manifest) hash to what the record signed."""
    wanted = set(record.evidence_ids)
    digest, _ = evidence_digest(r for r in results if r.id in wanted)
    return digest == record.evidence_sha256


def make_record(
    item: SignOffItem,
    *,
    by: str,
    role: str,
    note: str,
    source: str,
    results: Iterable[CheckResult],
    context: Mapping[str, str] | None = None,
) -> SignOff:
    """A sign-off record bound to the results recorded so far (sign-offs excluded)."""
    digest, ids = evidence_digest(r for r in results if not r.id.startswith(ID_PREFIX))
    return SignOff(
        item=item.id,
        by=by.strip(),
        role=role,
        note=note,
        source=source,
        evidence_sha256=digest,
        evidence_ids=ids,
        context=dict(context or {}),
    )


# -- the check result ------------------------------------------------------------------------------
def signoff_result(item: SignOffItem, record: SignOff | None) -> CheckResult:
    """PASS with the record in evidence; PENDING_SIGN_OFF when missing; FAIL for a role the
    item does not allow. A required item is a blocker, an optional one a warning."""
    common: dict[str, Any] = {
        "id": item.check_id,
        "section": item.section,
        "title": item.title,
        "severity": Severity.BLOCKER if item.required else Severity.WARNING,
        "threshold": {"signed_by_role": item.roles},
    }
    if record is None:
        return CheckResult(
            **common,
            status=Status.PENDING_SIGN_OFF,
            observed=None,
            explanation=f"waiting for a sign-off by {' or '.join(item.roles)}"
            + ("" if item.required else " (optional)"),
            evidence={"item": item.model_dump(mode="json")},
        )
    observed = {"by": record.by, "role": record.role, "source": record.source}
    evidence = {"item": item.model_dump(mode="json"), "signoff": record.model_dump(mode="json")}
    if record.role not in item.roles:
        return CheckResult(
            **common,
            status=Status.FAIL,
            observed=observed,
            evidence=evidence,
            explanation=f"signed by {record.by} as {record.role!r}, a role that "
            f"may not sign this (allowed: {', '.join(item.roles)})",
        )
    return CheckResult(
        **common,
        status=Status.PASS,
        observed=observed,
        evidence=evidence,
        explanation=f"signed by {record.by} ({record.role}) via {record.source} at "
        f"{record.at.isoformat(timespec='seconds')}" + (f": {record.note}" if record.note else ""),
    )


# -- headless ------------------------------------------------------------------------------------
def is_headless(injected_params: Mapping[str, Any] | None = None) -> bool:
    """True under `runbook run` (RUNBOOK_HEADLESS=1, or papermill injected parameters); False
    in a `runbook lab` kernel (RUNBOOK_INTERACTIVE=1) unless RUNBOOK_HEADLESS=1 is set too."""
    if os.environ.get(HEADLESS_ENV) == "1":
        return True
    if os.environ.get(INTERACTIVE_ENV) == "1":
        return False
    return bool(injected_params)


# -- durable records -----------------------------------------------------------------------------
class SignOffNotSaved(OSError):
    """The sign-off could not be written to the run directory (so it was not given)."""


def record_path(run_dir: Path, item_id: str) -> Path:
    """Where the widget sign-off of `item_id` is kept: <run_dir>/signoffs/<item>.json."""
    return run_dir / SIGNOFFS_DIR / f"{item_id}.json"


def load_record(run_dir: Path | None, item_id: str) -> SignOff | None:
    """The durable sign-off of an item in this run, or None (no run directory, not signed)."""
    if run_dir is None:
        return None
    path = record_path(run_dir, item_id)
    if not path.is_file():
        return None
    return SignOff.model_validate_json(path.read_text(encoding="utf-8"))


def load_records(run_dir: Path) -> dict[str, SignOff]:
    """Every durable sign-off of a run, by item id."""
    folder = run_dir / SIGNOFFS_DIR
    if not folder.is_dir():
        return {}
    return {
        p.stem: SignOff.model_validate_json(p.read_text(encoding="utf-8"))
        for p in sorted(folder.glob("*.json"))
    }


def save_record(run_dir: Path, record: SignOff) -> SignOff:
    """Write the record at once (created exclusively, flushed to disk) and return it; when the
    item was already signed in this run, the existing record is returned unchanged."""
    path = record_path(run_dir, record.item)
    data = (record.model_dump_json(indent=2) + "\n").encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        if not path.is_file():
            raise SignOffNotSaved(f"could not record the sign-off in {path}") from None
        existing = load_record(run_dir, record.item)
        assert existing is not None
        return existing
    except OSError as exc:
        raise SignOffNotSaved(f"could not record the sign-off in {path}: {exc}") from exc
    try:
        os.write(fd, data)
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise SignOffNotSaved(f"could not record the sign-off in {path}: {exc}") from exc
    os.close(fd)
    return record


def headless_record(
    item: SignOffItem, settings: SignOffParams, results: Iterable[CheckResult]
) -> SignOff | None:
    """The sign-off from the CI system (preferred: the CI attests who approved) or from
    parameters; None when neither has one."""
    results = list(results)
    ci = settings.ci
    if ci is not None and item.id in ci.items:
        approver = os.environ.get(ci.approver_env, "").strip()
        if approver:
            context = {name: os.environ[name] for name in ci.context_env if name in os.environ}
            return make_record(
                item,
                by=approver,
                role=ci.role,
                note=ci.note,
                source=f"ci:{ci.system}",
                results=results,
                context=context,
            )
    entry = settings.signed.get(item.id)
    if entry is not None:
        return make_record(
            item,
            by=entry.by,
            role=entry.role,
            note=entry.note,
            source="parameters",
            results=results,
        )
    return None


# -- interactive ---------------------------------------------------------------------------------
ResultsProvider = Callable[[], Iterable[CheckResult]]
OnSigned = Callable[[SignOff, CheckResult], None]


class SignOffWidget:
    """who / role / note / Sign. Clicking Sign records a SignOff against the provider's
    results, replaces the displayed pending result with the signed one and calls back."""

    def __init__(
        self,
        item: SignOffItem,
        results_provider: ResultsProvider,
        on_signed: OnSigned | None = None,
        phase: str | None = None,
        run_dir: Path | None = None,
    ) -> None:
        import ipywidgets as widgets
        from IPython.display import DisplayHandle

        self.item = item
        self._provider = results_provider
        self._on_signed = on_signed
        self.phase = phase
        self.run_dir = run_dir
        self.record: SignOff | None = None
        self.result = self._with_phase(signoff_result(item, None))
        self.handle = DisplayHandle()
        self.who = widgets.Text(description="Who", placeholder="your name")
        self.role = widgets.Dropdown(
            description="Role", options=list(item.roles), value=item.roles[0]
        )
        self.note = widgets.Textarea(description="Note", placeholder="what you checked")
        self.button = widgets.Button(
            description="Sign", button_style="primary", tooltip=f"sign: {item.title}"
        )
        self.message = widgets.HTML(
            value=f"<b>{html.escape(item.title)}</b> — {html.escape(item.section)}"
        )
        self.box = widgets.VBox([self.message, self.who, self.role, self.note, self.button])
        self.button.on_click(self._sign)
        existing = load_record(run_dir, item.id)
        if existing is not None:
            self._show_signed(existing, already=True)

    def _with_phase(self, result: CheckResult) -> CheckResult:
        return result.model_copy(update={"phase": self.phase}) if self.phase else result

    def show(self) -> None:
        """Display the form and the (pending) result under its own display id."""
        from IPython.display import display

        display(self.box)
        self.handle.display(self.result)

    def _sign(self, _button: object) -> None:
        who = (self.who.value or "").strip()
        if not who:
            self.message.value = "<b style='color:#cf222e'>Enter who signs before signing.</b>"
            return
        record = make_record(
            self.item,
            by=who,
            role=str(self.role.value),
            note=self.note.value or "",
            source="widget",
            results=self._provider(),
        )
        already = False
        if self.run_dir is not None:
            try:
                saved = save_record(self.run_dir, record)
            except SignOffNotSaved as exc:  # not recorded: not signed
                self.message.value = f"<b style='color:#cf222e'>{html.escape(str(exc))}</b>"
                return
            already = saved is not record
            record = saved
        self._show_signed(record, already=already)
        self.handle.update(self.result)
        if self._on_signed is not None:
            self._on_signed(record, self.result)

    def _show_signed(self, record: SignOff, already: bool) -> None:
        """The form filled in and locked, with the signature it holds."""
        self.record = record
        self.result = self._with_phase(signoff_result(self.item, record))
        self.who.value = record.by
        if record.role in self.item.roles:
            self.role.value = record.role
        self.note.value = record.note
        for control in (self.who, self.role, self.note, self.button):
            control.disabled = True
        where = (
            f" — recorded in {SIGNOFFS_DIR}/{record.item}.json"
            if self.run_dir is not None
            else " — kept in this kernel only (open the run with `runbook lab` to record it)"
        )
        self.message.value = (
            f"<b>{'Already signed' if already else 'Signed'}</b>: "
            f"<b>{html.escape(self.item.title)}</b> by {html.escape(record.by)} "
            f"({html.escape(record.role)}) at {record.at.isoformat(timespec='seconds')} against "
            f"evidence {record.evidence_sha256[:12]}…{html.escape(where)}"
        )

    def _ipython_display_(self) -> None:
        self.show()


def signoff_widget(
    item: SignOffItem,
    ctx_results_provider: ResultsProvider,
    on_signed: OnSigned | None = None,
    phase: str | None = None,
    run_dir: Path | None = None,
) -> SignOffWidget:
    """The interactive sign-off form for one item (call `.show()` or display it); with a
    `run_dir`, the signature is recorded there and an existing one is shown, locked."""
    return SignOffWidget(item, ctx_results_provider, on_signed, phase, run_dir)


# -- the notebook cell -----------------------------------------------------------------------------
class _Context(Protocol):
    phase: str
    params: Any
    results: dict[str, CheckResult]


class SignOffCell:
    """What `signoff_cell` did: the current result and, interactively, the widget.
    Displays nothing itself (the cell already displayed the result)."""

    def __init__(self, item: SignOffItem, result: CheckResult, widget: SignOffWidget | None):
        self.item = item
        self._result = result
        self.widget = widget

    @property
    def result(self) -> CheckResult:
        return self.widget.result if self.widget is not None else self._result

    def _ipython_display_(self) -> None:  # the cell's last value adds no second output
        return None


def settings_of(ctx: _Context) -> SignOffParams:
    """The `signoff` section of the run's parameters (the checklist defaults without one)."""
    found = getattr(ctx.params, "signoff", None)
    if found is None:
        return SignOffParams()
    return found if isinstance(found, SignOffParams) else SignOffParams.model_validate(found)


def _record(ctx: _Context, result: CheckResult) -> CheckResult:
    """What ctx.check does: set the phase, keep the result, display it."""
    from IPython.display import display

    if result.phase is None:
        result = result.model_copy(update={"phase": ctx.phase})
    ctx.results[result.id] = result
    display(result)
    return result


def signoff_cell(
    ctx: _Context,
    item: SignOffItem | str,
    params: Mapping[str, Any] | None,
    settings: SignOffParams | None = None,
) -> SignOffCell:
    """One sign-off cell for both modes: a record from CI/parameters is recorded as is;
    otherwise headless records PENDING_SIGN_OFF, and interactive shows the widget (pending
    until Sign is clicked). `params` is the notebook's injected `params`."""
    settings = settings or settings_of(ctx)
    item = settings.item(item) if isinstance(item, str) else item
    prior = [r for r in ctx.results.values() if r.id != item.check_id]
    record = headless_record(item, settings, prior)
    if record is not None or is_headless(params):
        return SignOffCell(item, _record(ctx, signoff_result(item, record)), None)

    def signed(_record_: SignOff, result: CheckResult) -> None:
        ctx.results[result.id] = result

    widget = signoff_widget(
        item,
        lambda: [r for r in ctx.results.values() if r.id != item.check_id],
        signed,
        ctx.phase,
        _run_dir(ctx),
    )
    ctx.results[item.check_id] = widget.result
    widget.show()
    return SignOffCell(item, widget.result, widget)


def signoff_phase(
    ctx: _Context, params: Mapping[str, Any] | None, settings: SignOffParams | None = None
) -> list[SignOffCell]:
    """`signoff_cell` for every item configured for this phase (item.phase == ctx.phase)."""
    settings = settings or settings_of(ctx)
    return [
        signoff_cell(ctx, item, params, settings)
        for item in settings.items
        if item.phase == ctx.phase
    ]


def _run_dir(ctx: _Context) -> Path | None:
    found = getattr(ctx, "run_dir", None)
    return Path(found) if found else None


class SignOffPending(RuntimeError):
    """Raised by `stop_if_pending`: a required sign-off is missing, the notebook stops here."""


def pending_required(results: Iterable[CheckResult]) -> list[str]:
    """Ids of required (blocker) sign-offs that are not PASS."""
    return [
        r.id
        for r in results
        if r.id.startswith(ID_PREFIX)
        and r.severity is Severity.BLOCKER
        and r.status is not Status.PASS
    ]


def missing_required(ctx: _Context, settings: SignOffParams | None = None) -> list[str]:
    """Check ids of this phase's required sign-offs that are not given: neither a PASS result
    in the kernel nor a durable record in the run directory; plus any recorded required
    sign-off result that is not PASS (e.g. signed in a role the item does not allow)."""
    settings = settings or settings_of(ctx)
    run_dir = _run_dir(ctx)
    missing = []
    for item in settings.items:
        if item.phase != ctx.phase or not item.required:
            continue
        shown = ctx.results.get(item.check_id)
        if shown is not None and shown.status is Status.PASS:
            continue
        record = load_record(run_dir, item.id)
        if record is not None and signoff_result(item, record).status is Status.PASS:
            if shown is None or shown.status is Status.PENDING_SIGN_OFF:  # signed since
                ctx.results[item.check_id] = signoff_result(item, record).model_copy(
                    update={"phase": ctx.phase}
                )
            continue
        missing.append(item.check_id)
    others = [i for i in pending_required(ctx.results.values()) if i not in missing]
    return [*missing, *others]


def stop_if_pending(ctx: _Context) -> None:
    """Stop the notebook (raise) before a cell that changes the target when a required
    sign-off of this phase is missing; also call it in the cell that changes the target, so
    running that cell alone cannot skip the guard."""
    missing = missing_required(ctx)
    if missing:
        raise SignOffPending(
            "required sign-off missing: "
            + ", ".join(missing)
            + "; nothing after this point was run"
            + (
                " (sign in the sign-off cell above, then run this cell again)"
                if os.environ.get(INTERACTIVE_ENV) == "1"
                else ""
            )
        )
