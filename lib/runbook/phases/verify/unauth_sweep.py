"""Unauthenticated sweep (checklist "Deployment Steps §1.2 Smoke Tests — Authentication works",
beyond three hand-picked routes): every operation the target's OpenAPI schema marks as secured —
or, where the schema declares no security at all, every operation under the protected prefixes
of the parameters — is sent WITHOUT credentials and must be refused (401 with the error envelope
by default), never answered 2xx, never 5xx. Runs with or without a test user's token.

One result per route group (OpenAPI tag, or the path segment after the prefix) and a summary
`auth.sweep` naming the offenders (the first few in the explanation, all in the evidence).
"""

from __future__ import annotations

import fnmatch
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.json_path import MISSING, lookup
from runbook.core.target import TargetParams
from runbook.providers.http import Exchange, exchange, http_statuses

SWEEP_SECTION = "Deployment Steps §1.2 Smoke Tests"
SUMMARY_ID = "auth.sweep"  # groups: auth.sweep.<group>
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_SLUG = re.compile(r"[^a-z0-9]+")

# How one operation answered, worst first; the first four are offenders.
OPEN, SERVER_ERROR, WRONG_STATUS = "open", "server error", "wrong status"
NO_ENVELOPE, NO_ANSWER, THROTTLED, REFUSED = "no envelope", "no answer", "throttled", "refused"
OFFENDING = (OPEN, SERVER_ERROR, WRONG_STATUS, NO_ENVELOPE)
OUTCOMES = (*OFFENDING, NO_ANSWER, THROTTLED, REFUSED)


class UnauthSweepParams(BaseModel):
    """What the sweep sends and what a refusal must look like (PixCrawler's defaults)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    schema_path: str = Field(default="/openapi.json", pattern=r"^/\S*$")
    docs_path: str | None = Field(
        default="/docs",
        description="when schema_path answers 404, the schema URL is read off "
        "this Swagger UI page (FastAPI's `url: '…openapi.json'`); None: no discovery",
    )
    select: Literal["auto", "schema", "prefixes"] = Field(
        default="auto",
        description="schema: operations the schema marks as secured; prefixes: every operation "
        "under protected_prefixes; auto: the schema's marks when it declares any security, "
        "else the prefixes",
    )
    protected_prefixes: list[str] = Field(default_factory=lambda: ["/api/v1/"])
    public: list[str] = Field(
        default_factory=lambda: [
            "/health",
            "/api/v1/health",
            "/api/v1/health/*",
            "/openapi.json",
            "/docs*",
            "/redoc*",
        ],
        description="fnmatch patterns of a path, or of 'METHOD path', never swept (public "
        "routes, and secured ones that are public by design)",
    )
    methods: list[str] = Field(default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE"])
    expect_status: list[int] = Field(default_factory=lambda: [401], min_length=1)
    envelope: list[str] | None = Field(
        default_factory=lambda: ["error.type", "error.message", "error.status_code"],
        description="dotted keys the refusal's JSON must hold (None = any body, e.g. a "
        "FastAPI app answering {'detail': ...})",
    )
    envelope_status_key: str | None = Field(
        default="error.status_code",
        description="dotted key that must equal the HTTP status (None: not checked)",
    )
    max_operations: int = Field(default=300, ge=1, le=5000)
    timeout_s: float = Field(default=5.0, gt=0, le=120, description="per request")
    concurrency: int = Field(default=4, ge=1, le=32)
    group_by: Literal["tag", "prefix"] = "tag"
    show: int = Field(default=5, ge=1, le=50, description="offenders named in an explanation")
    severity: Severity = Severity.BLOCKER

    @field_validator("methods")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [m.strip().upper() for m in value]

    @field_validator("expect_status")
    @classmethod
    def _statuses(cls, value: list[int]) -> list[int]:
        return http_statuses(value)


@dataclass(frozen=True)
class Operation:
    """One operation of the schema as the sweep sends it."""

    method: str
    path: str  # the schema's template, e.g. /api/v1/projects/{project_id}
    url_path: str  # placeholders filled, query string included
    body: bool
    group: str
    why: str  # why it is swept: 'schema security' or 'prefix /api/v1/'

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Answer:
    """How one operation answered the request without credentials."""

    op: Operation
    outcome: str
    status: int | None
    detail: str
    ex: Exchange

    def record(self) -> dict[str, Any]:
        return {
            "route": self.op.route,
            "url": self.ex.url,
            "outcome": self.outcome,
            "status": self.status,
            "detail": self.detail,
            "group": self.op.group,
            "selected_by": self.op.why,
            "body_excerpt": self.ex.body_text[:300],
        }

    def line(self) -> str:
        return f"{self.op.route} {self.detail}"


# -- selecting operations -----------------------------------------------------------------------
def _resolve(schema: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """Follow a local $ref (a few levels at most)."""
    while isinstance(node, dict) and "$ref" in node and depth < 8:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return {}
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node, depth = target, depth + 1
    return node


def placeholder(schema: dict[str, Any], param_schema: Any) -> str:
    """A harmless value of the parameter's type: 0, a zero UUID, the first enum value, ..."""
    node = _resolve(schema, param_schema)
    if not isinstance(node, dict):
        return "0"
    for key in ("anyOf", "oneOf", "allOf"):
        options = [_resolve(schema, o) for o in node.get(key) or []]
        options = [o for o in options if isinstance(o, dict) and o.get("type") != "null"]
        if options:
            return placeholder(schema, options[0])
    if node.get("enum"):
        return str(node["enum"][0])
    kind, fmt = node.get("type"), node.get("format")
    if kind == "boolean":
        return "false"
    if kind == "string" and fmt == "uuid":
        return ZERO_UUID
    if kind == "string" and fmt == "date":
        return "2000-01-01"
    if kind == "string" and fmt == "date-time":
        return "2000-01-01T00:00:00Z"
    return "0"


