"""Read the boxes of a deployment checklist written in Markdown.

A box is a `- [ ]` (or `- [x]`) line at any indent, a `✅ …` / `❌ …` line of "Success
Criteria", or a `- ❌ …` line of "When to Rollback". Its section path is the chain of headings
above it (`## … › ### … › #### …`) plus the bold label that introduces its group
(`**Within 5 minutes:**`), except the generic `**Checklist:**`; a trailing colon is dropped.
Fenced code blocks are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

SEPARATOR = " › "
BoxKind = Literal["task", "success", "failed", "rollback"]

_HEADING = re.compile(r"^(#{2,6})\s+(.+?)\s*#*\s*$")
_BOLD_LABEL = re.compile(r"^\*\*(.+?):?\*\*:?\s*$")
_TASK = re.compile(r"^(\s*)[-*+] \[[ xX]\] (.+?)\s*$")
_MARK = re.compile(r"^(\s*)(- )?(✅|❌) (.+?)\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_GENERIC_LABELS = {"checklist"}


class ParsedBox(BaseModel):
    """One box as written: where (1-based line), its section path, its text, its kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line: int
    section: str
    text: str
    kind: BoxKind
    indent: int = 0
    parent: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the box across copies of the checklist: section and text."""
        return (self.section, self.text)


def parse_checklist(text: str) -> list[ParsedBox]:
    """Every box of a Markdown checklist, in order (an empty list for a text without any)."""
    headings: list[tuple[int, str]] = []
    label: str | None = None
    fenced = False
    open_boxes: list[ParsedBox] = []  # the boxes an indented box may belong to
    boxes: list[ParsedBox] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        heading = _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            title = heading.group(2).rstrip(":").strip()
            headings = [(lv, t) for lv, t in headings if lv < level] + [(level, title)]
            label, open_boxes = None, []
            continue
        bold = _BOLD_LABEL.match(line.strip())
        if bold:
            name = bold.group(1).strip().rstrip(":")
            label = None if name.lower() in _GENERIC_LABELS else name
            open_boxes = []
            continue
        box = _box(line, number, _section(headings, label), open_boxes)
        if box is not None:
            boxes.append(box)
            open_boxes = [b for b in open_boxes if b.indent < box.indent] + [box]
    return boxes


def _section(headings: list[tuple[int, str]], label: str | None) -> str:
    parts = [t for _, t in headings] + ([label] if label else [])
    return SEPARATOR.join(parts)


def _box(line: str, number: int, section: str, open_boxes: list[ParsedBox]) -> ParsedBox | None:
    task = _TASK.match(line)
    if task:
        indent = len(task.group(1).expandtabs(4))
        parents = [b for b in open_boxes if b.indent < indent]
        return ParsedBox(
            line=number,
            section=section,
            text=task.group(2),
            kind="task",
            indent=indent,
            parent=parents[-1].text if parents else None,
        )
    mark = _MARK.match(line)
    if mark:
        kind: BoxKind = (
            "success" if mark.group(3) == "✅" else "rollback" if mark.group(2) else "failed"
        )
        return ParsedBox(line=number, section=section, text=mark.group(4), kind=kind)
    return None


def read_checklist(path: Path) -> list[ParsedBox]:
    """The boxes of the checklist file at `path` (OSError / UnicodeDecodeError as raised)."""
    return parse_checklist(Path(path).read_text(encoding="utf-8"))


def bundled_checklist() -> Path:
    """The copy of the company's checklist this package ships (the catalogue's source)."""
    return Path(__file__).with_name("DEPLOYMENT_CHECKLIST.md")
