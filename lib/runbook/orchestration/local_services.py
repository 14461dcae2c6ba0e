"""Where local stand-ins plug into a run. Parameters with a `rehearsal` section are handed to the
provider registered under the entry-point group `pixcrawler_runbook.local_services` (the
rehearsal distribution, installed beside the product in the checkout), which starts what the
section asks for and returns parameters pointing at it. Real environments have no such
section, so nothing starts and nothing of the rehearsal is imported."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol

from runbook.core.parameters import ParameterError, Parameters

ENTRY_POINT_GROUP = "pixcrawler_runbook.local_services"

Say = Callable[[str], None]


class StartedServices(Protocol):
    """What a provider started for one run."""

    started: list[str]

    def save_evidence(self, run_dir: Path) -> None:
        """Write what the services observed (e.g. the requests a sandbox answered)."""


class LocalServicesProvider(Protocol):
    """The one interface the rehearsal implements."""

    def validate(self, params: Parameters) -> list[str]:
        """Problems with the `rehearsal` section (empty: valid); starts nothing."""

    def provides(self, params: Parameters) -> set[str]:
        """The parameter paths `start` will replace (e.g. "target", "pre_deployment.repo"), so
        validation does not judge what the run will not use."""

    def export_secrets(self, params: Parameters) -> None:
        """Export the tokens the kernels and the stand-ins share, before either starts."""

    def start(
        self, params: Parameters, stack: ExitStack, say: Say, uses: set[str] | None
    ) -> tuple[Parameters, StartedServices]:
        """Start what the section asks for (stopped when `stack` closes); return parameters
        re-pointed at the services. `uses`: the phases' needs (None: everything)."""

    def command(self, argv: list[str], prog: str) -> int:
        """`runbook sandbox …`: the provider's own command line."""


def installed_provider() -> LocalServicesProvider | None:
    """The registered provider, or None when no rehearsal is installed."""
    found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    if not found:
        return None
    factory = found[0].load()
    provider: LocalServicesProvider = factory()
    return provider


def provider_for(params: Parameters) -> LocalServicesProvider | None:
    """The provider for parameters that ask for local services; None when they ask for none.
    ParameterError when they ask but no provider is installed."""
    if params.rehearsal is None:
        return None
    provider = installed_provider()
    if provider is None:
        raise ParameterError(
            [
                "key 'rehearsal': this environment rehearses against local stand-ins, which come "
                "from the rehearsal package (pixcrawler-runbook-rehearsal); it is installed in the "
                "runbook's own checkout by `uv sync`, not with the product alone"
            ]
        )
    return provider