def _secured(requirements: Any) -> bool:
    """A non-empty security requirement list without an anonymous ({}) alternative."""
    return (
        isinstance(requirements, list)
        and bool(requirements)
        and all(isinstance(r, dict) and r for r in requirements)
    )


def declares_security(schema: dict[str, Any]) -> bool:
    """True when the schema says anything about security (globally or on an operation)."""
    if schema.get("security"):
        return True
    for item in (schema.get("paths") or {}).values():
        for method in _METHODS:
            op = item.get(method) if isinstance(item, dict) else None
            if isinstance(op, dict) and "security" in op:
                return True
    return False


def _public(method: str, path: str, patterns: list[str]) -> bool:
    return any(
        fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(f"{method} {path}", p) for p in patterns
    )


def _group(op: dict[str, Any], path: str, prefixes: list[str], by: str) -> str:
    tags = op.get("tags") or []
    if by == "tag" and tags and isinstance(tags[0], str):
        return tags[0]
    rest = path
    for prefix in sorted(prefixes, key=len, reverse=True):
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            break
    first = next((s for s in rest.split("/") if s and not s.startswith("{")), "")
    return first or "(root)"


def _fill(schema: dict[str, Any], path: str, params: list[Any]) -> str:
    by_place: dict[tuple[str, str], Any] = {}
    for raw in params:
        p = _resolve(schema, raw)
        if isinstance(p, dict) and "name" in p and "in" in p:
            by_place[(p["in"], p["name"])] = p

    def value(match: re.Match[str]) -> str:
        p = by_place.get(("path", match.group(1)), {})
        return quote(placeholder(schema, p.get("schema")), safe="")

    filled = re.sub(r"\{([^{}]+)\}", value, path)
    query = [
        (name, placeholder(schema, p.get("schema")))
        for (place, name), p in by_place.items()
        if place == "query" and p.get("required")
    ]
    if query:
        filled += "?" + "&".join(f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in query)
    return filled


def select_operations(
    schema: dict[str, Any], params: UnauthSweepParams
) -> tuple[list[Operation], str]:
    """The operations to sweep (sorted by path, method) and how they were chosen."""
    mode = params.select
    if mode == "auto":
        mode = "schema" if declares_security(schema) else "prefixes"
    chosen_by = (
        "the schema's security marks"
        if mode == "schema"
        else "the protected prefixes " + ", ".join(params.protected_prefixes)
    )
    global_security = schema.get("security")
    out: list[Operation] = []
    for path, item in sorted((schema.get("paths") or {}).items()):
        if not isinstance(item, dict) or not isinstance(path, str):
            continue
        shared = item.get("parameters") or []
        for method in _METHODS:
            op = item.get(method)
            upper = method.upper()
            if not isinstance(op, dict) or upper not in params.methods:
                continue
            if _public(upper, path, params.public):
                continue
            if mode == "schema":
                if not _secured(op.get("security", global_security)):
                    continue
                why = "schema security"
            else:
                prefix = next((p for p in params.protected_prefixes if path.startswith(p)), None)
                if prefix is None:
                    continue
                why = f"prefix {prefix}"
            out.append(
                Operation(
                    method=upper,
                    path=path,
                    url_path=_fill(schema, path, [*shared, *(op.get("parameters") or [])]),
                    body="requestBody" in op,
                    group=_group(op, path, params.protected_prefixes, params.group_by),
                    why=why,
                )
            )
    return out, chosen_by


# -- judging answers ----------------------------------------------------------------------------


