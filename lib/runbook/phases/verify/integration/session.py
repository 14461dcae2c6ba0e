"""Integration checks against one target: frontend and CORS, job processing, rate limiting,
file upload/download, Redis health and dataset export. Each check makes its own test data
and removes it; what it could not remove is reported as a `.cleanup` result.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import time
import zipfile
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import httpx

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.json_path import MISSING, lookup
from runbook.core.secret_refs import SecretRef, SecretUnavailable, resolve
from runbook.core.target import TargetParams
from runbook.phases.verify.integration.params import (
    FILE_NAME,
    INTEGRATION_SECTION,
    NOTIFICATIONS_SECTION,
    RUN_ID,
    CheckToggle,
    IntegrationParams,
    JobProcessingParams,
    Step,
)
from runbook.phases.verify.smoke import RequestSpec, fill, missing_token
from runbook.providers.http import Exchange, exchange

_CORS_HEADERS = ("access-control-", "vary")
_SAME_ORIGIN_GET = RequestSpec.model_validate({"path": "/"})  # with the token; url given apart


def _origin(url: str) -> tuple[str, str, int | None]:
    u = httpx.URL(url)
    return u.scheme, u.host, u.port


@dataclass
class _Sent:
    """One request of a check: its record, and the response bytes when one came back."""

    ex: Exchange | None
    error: str | None = None  # why it was not sent, or the transport failure
    body: bytes = b""

    @property
    def status(self) -> int | None:
        return None if self.ex is None else self.ex.status

    def evidence(self, binary: bool = False) -> dict[str, Any]:
        if self.ex is None:
            return {"error": self.error}
        ev = self.ex.evidence()
        if ev["response"] is not None:
            ev["response"]["headers"].update(
                {
                    k: v
                    for k, v in self.ex.response_headers.items()
                    if k.lower().startswith(_CORS_HEADERS)
                }
            )
            if binary:
                ev["response"]["body_excerpt"] = (
                    f"<{len(self.body)} bytes, sha256 {hashlib.sha256(self.body).hexdigest()}>"
                )
        return ev


@dataclass
class _Cleanups:
    """Requests that undo what a check created, with the captures they need."""

    pending: list[tuple[str, RequestSpec]] = field(default_factory=list)

    def add(self, what: str, spec: RequestSpec | None) -> None:
        if spec is not None:
            self.pending.append((what, spec))


class IntegrationSession:
    """Runs the configured integration checks against one target (one method per box)."""

    def __init__(self, params: IntegrationParams, target: TargetParams, phase: str = "verify"):
        self.params = params
        self.target = target
        self.phase = phase
        self.run_id = secrets.token_hex(4)
        self._clients: dict[float, httpx.Client] = {}
        self._last: httpx.Response | None = None

    # -- the checks -------------------------------------------------------------------------
    def frontend(self) -> list[CheckResult]:
        """The frontend page answers; CORS preflights accept allowed origins, refuse foreign."""
        return [self._frontend_page(), *self._cors()]

    def job_processing(self) -> list[CheckResult]:
        """A job created on a fresh dataset reaches a done status within wait_s."""
        p = self.params.jobs
        if not p.enabled:
            return [self._skipped("integration.jobs", "Celery workers process jobs", p)]
        captures, cleanups = self._captures(), _Cleanups()

        def result(status: Status, why: str, observed: Any = None, **ev: Any) -> CheckResult:
            return self._result(
                "integration.jobs",
                "Celery workers process jobs (a crawl job runs to completion)",
                p,
                status,
                why,
                observed,
                {"wait_s": p.wait_s, "done": p.done_values},
                ev,
            )

        no_token = self._no_token(
            [
                *self.params.test_data,
                p.create,
                p.poll,
                *([p.notification.request] if p.notification.enabled else []),
            ]
        )
        if no_token:
            return [result(Status.INCONCLUSIVE, f"not attempted: {no_token}")]
        out: list[CheckResult] = []
        setup, problem = self._setup(captures, cleanups)
        if problem:
            out.append(
                result(Status.ERROR, f"could not create the test data: {problem}", test_data=setup)
            )
        else:
            created, problem, failed = self._step(p.create, captures, cleanups, p.timeout_s)
            if problem:
                out.append(
                    result(
                        Status.FAIL if failed else Status.ERROR,
                        f"creating the job: {problem}",
                        test_data=setup,
                        create=created.evidence(),
                    )
                )
            else:
                out.append(
                    self._poll_outcome(
                        result,
                        p.poll,
                        captures,
                        p.status_key,
                        p.done_values,
                        p.failed_values,
                        p.wait_s,
                        p.interval_s,
                        p.timeout_s,
                        "job",
                        test_data=setup,
                        create=created.evidence(),
                    )
                )
        if p.notification.enabled:
            out.append(self._notification(p, captures, out[-1]))
        out.append(self._cleanup("integration.jobs.cleanup", p, cleanups, captures))
        return out

    def _notification(
        self, p: JobProcessingParams, captures: dict[str, Any], job: CheckResult
    ) -> CheckResult:
        """ "Notifications delivered": the completed job's entry appears in the list."""
        n = p.notification
        problem: str | None = None
        try:
            wanted = {k: fill(v, captures) for k, v in n.match.items()}
        except KeyError as exc:
            wanted, problem = {}, f"the match needs {exc.args[0]!r}, which nothing captured"

        def result(status: Status, why: str, observed: Any = None, **ev: Any) -> CheckResult:
            return CheckResult(
                id="integration.notifications",
                section=NOTIFICATIONS_SECTION,
                title="Notifications delivered (the completed job's notification reaches the list)",
                severity=n.severity,
                status=status,
                phase=self.phase,
                observed=observed,
                threshold={"match": _jsonable(wanted), "wait_s": n.wait_s},
                explanation=why,
                evidence={
                    "target": self.target.base_url,
                    "run_id": self.run_id,
                    "list": n.request.path,
                    **ev,
                },
            )

        if job.status != Status.PASS:
            return result(
                Status.ERROR if job.status is Status.ERROR else Status.INCONCLUSIVE,
                "not looked for: the job did not complete "
                f"({job.status.value}: {job.explanation}), so nothing had to notify",
            )
        if problem:
            return result(Status.ERROR, problem)
        started = time.perf_counter()
        deadline = started + n.wait_s
        reads, last_problem, seen = 0, "", 0
        while True:
            sent = self._send(n.request, captures, p.timeout_s)
            reads += 1
            if sent.ex is None or not sent.ex.ok:
                last_problem = str(sent.error)
            elif sent.status != 200:
                last_problem = f"{n.request.method} {n.request.path} answered {sent.status}"
            else:
                items = lookup(sent.ex.json, n.items_key)
                if not isinstance(items, list):
                    last_problem = f"'{n.items_key}' is not a list in the answer"
                else:
                    seen = len(items)
                    hit = next(
                        (i for i in items if all(lookup(i, k) == v for k, v in wanted.items())),
                        None,
                    )
                    if hit is not None:
                        elapsed = round(time.perf_counter() - started, 3)
                        return result(
                            Status.PASS,
                            f"the job's notification was listed after "
                            f"{elapsed} s ({reads} read(s))",
                            {"elapsed_s": elapsed, "reads": reads},
                            notification=_jsonable(hit),
                        )
                    last_problem = f"none of the {seen} listed notification(s) matches"
            if time.perf_counter() + n.interval_s > deadline:
                break
            time.sleep(n.interval_s)
        elapsed = round(time.perf_counter() - started, 3)
        status = Status.FAIL if last_problem.startswith("none of") else Status.ERROR
        return result(
            status,
            f"no notification of the completed job within {n.wait_s:g} s: {last_problem}",
            {"elapsed_s": elapsed, "reads": reads, "listed": seen},
            last_read=sent.evidence(),
        )

    def rate_limiting(self) -> list[CheckResult]:
        """A bounded burst to the configured route gets a 429 with Retry-After."""
        p = self.params.rate_limit
        title = "Rate limiting works (a burst is answered 429 with Retry-After)"
        if not p.enabled:
            return [self._skipped("integration.rate-limit", title, p)]
        threshold = {
            "status": p.limited_status,
            "within_requests": p.max_requests,
            "within_s": p.max_seconds,
            **({"header": p.retry_after_header} if p.require_retry_after else {}),
        }

        def result(status: Status, why: str, observed: Any = None, **ev: Any) -> CheckResult:
            return self._result(
                "integration.rate-limit", title, p, status, why, observed, threshold, ev
            )

        no_token = self._no_token([p.request], p.token)
        if no_token:
            return [result(Status.INCONCLUSIVE, f"not attempted: {no_token}")]
        headers = self._headers(p.request)
        if p.request.auth:
            try:
                headers["Authorization"] = f"Bearer {resolve(p.token or self.target.token)}"
            except SecretUnavailable as exc:
                return [result(Status.ERROR, str(exc))]
        try:
            path = fill(p.request.path, self._captures())
            body = fill(p.request.json_body, self._captures())
        except KeyError as exc:
            return [result(Status.ERROR, f"the request needs {exc.args[0]!r}")]
        url = self._url(path)
        transport = httpx.HTTPTransport(
            local_address=p.source_address, verify=self.target.verify_tls
        )
        counts: dict[str, int] = {}
        first: Exchange | None = None
        limited: Exchange | None = None
        last: Exchange | None = None
        sent = 0
        started = time.perf_counter()
        with httpx.Client(
            transport=transport,
            timeout=p.timeout_s or self.target.timeout_s,
            follow_redirects=False,
        ) as client:
            while sent < p.max_requests and time.perf_counter() - started < p.max_seconds:
                last = exchange(client, p.request.method, url, headers=headers, json_body=body)
                sent += 1
                first = first or last
                key = str(last.status) if last.ok else "error"
                counts[key] = counts.get(key, 0) + 1
                if not last.ok or last.status == p.limited_status:
                    limited = last if last.ok else None
                    break
        elapsed = round(time.perf_counter() - started, 3)
        observed: dict[str, Any] = {"requests": sent, "elapsed_s": elapsed, "statuses": counts}
        evidence: dict[str, Any] = {
            "client": {
                "auth": p.request.auth,
                "token": (p.token or self.target.token).describe() if p.request.auth else None,
                "source_address": p.source_address,
            },
            "first": first.evidence() if first else None,
            "last": last.evidence() if last else None,
        }
        if limited is not None:
            retry_after = _header(limited, p.retry_after_header)
            observed |= {"limited_at_request": sent, "retry_after": retry_after}
            if retry_after is None and p.require_retry_after:
                return [
                    result(
                        Status.FAIL,
                        f"request {sent} was answered {p.limited_status} but "
                        f"without a {p.retry_after_header} header",
                        observed,
                        **evidence,
                    )
                ]
            return [
                result(
                    Status.PASS,
                    f"request {sent} of the burst was answered "
                    f"{p.limited_status} ({p.retry_after_header}: {retry_after})",
                    observed,
                    **evidence,
                )
            ]
        if last is not None and not last.ok:
            return [
                result(
                    Status.ERROR,
                    f"the burst broke off at request {sent}: {last.error}",
                    observed,
                    **evidence,
                )
            ]
        if not any(k.startswith("2") for k in counts):
            return [
                result(
                    Status.ERROR,
                    f"no request of the burst was answered 2xx ({counts}): "
                    "the route or the client identity is wrong, nothing is proven",
                    observed,
                    **evidence,
                )
            ]
        return [
            result(
                Status.FAIL,
                f"no {p.limited_status} in {sent} requests over {elapsed} s ({counts})",
                observed,
                **evidence,
            )
        ]

    def file_transfer(self) -> list[CheckResult]:
        """Random bytes uploaded, downloaded back identical (sha256), then deleted."""
        p = self.params.files
        up_title, down_title = "File uploads work", "File downloads work (same sha256)"
        if not p.enabled:
            return [
                self._skipped("integration.files.upload", up_title, p),
                self._skipped("integration.files.download", down_title, p),
            ]
        no_token = self._no_token([p.upload, p.download])
        if no_token:
            return [
                self._result(
                    check_id,
                    title,
                    p,
                    Status.INCONCLUSIVE,
                    f"not attempted: {no_token}",
                    None,
                    None,
                    {},
                )
                for check_id, title in (
                    ("integration.files.upload", up_title),
                    ("integration.files.download", down_title),
                )
            ]
        captures, cleanups = self._captures(), _Cleanups()
        captures[FILE_NAME] = fill(p.name, captures)
        data = os.urandom(p.size_bytes)
        digest = hashlib.sha256(data).hexdigest()
        sent_meta = {"name": captures[FILE_NAME], "size": len(data), "sha256": digest}
        if p.encoding == "raw":
            content, ctype = data, p.content_type
        else:
            request = httpx.Request(
                p.upload.method,
                "http://multipart.invalid/",
                files={p.multipart_field: (captures[FILE_NAME], data, p.content_type)},
            )
            content, ctype = request.read(), request.headers["content-type"]

        upload, problem, failed = self._step(
            p.upload, captures, cleanups, p.timeout_s, content=content, content_type=ctype
        )
        threshold = {"status": p.upload.expect_status}
        out = [
            self._result(
                "integration.files.upload",
                up_title,
                p,
                Status.PASS if not problem else Status.FAIL if failed else Status.ERROR,
                problem or f"{len(data)} random bytes uploaded ({upload.status})",
                {"status": upload.status, "bytes": len(data)},
                threshold,
                {"sent": sent_meta, "upload": upload.evidence()},
            )
        ]
        if problem:
            out.append(
                self._result(
                    "integration.files.download",
                    down_title,
                    p,
                    Status.ERROR,
                    "not attempted: the upload did not succeed",
                    None,
                    None,
                    {"sent": sent_meta},
                )
            )
        else:
            got, problem, failed = self._step(p.download, captures, cleanups, p.timeout_s)
            got_digest = hashlib.sha256(got.body).hexdigest() if got.ex and got.ex.ok else None
            observed = {"status": got.status, "bytes": len(got.body), "sha256": got_digest}
            if problem:
                status, why = (Status.FAIL if failed else Status.ERROR), problem
            elif got_digest != digest:
                status, why = (
                    Status.FAIL,
                    (
                        f"downloaded {len(got.body)} bytes with sha256 "
                        f"{got_digest}, uploaded {len(data)} with {digest}"
                    ),
                )
            else:
                status, why = Status.PASS, f"downloaded {len(got.body)} bytes, sha256 identical"
            out.append(
                self._result(
                    "integration.files.download",
                    down_title,
                    p,
                    status,
                    why,
                    observed,
                    {"status": p.download.expect_status, "sha256": digest},
                    {"sent": sent_meta, "download": got.evidence(binary=True)},
                )
            )
        out.append(self._cleanup("integration.files.cleanup", p, cleanups, captures))
        return out

    def cache(self) -> list[CheckResult]:
        """The detailed health reports Redis with a healthy status."""
        p = self.params.cache
        title = "Redis caching works (Redis reported healthy)"
        if not p.enabled:
            return [self._skipped("integration.redis", title, p)]
        no_token = self._no_token([p.request])
        if no_token:
            return [
                self._result(
                    "integration.redis",
                    title,
                    p,
                    Status.INCONCLUSIVE,
                    f"not attempted: {no_token}",
                    None,
                    None,
                    {},
                )
            ]
        sent = self._send(p.request, self._captures(), p.timeout_s)
        threshold = {"status": p.expect_status, p.status_key: p.healthy_values}
        value = lookup(sent.ex.json, p.status_key) if sent.ex and sent.ex.ok else MISSING
        observed = {"status": sent.status, p.status_key: None if value is MISSING else value}
        if sent.ex is None or not sent.ex.ok:
            status, why = Status.ERROR, f"{p.request.path}: {sent.error}"
        elif value is not MISSING and value not in p.healthy_values:
            status, why = Status.FAIL, f"'{p.status_key}' is {value!r}"
        elif sent.status not in p.expect_status:
            status, why = Status.FAIL, f"{p.request.path} answered {sent.status}"
        elif value is MISSING:
            status, why = Status.ERROR, f"'{p.status_key}' is missing from the response"
        else:
            status, why = Status.PASS, f"'{p.status_key}' is {value!r}"
        return [
            self._result(
                "integration.redis",
                title,
                p,
                status,
                why,
                observed,
                threshold,
                {"health": sent.evidence()},
            )
        ]

    def export(self) -> list[CheckResult]:
        """A fresh dataset is exported; the archive downloads and holds the expected manifest."""
        p = self.params.export
        title = "Export functionality works (dataset exported, archive valid)"
        if not p.enabled:
            return [self._skipped("integration.export", title, p)]
        captures, cleanups = self._captures(), _Cleanups()
        threshold = {
            "format": p.expect_format,
            "members": p.required_members,
            "manifest": p.manifest_expect,
            "wait_s": p.wait_s,
        }

        def result(status: Status, why: str, observed: Any = None, **ev: Any) -> CheckResult:
            return self._result(
                "integration.export", title, p, status, why, observed, threshold, ev
            )

        later = [r for r in (p.poll, p.download) if r is not None]
        no_token = self._no_token([*self.params.test_data, p.create, *later])
        if no_token:
            return [result(Status.INCONCLUSIVE, f"not attempted: {no_token}")]
        out: list[CheckResult] = []
        setup, problem = self._setup(captures, cleanups)
        if problem:
            out.append(
                result(Status.ERROR, f"could not create the test data: {problem}", test_data=setup)
            )
        else:
            out.append(self._export_outcome(result, captures, cleanups, setup=setup))
        out.append(self._cleanup("integration.export.cleanup", p, cleanups, captures))
        return out

    def run_all(self) -> list[CheckResult]:
        """Every check in checklist order, the rate-limit burst last (it may exhaust a quota)."""
        return [
            *self.frontend(),
            *self.job_processing(),
            *self.cache(),
            *self.file_transfer(),
            *self.export(),
            *self.rate_limiting(),
        ]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- frontend and CORS ------------------------------------------------------------------
    def _frontend_page(self) -> CheckResult:
        p = self.params.frontend
        title = "Frontend integration works (the frontend answers)"
        if not p.enabled:
            return self._skipped("integration.frontend", title, p)
        url = p.url or self._url(p.path)
        headers = {} if p.url else dict(self.target.headers)
        sent = self._raw("GET", url, headers, p.timeout_s)
        ctype = sent.ex.response_headers.get("content-type", "") if sent.ex else ""
        observed = {"status": sent.status, "content_type": ctype or None}
        problems = []
        if sent.ex is not None and sent.ex.ok:
            if sent.status not in p.expect_status:
                problems.append(f"answered {sent.status}")
            if p.expect_content_type and p.expect_content_type not in ctype:
                problems.append(f"content type {ctype!r}, expected {p.expect_content_type!r}")
            if p.expect_text and p.expect_text not in sent.ex.body_text:
                problems.append(f"the page does not contain {p.expect_text!r}")
        if sent.ex is None or not sent.ex.ok:
            status, why = Status.ERROR, f"GET {url}: {sent.error}"
        elif problems:
            status, why = Status.FAIL, f"GET {url}: " + "; ".join(problems)
        else:
            status, why = Status.PASS, f"GET {url} answered {sent.status} ({ctype})"
        return self._result(
            "integration.frontend",
            title,
            p,
            status,
            why,
            observed,
            {
                "status": p.expect_status,
                "content_type": p.expect_content_type,
                "text": p.expect_text,
            },
            {"page": sent.evidence()},
        )

    def _cors(self) -> list[CheckResult]:
        p = self.params.cors
        allowed_title = "Frontend integration works (CORS preflight from each allowed origin)"
        foreign_title = "Frontend integration works (CORS preflight from a foreign origin refused)"
        if not p.enabled:
            return [
                self._skipped("integration.cors.allowed", allowed_title, p),
                self._skipped("integration.cors.foreign", foreign_title, p),
            ]
        url = self._url(p.path)

        def preflight(origin: str) -> tuple[_Sent, str | None]:
            headers = dict(self.target.headers) | {
                "Origin": origin,
                "Access-Control-Request-Method": p.request_method,
            }
            if p.request_headers:
                headers["Access-Control-Request-Headers"] = ",".join(p.request_headers)
            sent = self._raw("OPTIONS", url, headers, p.timeout_s)
            return sent, _header(sent.ex, "access-control-allow-origin") if sent.ex else None

        allowed = {}
        errors, refused = [], []
        for origin in p.allowed_origins:
            sent, acao = preflight(origin)
            allowed[origin] = {
                "status": sent.status,
                "allow_origin": acao,
                "exchange": sent.evidence(),
            }
            if sent.ex is None or not sent.ex.ok:
                errors.append(f"{origin}: {sent.error}")
            elif not (sent.status is not None and 200 <= sent.status < 300) or not (
                acao == origin or (acao == "*" and p.allow_wildcard)
            ):
                refused.append(
                    f"{origin}: answered {sent.status} with Access-Control-Allow-Origin {acao!r}"
                )
        observed = {
            o: {"status": v["status"], "allow_origin": v["allow_origin"]}
            for o, v in allowed.items()
        }
        threshold = {"path": p.path, "method": p.request_method, "echoed": p.allowed_origins}
        if errors:
            status, why = Status.ERROR, "; ".join(errors)
        elif refused:
            status, why = Status.FAIL, "refused: " + "; ".join(refused)
        else:
            status, why = (
                Status.PASS,
                (
                    f"{len(p.allowed_origins)} allowed origin(s) echoed "
                    f"in Access-Control-Allow-Origin for {p.path}"
                ),
            )
        out = [
            self._result(
                "integration.cors.allowed",
                allowed_title,
                p,
                status,
                why,
                observed,
                threshold,
                {"preflights": allowed},
            )
        ]

        foreign, f_errors, accepted = {}, [], []
        for origin in p.foreign_origins:
            sent, acao = preflight(origin)
            foreign[origin] = {
                "status": sent.status,
                "allow_origin": acao,
                "exchange": sent.evidence(),
            }
            if sent.ex is None or not sent.ex.ok:
                f_errors.append(f"{origin}: {sent.error}")
            elif acao is not None and acao in (origin, "*"):
                accepted.append(f"{origin}: Access-Control-Allow-Origin {acao!r}")
            elif sent.status is not None and (sent.status >= 500 or sent.status == 429):
                f_errors.append(f"{origin}: answered {sent.status}, not a CORS decision")
        f_observed = {
            o: {"status": v["status"], "allow_origin": v["allow_origin"]}
            for o, v in foreign.items()
        }
        if f_errors:
            f_status, f_why = Status.ERROR, "; ".join(f_errors)
        elif accepted:
            f_status, f_why = Status.FAIL, "a foreign origin is allowed: " + "; ".join(accepted)
        elif len(refused) + len(errors) == len(p.allowed_origins):
            f_status, f_why = (
                Status.INCONCLUSIVE,
                (
                    "refused, but no allowed origin was accepted "
                    "either, so the refusal proves nothing"
                ),
            )
        else:
            f_status, f_why = (
                Status.PASS,
                (
                    f"{len(p.foreign_origins)} foreign origin(s) got no "
                    "matching Access-Control-Allow-Origin"
                ),
            )
        out.append(
            self._result(
                "integration.cors.foreign",
                foreign_title,
                p,
                f_status,
                f_why,
                f_observed,
                {"path": p.path, "refused": p.foreign_origins},
                {"preflights": foreign},
            )
        )
        return out

    # -- export -----------------------------------------------------------------------------
    def _export_outcome(
        self, result: Any, captures: dict[str, Any], cleanups: _Cleanups, **ev: Any
    ) -> CheckResult:
        p = self.params.export
        created, problem, failed = self._step(p.create, captures, cleanups, p.timeout_s)
        ev["create"] = created.evidence()
        if problem:
            return result(
                Status.FAIL if failed else Status.ERROR, f"starting the export: {problem}", **ev
            )
        status_json = created.ex.json if created.ex else None
        if p.poll is not None and p.status_key is not None:
            polled = self._poll_outcome(
                result,
                p.poll,
                captures,
                p.status_key,
                p.done_values,
                p.failed_values,
                p.wait_s,
                p.interval_s,
                p.timeout_s,
                "export",
                **ev,
            )
            if polled.status is not Status.PASS:
                return polled
            ev |= {k: v for k, v in polled.evidence.items() if k not in ("target", "run_id")}
            status_json = polled.evidence.get("last_json")
        if p.download_url_key is not None:
            link = lookup(status_json, p.download_url_key)
            if link is MISSING or not isinstance(link, str) or not link:
                return result(
                    Status.FAIL,
                    f"no download URL at '{p.download_url_key}' in the export's status",
                    **ev,
                )
            url = link if link.startswith(("http://", "https://")) else self._url(link)
            if not url.startswith(("http://", "https://")) or any(c.isspace() for c in url):
                return result(Status.FAIL, f"download URL {link!r} is not an http(s) URL", **ev)
            if _origin(url) == _origin(self.target.base_url):  # the token stays on the API
                got = self._send(_SAME_ORIGIN_GET, captures, p.timeout_s, url=url)
            else:
                got = self._raw("GET", url, {}, p.timeout_s)
        else:
            assert p.download is not None
            got = self._send(p.download, captures, p.timeout_s)
        ev["download"] = got.evidence(binary=True)
        if got.ex is None or not got.ex.ok:
            return result(Status.ERROR, f"downloading the export: {got.error}", **ev)
        if got.status != 200:
            return result(Status.FAIL, f"downloading the export answered {got.status}", **ev)
        problems, observed = _validate_archive(
            got.body,
            p.expect_format,
            p.min_bytes,
            p.required_members,
            p.manifest_member,
            fill(p.manifest_expect, captures),
        )
        if problems:
            return result(Status.FAIL, "; ".join(problems), observed, **ev)
        return result(
            Status.PASS,
            f"{observed['bytes']} bytes downloaded, {p.expect_format} archive as expected",
            observed,
            **ev,
        )

    # -- building blocks --------------------------------------------------------------------
    def _no_token(self, specs: list[Any], token: SecretRef | None = None) -> str | None:
        """Why a check cannot run: one of its requests (or cleanups) needs the test user's
        token and it is not set; None otherwise."""
        needs = any(
            spec.auth or (getattr(spec, "cleanup", None) is not None and spec.cleanup.auth)
            for spec in specs
        )
        return missing_token(token or self.target.token) if needs else None

    def _captures(self) -> dict[str, Any]:
        return {RUN_ID: self.run_id}

    def _client(self, timeout: float | None) -> httpx.Client:
        t = timeout or self.target.timeout_s
        if t not in self._clients:
            self._clients[t] = httpx.Client(
                timeout=t,
                verify=self.target.verify_tls,
                follow_redirects=False,
                event_hooks={"response": [self._keep]},
            )
        return self._clients[t]

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        self._last = response

    def _url(self, path: str) -> str:
        return self.target.base_url.rstrip("/") + path

    def _headers(self, spec: RequestSpec) -> dict[str, str]:
        return dict(self.target.headers) | dict(spec.headers)

    def _raw(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        timeout: float | None,
        content: bytes | None = None,
    ) -> _Sent:
        self._last = None
        ex = exchange(self._client(timeout), method, url, headers=headers, content=content)
        body = self._last.content if (ex.ok and self._last is not None) else b""
        return _Sent(ex, ex.error, body)

    def _send(
        self,
        spec: RequestSpec,
        captures: dict[str, Any],
        timeout: float | None,
        *,
        url: str | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
        token: SecretRef | None = None,
    ) -> _Sent:
        headers = self._headers(spec)
        if content_type:
            headers["Content-Type"] = content_type
        if spec.auth:
            try:
                headers["Authorization"] = f"Bearer {resolve(token or self.target.token)}"
            except SecretUnavailable as exc:
                return _Sent(None, str(exc))
        try:
            target_url = url or self._url(fill(spec.path, captures))
            body = fill(spec.json_body, captures)
        except KeyError as exc:
            return _Sent(None, f"needs {exc.args[0]!r}, which nothing captured")
        self._last = None
        ex = exchange(
            self._client(timeout),
            spec.method,
            target_url,
            headers=headers,
            json_body=body,
            content=content,
        )
        data = self._last.content if (ex.ok and self._last is not None) else b""
        return _Sent(ex, ex.error, data)

    def _step(
        self,
        step: Step,
        captures: dict[str, Any],
        cleanups: _Cleanups,
        timeout: float | None,
        **send: Any,
    ) -> tuple[_Sent, str | None, bool]:
        """Send a step; returns (sent, problem, the target refused it) and keeps captures."""
        sent = self._send(step, captures, timeout, **send)
        where = f"{step.method} {step.path}"
        if sent.ex is None or not sent.ex.ok:
            return sent, f"{where}: {sent.error}", False
        if sent.status not in step.expect_status:
            detail = lookup(sent.ex.json, "error.message")
            why = f" ({detail})" if detail is not MISSING else ""
            return (
                sent,
                (
                    f"{where} answered {sent.status}{why}, expected "
                    f"{' or '.join(map(str, step.expect_status))}"
                ),
                True,
            )
        missing = [k for k in step.capture.values() if lookup(sent.ex.json, k) is MISSING]
        if missing:
            return sent, f"{where}: {missing} missing from the response", True
        for name, key in step.capture.items():
            captures[name] = lookup(sent.ex.json, key)
        cleanups.add(where, step.cleanup)
        return sent, None, False

    def _setup(
        self, captures: dict[str, Any], cleanups: _Cleanups
    ) -> tuple[list[dict[str, Any]], str | None]:
        records = []
        for step in self.params.test_data:
            sent, problem, _ = self._step(step, captures, cleanups, None)
            records.append(sent.evidence())
            if problem:
                return records, problem
        return records, None

    def _poll_outcome(
        self,
        result: Any,
        poll: RequestSpec,
        captures: dict[str, Any],
        key: str,
        done: list[Any],
        failed: list[Any],
        wait_s: float,
        interval_s: float,
        timeout: float | None,
        what: str,
        **ev: Any,
    ) -> CheckResult:
        started = time.perf_counter()
        deadline = started + wait_s
        seen: list[dict[str, Any]] = []
        last_value: Any = MISSING
        last_problem = "no poll was answered"
        last: _Sent | None = None
        polls = 0
        while True:
            last = self._send(poll, captures, timeout)
            polls += 1
            at = round(time.perf_counter() - started, 3)
            value = MISSING
            if last.ex is None or not last.ex.ok:
                last_problem = str(last.error)
            elif last.status != 200:
                last_problem = f"{poll.method} {poll.path} answered {last.status}"
            else:
                value = lookup(last.ex.json, key)
                if value is MISSING:
                    last_problem = f"'{key}' missing from the {what}'s JSON"
                else:
                    last_value = value
                    if not seen or seen[-1]["value"] != value:
                        seen.append({"at_s": at, "value": value})
            if value is not MISSING and (value in done or value in failed):
                break
            if time.perf_counter() + interval_s > deadline:
                break
            time.sleep(interval_s)
        elapsed = round(time.perf_counter() - started, 3)
        evidence = {
            **ev,
            "polls": polls,
            "transitions": seen,
            "last_poll": last.evidence() if last else None,
            "last_json": last.ex.json if last and last.ex else None,
        }
        observed = {
            "status": None if last_value is MISSING else last_value,
            "elapsed_s": elapsed,
            "polls": polls,
        }
        if last_value is not MISSING and last_value in done:
            return result(
                Status.PASS,
                f"the {what} reached {last_value!r} in {elapsed} s",
                observed,
                **evidence,
            )
        if last_value is not MISSING and last_value in failed:
            return result(
                Status.FAIL,
                f"the {what} ended {last_value!r} after {elapsed} s",
                observed,
                **evidence,
            )
        if last_value is MISSING:
            return result(
                Status.ERROR,
                f"no {what} status within {wait_s:g} s: {last_problem}",
                observed,
                **evidence,
            )
        tail = "" if value is not MISSING else f"; the last poll: {last_problem}"
        return result(
            Status.FAIL,
            f"the {what} is still {last_value!r} after {elapsed} s "
            f"(waited up to {wait_s:g} s){tail}",
            observed,
            **evidence,
        )

    def _cleanup(
        self, check_id: str, p: CheckToggle, cleanups: _Cleanups, captures: dict[str, Any]
    ) -> CheckResult:
        records, failures = [], []
        while cleanups.pending:
            what, spec = cleanups.pending.pop()
            sent = self._send(spec, captures, p.timeout_s)
            records.append({"undoes": what, **sent.evidence()})
            if sent.ex is None or not sent.ex.ok:
                failures.append(f"{spec.method} {spec.path}: {sent.error}")
            elif sent.status is not None and sent.status >= 400 and sent.status != 404:
                failures.append(f"{spec.method} {spec.path}: answered {sent.status}")
        return CheckResult(
            id=check_id,
            section=p.section,
            title="Test data created by the check is removed",
            severity=Severity.WARNING,
            status=Status.FAIL if failures else Status.PASS,
            phase=self.phase,
            observed={"cleaned": len(records), "failed": len(failures)},
            threshold={"failed": 0},
            explanation="; ".join(failures)
            if failures
            else f"{len(records)} cleanup request(s) succeeded",
            evidence={"requests": records, "captures": _jsonable(captures)},
        )

    def _result(
        self,
        check_id: str,
        title: str,
        p: CheckToggle,
        status: Status,
        why: str,
        observed: Any,
        threshold: Any,
        evidence: dict[str, Any],
    ) -> CheckResult:
        return CheckResult(
            id=check_id,
            section=p.section,
            title=title,
            severity=p.severity,
            status=status,
            phase=self.phase,
            observed=observed,
            threshold=threshold,
            explanation=why,
            evidence={"target": self.target.base_url, "run_id": self.run_id, **evidence},
        )

    def _skipped(self, check_id: str, title: str, p: CheckToggle) -> CheckResult:
        return CheckResult(
            id=check_id,
            section=p.section,
            title=title,
            severity=p.severity,
            status=Status.SKIP,
            phase=self.phase,
            explanation="disabled in the parameters (enabled: false)",
        )


