"""The deployment checklist as data: the catalogue of every box and limit, the parser of a
checklist file, the per-run checklist view, and the team-copy comparison."""

from runbook.core.checklist.catalogue import (
    Catalogue,
    CatalogueBox,
    CatalogueError,
    compare_with_checklist,
    load_catalogue,
)
from runbook.core.checklist.params import ChecklistParams
from runbook.core.checklist.parse import bundled_checklist, parse_checklist, read_checklist
from runbook.core.checklist.team_copy import team_checklist_check
from runbook.core.checklist.view import BoxState, ChecklistView, checklist_view, compare_views

__all__ = [
    "BoxState",
    "Catalogue",
    "CatalogueBox",
    "CatalogueError",
    "ChecklistParams",
    "ChecklistView",
    "bundled_checklist",
    "checklist_view",
    "compare_views",
    "compare_with_checklist",
    "load_catalogue",
    "parse_checklist",
    "read_checklist",
    "team_checklist_check",
]