def judge(op: Operation, ex: Exchange, params: UnauthSweepParams) -> Answer:
    """Classify one answer: refused (as expected), or why not."""
    status = ex.status
    if not ex.ok or status is None:
        return Answer(op, NO_ANSWER, None, f"got no answer: {ex.error}", ex)
    if status >= 500:
        return Answer(op, SERVER_ERROR, status, f"answered {status} (a server error)", ex)
    if 200 <= status < 300:
        return Answer(op, OPEN, status, f"answered {status} without credentials", ex)
    if status == 429 and 429 not in params.expect_status:
        return Answer(
            op, THROTTLED, status, "answered 429: throttled, so not judged (lower concurrency)", ex
        )
    if status not in params.expect_status:
        expected = " or ".join(map(str, params.expect_status))
        return Answer(op, WRONG_STATUS, status, f"answered {status}, expected {expected}", ex)
    missing = [k for k in params.envelope or [] if lookup(ex.json, k) is MISSING]
    if missing:
        return Answer(
            op,
            NO_ENVELOPE,
            status,
            f"answered {status} without the error envelope (missing {', '.join(missing)})",
            ex,
        )
    if params.envelope and params.envelope_status_key:
        told = lookup(ex.json, params.envelope_status_key)
        if told != status:
            return Answer(
                op,
                NO_ENVELOPE,
                status,
                f"answered {status} but '{params.envelope_status_key}' says {told!r}",
                ex,
            )
    return Answer(op, REFUSED, status, f"refused with {status}", ex)


def _counts(answers: list[Answer]) -> dict[str, int]:
    return {o: n for o in OUTCOMES if (n := sum(a.outcome == o for a in answers))}


def _status_of(answers: list[Answer]) -> Status:
    outcomes = {a.outcome for a in answers}
    if outcomes & set(OFFENDING):
        return Status.FAIL
    if NO_ANSWER in outcomes:
        return Status.ERROR
    if THROTTLED in outcomes:
        return Status.INCONCLUSIVE
    return Status.PASS


def _threshold(params: UnauthSweepParams) -> dict[str, Any]:
    return {"status": params.expect_status, "envelope": params.envelope, "never": ["2xx", "5xx"]}


def _listing(lines: list[str], show: int) -> str:
    more = f"; and {len(lines) - show} more (all in the evidence)" if len(lines) > show else ""
    return "; ".join(lines[:show]) + more


# -- the sweep ----------------------------------------------------------------------------------
class _Summary:
    def __init__(self, params: UnauthSweepParams, phase: str) -> None:
        self.params, self.phase = params, phase

    def result(
        self, status: Status, explanation: str, observed: Any = None, **evidence: Any
    ) -> CheckResult:
        p = self.params
        expected = " or ".join(map(str, p.expect_status))
        envelope = " with the error envelope" if p.envelope else ""
        return CheckResult(
            id=SUMMARY_ID,
            section=SWEEP_SECTION,
            severity=p.severity,
            status=status,
            title=f"Every secured operation refuses a request without credentials "
            f"({expected}{envelope}; never 2xx or 5xx)",
            observed=observed,
            threshold=_threshold(p),
            explanation=explanation,
            evidence=evidence,
            phase=self.phase,
        )


def sweep(
    params: UnauthSweepParams, target: TargetParams, phase: str = "verify"
) -> list[CheckResult]:
    """Send every secured operation of the target's schema without credentials; one result per
    route group and a summary naming the offenders."""
    summary = _Summary(params, phase)
    if not params.enabled:
        return [
            summary.result(
                Status.SKIP,
                "the unauthenticated sweep is off (verify.unauthenticated.enabled: false)",
            )
        ]
    base = target.base_url.rstrip("/")
    headers = dict(target.headers)  # static headers only: never the token
    with httpx.Client(
        timeout=params.timeout_s, verify=target.verify_tls, follow_redirects=False
    ) as client:
        path = params.schema_path
        got = exchange(client, "GET", base + path, headers=headers)
        if got.status == 404 and params.docs_path:
            found = schema_url_from_docs(client, base + params.docs_path, headers)
            if found:
                path = found
                got = exchange(client, "GET", base + path, headers=headers)
        schema, problem = _schema_of(got, path)
        if schema is None:
            status = Status.ERROR if not got.ok else Status.INCONCLUSIVE
            return [
                summary.result(
                    status,
                    f"the sweep needs the target's OpenAPI schema: {problem}",
                    schema=got.evidence(),
                )
            ]
        operations, chosen_by = select_operations(schema, params)
        if not operations:
            return [
                summary.result(
                    Status.INCONCLUSIVE,
                    f"nothing to sweep: no {'/'.join(params.methods)} operation selected by "
                    f"{chosen_by} (public patterns excluded: {', '.join(params.public) or 'none'})",
                    {"operations": 0, "selected_by": chosen_by},
                    paths=len(schema.get("paths") or {}),
                )
            ]
        swept, not_swept = operations[: params.max_operations], operations[params.max_operations :]

        def send(op: Operation) -> Answer:
            ex = exchange(
                client,
                op.method,
                base + op.url_path,
                headers=headers,
                json_body={} if op.body else None,
            )
            return judge(op, ex, params)

        with ThreadPoolExecutor(max_workers=params.concurrency) as pool:
            answers = list(pool.map(send, swept))
    return [
        *_group_results(answers, params, phase),
        _summary_result(summary, answers, not_swept, chosen_by),
    ]


