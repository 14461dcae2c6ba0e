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

    def path(self, root: Path) -> Path:
        return root / "runbooks" / self.notebook


PHASES: tuple[Phase, ...] = (
    Phase(1, "pre-deployment", "01_pre_deployment.ipynb", "pre_deployment",
          uses=frozenset({"sample"})),
    Phase(2, "environment", "02_environment.ipynb", "environment_config",
          uses=frozenset({"sample", "azure"})),
    Phase(3, "deploy", "03_deploy.ipynb", "deploy", changes_target=True,
          uses=frozenset({"azure"})),
    Phase(4, "verify", "04_verify.ipynb", "verify"),
    Phase(5, "performance", "05_performance.ipynb", "performance"),
    Phase(6, "monitor", "06_monitor.ipynb", "monitor", uses=frozenset({"azure", "workers"})),
    # rollback changes the target too, but exactly when things are not GO: it runs always and
    # acts only when its own decision, computed from the evidence, says roll back
    Phase(7, "rollback", "07_rollback.ipynb", "rollback", uses=frozenset({"azure"})),
    Phase(8, "post-deployment", "08_post_deployment.ipynb", "post_deployment"),
    Phase(9, "success-criteria", "09_success_criteria.ipynb", "success_criteria"),
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
