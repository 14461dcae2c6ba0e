"""The catalogue holds every box of the shipped checklist, each mapped; every mapped check id or
glob names a check the runbook produces; every sign-off it names exists."""

from __future__ import annotations

import fnmatch
from collections import Counter
from pathlib import Path

import pytest
import yaml

from runbook.core.checklist import (
    CatalogueError,
    bundled_checklist,
    compare_with_checklist,
    load_catalogue,
    parse_checklist,
    read_checklist,
)
from runbook.core.checklist.catalogue import CATALOGUE_FILE, parse_catalogue


def test_the_shipped_checklist_has_193_boxes_of_four_kinds() -> None:
    boxes = read_checklist(bundled_checklist())
    text = bundled_checklist().read_text(encoding="utf-8")
    # counted independently of the parser: lines as written
    assert sum(line.lstrip().startswith("- [ ]") for line in text.splitlines()) == 173
    assert Counter(b.kind for b in boxes) == {"task": 173, "success": 8, "failed": 6, "rollback": 6}
    assert len({b.key for b in boxes}) == len(boxes) == 193


def test_every_box_of_the_shipped_checklist_is_in_the_catalogue_and_back() -> None:
    coverage = compare_with_checklist(load_catalogue(), read_checklist(bundled_checklist()))
    assert coverage.missing == [], [f"{b.line}: {b.section} › {b.text}" for b in coverage.missing]
    assert coverage.absent == [], [b.id for b in coverage.absent]


def test_a_removed_mapping_is_caught() -> None:
    catalogue = load_catalogue()
    gone = catalogue.box("steps-2.4/api-response-times-lt-200ms-p95")
    coverage = compare_with_checklist(
        catalogue.without(gone.id), read_checklist(bundled_checklist())
    )
    assert [(b.section, b.text) for b in coverage.missing] == [gone.key]
    assert not coverage.complete


def test_a_box_without_checks_signoff_or_reason_is_refused() -> None:
    data = yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))
    box = next(b for b in data["boxes"] if b["id"] == "pre-1/code-formatted-correctly")
    del box["checks"]
    with pytest.raises(CatalogueError, match="needs 'checks', 'signoff' or 'unproved"):
        parse_catalogue(yaml.safe_dump(data, allow_unicode=True))


def test_an_empty_unproved_reason_and_a_doubled_id_are_refused() -> None:
    data = yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))
    data["boxes"][0] = {**data["boxes"][0], "checks": [], "unproved": " "}
    with pytest.raises(CatalogueError, match="'unproved' needs a reason"):
        parse_catalogue(yaml.safe_dump(data, allow_unicode=True))
    data = yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))
    data["boxes"][1]["id"] = data["boxes"][0]["id"]
    with pytest.raises(CatalogueError, match="appears more than once"):
        parse_catalogue(yaml.safe_dump(data, allow_unicode=True))


def test_every_mapped_check_id_or_glob_names_a_producible_check(producible_ids: set[str]) -> None:
    dead = [
        (box.id, ref)
        for box in load_catalogue().boxes
        for ref in box.all_references()
        if not any(fnmatch.fnmatchcase(i, ref) for i in producible_ids)
    ]
    assert dead == []


def test_a_mapping_to_a_check_nobody_produces_would_be_caught(producible_ids: set[str]) -> None:
    assert not any(fnmatch.fnmatchcase(i, "smoke.health-typo") for i in producible_ids)
    assert any(fnmatch.fnmatchcase(i, "perf.p95.*") for i in producible_ids)


def test_every_signoff_reference_is_a_signoff_item() -> None:
    from runbook.governance.signoff import SignOffParams
    from runbook.phases.rollback.params import RollbackParams

    items = {i.check_id for i in SignOffParams().items} | {
        f"rollback.signoff.{k}" for k in RollbackParams().post_actions
    }
    named = {ref for box in load_catalogue().boxes for ref in box.all_signoffs()}
    assert named and named <= items, named - items
    # a box signed by a person names no check that a program runs as its sign-off
    assert not [ref for box in load_catalogue().boxes for ref in box.all_checks() if ref in items]


def test_environment_names_in_the_catalogue_are_environments(repo_root: Path) -> None:
    from runbook.core.parameters import available_environments

    known = set(available_environments(repo_root))
    named = set()
    for box in load_catalogue().boxes:
        named |= set(box.environments)
        if box.not_applicable:
            named |= set(box.not_applicable.environments)
    assert named <= known, named - known


def test_parser_reads_nested_boxes_labels_and_skips_code_fences() -> None:
    text = """# T
## Part A
### 1. First:
- [ ] Parent box
  - [ ] `child.md`
- [x] Ticked box
  ```bash
  - [ ] not a box (inside a fence)
  ```
**Within 5 minutes:**
- [ ] Labelled box
**Checklist:**
- [ ] Generic label dropped
## Success Criteria
### Deployment Successful If:
✅ All good{BREAK}
- ❌ Rollback line
❌ Failed line
""".replace("{BREAK}", "  ")  # a Markdown line break, as the checklist writes it
    boxes = parse_checklist(text)
    assert [(b.section, b.text, b.kind) for b in boxes] == [
        ("Part A › 1. First", "Parent box", "task"),
        ("Part A › 1. First", "`child.md`", "task"),
        ("Part A › 1. First", "Ticked box", "task"),
        ("Part A › 1. First › Within 5 minutes", "Labelled box", "task"),
        ("Part A › 1. First", "Generic label dropped", "task"),
        ("Success Criteria › Deployment Successful If", "All good", "success"),
        ("Success Criteria › Deployment Successful If", "Rollback line", "rollback"),
        ("Success Criteria › Deployment Successful If", "Failed line", "failed"),
    ]
    assert boxes[1].parent == "Parent box" and boxes[1].indent == 2
    assert parse_checklist("") == []