_SWAGGER_URL = re.compile(r"""\burl\s*:\s*['"](/[^'"]*)['"]""")


def schema_url_from_docs(
    client: httpx.Client, docs_url: str, headers: dict[str, str]
) -> str | None:
    """The schema path the app's own Swagger UI page loads (FastAPI writes `url: '/…json'`),
    or None when the page is not there or names none."""
    page = exchange(client, "GET", docs_url, headers=headers)
    if page.status != 200 or not page.body_text:
        return None
    match = _SWAGGER_URL.search(page.body_text)
    return match.group(1) if match else None


def _schema_of(got: Exchange, path: str) -> tuple[dict[str, Any] | None, str]:
    if not got.ok:
        return None, f"GET {path}: {got.error}"
    if got.status != 200:
        return None, f"GET {path} answered {got.status}"
    if not isinstance(got.json, dict) or not isinstance(got.json.get("paths"), dict):
        return None, f"GET {path} did not return an OpenAPI document (no 'paths')"
    return got.json, ""


def _group_results(
    answers: list[Answer], params: UnauthSweepParams, phase: str
) -> list[CheckResult]:
    groups: dict[str, list[Answer]] = {}
    for answer in answers:
        groups.setdefault(answer.op.group, []).append(answer)
    out, used = [], set()
    for name, members in sorted(groups.items()):
        slug = _SLUG.sub("-", name.lower()).strip("-") or "root"
        while slug in used:
            slug += "-x"
        used.add(slug)
        status = _status_of(members)
        bad = [a.line() for a in members if a.outcome != REFUSED]
        seen = ", ".join(sorted({str(a.status) for a in members}))
        out.append(
            CheckResult(
                id=f"{SUMMARY_ID}.{slug}",
                section=SWEEP_SECTION,
                severity=params.severity,
                status=status,
                phase=phase,
                title=f"{name}: every secured operation refuses a request without credentials",
                observed=_counts(members),
                threshold=_threshold(params),
                explanation=_listing(bad, params.show)
                if bad
                else f"all {len(members)} operation(s) refused ({seen})",
                evidence={"operations": [a.record() for a in members]},
            )
        )
    return out


def _summary_result(
    summary: _Summary, answers: list[Answer], not_swept: list[Operation], chosen_by: str
) -> CheckResult:
    params = summary.params
    status = _status_of(answers)
    offenders = [a for a in answers if a.outcome in OFFENDING]
    unjudged = [a for a in answers if a.outcome in (NO_ANSWER, THROTTLED)]
    observed = {"operations": len(answers), "selected_by": chosen_by, **_counts(answers)}
    parts = []
    if offenders:
        parts.append(
            f"{len(offenders)} of {len(answers)} operation(s) not refused as "
            f"expected: " + _listing([a.line() for a in offenders], params.show)
        )
        if all(a.outcome == NO_ENVELOPE for a in answers):
            parts.append(
                "every refusal lacks the error envelope: for a target without one "
                "set verify.unauthenticated.envelope: null"
            )
    if unjudged:
        parts.append(
            f"{len(unjudged)} not judged: " + _listing([a.line() for a in unjudged], params.show)
        )
    if not_swept:
        observed["not_swept"] = len(not_swept)
        parts.append(
            f"{len(not_swept)} operation(s) beyond max_operations "
            f"({params.max_operations}) not swept"
        )
        if status is Status.PASS:
            status = Status.INCONCLUSIVE
    if not parts:
        parts.append(
            f"all {len(answers)} operation(s) selected by {chosen_by} refused a "
            "request without credentials"
        )
    return summary.result(
        status,
        "; ".join(parts),
        observed,
        offenders=[a.record() for a in offenders],
        unjudged=[a.record() for a in unjudged],
        not_swept=[op.route for op in not_swept],
        swept=[f"{a.op.route} -> {a.status}" for a in answers],
    )


__all__ = [
    "SUMMARY_ID",
    "Operation",
    "UnauthSweepParams",
    "declares_security",
    "judge",
    "placeholder",
    "select_operations",
    "sweep",
]
