"""Resolving a `ServiceUrl` to the URL a client needs, and the masked form results may show.

The full URL (which may carry a password) lives only in `ResolvedUrl.value` (hidden from repr);
results show `shown` (password replaced) and `source` (the secret reference or "inline"), and
pass any error text through `scrub` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from runbook.core.secret_refs import resolve
from runbook.phases.environment.envconfig.masking import PASSWORD_MARK, redact_url_password
from runbook.phases.monitoring.workers.params import ServiceUrl

MIN_SCRUB_LENGTH = 4  # shorter passwords would match ordinary text; the URL itself still goes


@dataclass(frozen=True)
class ResolvedUrl:
    """A usable URL (`value`, never shown) with what may be shown about it."""

    value: str = field(repr=False)
    shown: str
    source: str

    def scrub(self, text: str) -> str:
        """`text` with the URL and its password (raw and decoded) replaced by the mask."""
        out = text.replace(self.value, self.shown)
        try:
            password = urlsplit(self.value).password
        except ValueError:
            password = None
        for form in {password, unquote(password) if password else None}:
            if form and len(form) >= MIN_SCRUB_LENGTH:
                out = out.replace(form, PASSWORD_MARK)
        return out

    def evidence(self) -> dict[str, str]:
        """The JSON-able description of this endpoint for a result's evidence."""
        return {"url": self.shown, "source": self.source}


def resolve_url(service: ServiceUrl) -> ResolvedUrl:
    """The URL of `service`; raises SecretUnavailable (naming the reference) when unset."""
    if service.secret is not None:
        value = resolve(service.secret)
        return ResolvedUrl(value, redact_url_password(value), service.secret.describe())
    assert service.url is not None  # the model guarantees exactly one source
    return ResolvedUrl(service.url, redact_url_password(service.url), "inline")


def describe(service: ServiceUrl) -> str:
    """How the endpoint is configured, without resolving it (for SKIP/ERROR messages)."""
    if service.secret is not None:
        return f"URL from {service.secret.describe()}"
    return redact_url_password(service.url or "")
