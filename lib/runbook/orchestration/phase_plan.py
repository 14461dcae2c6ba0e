"""The runbook's phases, in checklist order, and the notebook that proves each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Phase:
    """One phase: its name, its notebook, the parameters section it needs."""

    order: int
    name: str
    notebook: str
    params_key: str | None = None
    changes_target: bool = False  # runs only when every earlier phase is GO
    uses: frozenset[str] = frozenset()  # local stand-ins it needs besides the sandbox
    # may run beside the phase before it: it reads nothing earlier phases produce and changes
    # nothing they look at
    beside_previous: bool = False
    # measures latency on this machine: nothing else runs in the background meanwhile
    quiet: bool = False
    # libraries its checks import on first use, imported ahead in its kernel (see kernels.py)
    warm: tuple[str, ...] = ()
    # judges what this run deployed: pointless (and misleading: a rollback of what?) when the
    # run's deploy phase was selected but never started
    judges_deployment: bool = False

    def path(self, root: Path) -> Path:
        from runbook.core.parameters import runbooks_dir

        return runbooks_dir(root) / self.notebook


_FIGURES = ("matplotlib.figure", "matplotlib.backends.backend_agg")
_WEB = ("azure.mgmt.web", "azure.core.exceptions")

PHASES: tuple[Phase, ...] = (
    Phase(
        1,
        "pre-deployment",
        "01_pre_deployment.ipynb",
        "pre_deployment",
        uses=frozenset({"sample"}),
        warm=("pandas", *_FIGURES, "httpx", "openapi_spec_validator"),
    ),
    Phase(
        2,
        "environment",
        "02_environment.ipynb",
        "environment_config",
        uses=frozenset({"sample", "azure"}),
        beside_previous=True,
        warm=("pandas", *_WEB),
    ),
    Phase(
        3,
        "deploy",
        "03_deploy.ipynb",
        "deploy",
        changes_target=True,
        uses=frozenset({"azure"}),
        warm=("httpx", *_WEB, *_FIGURES),
    ),
    Phase(4, "verify", "04_verify.ipynb", "verify", warm=("httpx",), judges_deployment=True),
    Phase(
        5,
        "performance",
        "05_performance.ipynb",
        "performance",
        quiet=True,
        uses=frozenset({"database"}),  # the pool is read during the load (pool_stability)
        warm=("pandas", "httpx", *_FIGURES),
        judges_deployment=True,
    ),
    Phase(
        6,
        "monitor",
        "06_monitor.ipynb",
        "monitor",
        uses=frozenset({"azure", "workers", "database"}),
        judges_deployment=True,
        warm=("pandas", *_FIGURES, "azure.mgmt.monitor", "azure.monitor.query", "redis", "celery"),
    ),
    # rollback changes the target too, but exactly when things are not GO: it runs always and
    # acts only when its own decision, computed from the evidence, says roll back
    Phase(
        7,
        "rollback",
        "07_rollback.ipynb",
        "rollback",
        uses=frozenset({"azure"}),
        warm=("pandas", "httpx", *_WEB),
        judges_deployment=True,
    ),
    Phase(
        8,
        "post-deployment",
        "08_post_deployment.ipynb",
        "post_deployment",
        warm=("pandas",),
        judges_deployment=True,
    ),
    Phase(9, "success-criteria", "09_success_criteria.ipynb", "success_criteria", warm=("pandas",)),
)

BY_NAME = {p.name: p for p in PHASES}


class UnknownPhase(ValueError):
    pass


def existing(root: Path) -> list[Phase]:
    """The phases whose notebook exists in this checkout, in order."""
    return [p for p in PHASES if p.path(root).is_file()]


def select(root: Path, names: list[str] | None) -> list[Phase]:
    """The phases to run: the named ones (in checklist order), or every existing one."""
    available = existing(root)
    if not names:
        return available
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise UnknownPhase(
            f"unknown phase {', '.join(map(repr, unknown))}; phases are: "
            + ", ".join(p.name for p in PHASES)
        )
    missing = [n for n in names if BY_NAME[n] not in available]
    if missing:
        raise UnknownPhase(
            f"phase {', '.join(map(repr, missing))} has no notebook in this checkout yet; "
            f"available: {', '.join(p.name for p in available) or 'none'}"
        )
    wanted = set(names)
    return [p for p in available if p.name in wanted]


def steps(selected: list[Phase]) -> list[list[Phase]]:
    """The selected phases as consecutive steps; the phases of one step may run at once."""
    out: list[list[Phase]] = []
    for phase in selected:
        last = out[-1] if out else None
        if (
            last
            and phase.beside_previous
            and not phase.changes_target
            and not phase.quiet
            and not any(p.changes_target or p.quiet for p in last)
        ):
            last.append(phase)
        else:
            out.append([phase])
    return out