def _header(ex: Exchange | None, name: str) -> str | None:
    if ex is None:
        return None
    wanted = name.lower()
    return next((v for k, v in ex.response_headers.items() if k.lower() == wanted), None)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _validate_archive(
    body: bytes,
    fmt: str,
    min_bytes: int,
    members: list[str],
    manifest_member: str | None,
    expect: dict[str, Any],
) -> tuple[list[str], dict[str, Any]]:
    """Problems with an exported archive (empty list = valid), and what was observed."""
    observed: dict[str, Any] = {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    if len(body) < min_bytes:
        return [f"{len(body)} bytes, expected at least {min_bytes}"], observed
    document: Any = MISSING
    if fmt == "zip":
        if not zipfile.is_zipfile(io.BytesIO(body)):
            return ["the download is not a zip archive"], observed
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            names = archive.namelist()
            observed["members"] = names[:50]
            broken = archive.testzip()
            if broken is not None:
                return [f"member {broken!r} is corrupt"], observed
            absent = [m for m in members if m not in names]
            if absent:
                return [f"members {absent} missing from the archive"], observed
            if manifest_member is not None:
                if manifest_member not in names:
                    return [f"{manifest_member} missing from the archive"], observed
                try:
                    document = json.loads(archive.read(manifest_member))
                except ValueError as exc:
                    return [f"{manifest_member} is not JSON ({exc})"], observed
    elif fmt == "json":
        try:
            document = json.loads(body)
        except ValueError as exc:
            return [f"the download is not JSON ({exc})"], observed
    problems = []
    if document is not MISSING:
        for key, wanted in expect.items():
            got = lookup(document, key)
            observed.setdefault("manifest", {})[key] = None if got is MISSING else got
            if got is MISSING:
                problems.append(f"manifest '{key}' missing")
            elif got != wanted:
                problems.append(f"manifest '{key}' is {got!r}, expected {wanted!r}")
    return problems, observed


__all__ = ["INTEGRATION_SECTION", "IntegrationSession"]
