"""The reviewer's report: one HTML page with the verdict, then the checklist itself (every box
with its state in this run, linked to the notebook cell holding its evidence), then a table of
every check linked to the executed notebook (rendered with nbconvert) that proves it."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter

from runbook.core.checks import STATUS_COLOURS, Status
from runbook.core.evidence import write_evidence

VERDICT_COLOURS = {
    "GO": "#1a7f37",
    "NO-GO": "#cf222e",
    "INCOMPLETE": "#8250df",
    "ROLLBACK REQUIRED": "#cf222e",
}


def render_notebook(notebook: Path, dest: Path) -> Path:
    """Render an executed notebook to standalone HTML (outputs kept, inputs shown); a page that
    cannot be written raises EvidenceWriteError naming `dest`."""
    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    write_evidence(dest, body)
    return dest


def notebook_figures(notebook: Path) -> list[str]:
    """The base64 PNG figures an executed notebook displayed, in order."""
    nb = nbformat.read(notebook, as_version=4)
    return [
        output["data"]["image/png"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return html.escape(text if len(text) < 200 else text[:199] + "…")


def write_report(
    run_dir: Path,
    manifest: dict[str, Any],
    notebook_pages: dict[str, str],
    figures: dict[str, list[str]] | None = None,
) -> Path:
    """Write report.html for a run from its manifest data; `notebook_pages` maps phase -> the
    relative path of its rendered notebook, `figures` phase -> its base64 PNG figures."""
    e = html.escape
    verdict = manifest["verdict"]
    colour = VERDICT_COLOURS.get(verdict, "#555")
    phase_rows = "".join(
        f"<tr><td>{e(p['name'])}</td><td style='color:{VERDICT_COLOURS.get(p['verdict'], '#555')}'>"
        f"<b>{e(p['verdict'])}</b></td><td>{e(p['status'])}</td><td>{p['duration_s']:.1f} s</td>"
        f"<td>{_link(notebook_pages.get(p['name']), 'notebook')}</td>"
        f"<td>{e('; '.join(p.get('reasons', [])))}</td></tr>"
        for p in manifest["phases"]
    )
    check_tables = "".join(
        f"<h3>{e(phase)}</h3>"
        + _check_table(
            [r for r in manifest["results"] if (r.get("phase") or "run") == phase],
            notebook_pages.get(phase),
        )
        for phase in dict.fromkeys((r.get("phase") or "run") for r in manifest["results"])
    )
    figure_html = "".join(
        f"<h3>{e(phase)}</h3>"
        + "".join(
            f"<img alt='{e(phase)} figure {i}' src='data:image/png;base64,{png.strip()}'>"
            for i, png in enumerate(pngs, 1)
        )
        for phase, pngs in (figures or {}).items()
        if pngs
    )
    reasons = "".join(f"<li>{e(x)}</li>" for x in manifest.get("reasons", []))
    target = manifest.get("target", {})
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>PixCrawler runbook — {e(manifest["environment"])} — {e(verdict)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 13px; }}
th, td {{ border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top;
          max-width: 28em; overflow-wrap: anywhere; }}
.section {{ color: #57606a; font-size: 11px; }}
td.status {{ white-space: nowrap; }}
th {{ background: #f6f8fa; }}
.verdict {{ font-size: 2em; font-weight: bold; color: {colour}; }}
.box-state {{ white-space: nowrap; font-weight: bold; }}
.coverage {{ font-size: 1.1em; }}
table.checklist {{ width: 100%; max-width: 72em; table-layout: fixed; }}
table.checklist th:first-child {{ width: 16em; }}
table.checklist td {{ max-width: none; }}
.why {{ color: #57606a; font-size: 12px; }}
code {{ font-size: 12px; }}
img {{ max-width: 900px; display: block; margin: 0.5em 0; }}
</style></head><body>
<h1>PixCrawler deployment runbook</h1>
<p class="verdict">{e(verdict)}</p>
<p>{e(manifest["environment"])} · run {e(manifest["run_id"])}</p>
<ul>{reasons}</ul>
{checklist_section(manifest.get("checklist"), notebook_pages)}
<h2>Run</h2>
<table>
<tr><th>environment</th><td>{e(manifest["environment"])}</td></tr>
<tr><th>run id</th><td>{e(manifest["run_id"])}</td></tr>
<tr><th>target</th><td>{e(str(target.get("name")))} — {e(str(target.get("base_url")))}</td></tr>
<tr><th>build id</th><td>{e(str(manifest.get("build_id") or "unknown"))}</td></tr>
<tr><th>run by</th><td>{e(str(manifest.get("operator", {}).get("user")))} on
{e(str(manifest.get("operator", {}).get("host")))}</td></tr>
<tr><th>started / finished</th><td>{e(str(manifest["started_at"]))} /
{e(str(manifest.get("finished_at")))}</td></tr>
</table>
<h2>Phases</h2>
<table><tr><th>phase</th><th>verdict</th><th>execution</th><th>time</th><th>evidence</th>
<th>reasons</th></tr>{phase_rows}</table>
<h2>Checks</h2>
{check_tables}
{"<h2>Figures</h2>" + figure_html if figure_html else ""}
<p>Every file of this run is hashed in <code>manifest.json</code>; check it with
<code>uv run runbook verify {e(str(run_dir))}</code>.</p>
{history_line(run_dir, manifest)}
</body></html>
"""
    path = run_dir / "report.html"
    write_evidence(path, page)  # EvidenceWriteError naming it when it cannot be written
    return path


def history_line(run_dir: Path, manifest: dict[str, Any]) -> str:
    """A link to the environment's trends page (`runbook trends`, beside the run directories)
    when it exists, else how to write it."""
    env = html.escape(str(manifest.get("environment")))
    if (run_dir.parent / "trends.html").is_file():
        return (
            "<p>History of this environment's gated metrics: <a href='../trends.html'>"
            f"trends</a> (as of its last <code>runbook trends --env {env}</code>).</p>"
        )
    return f"<p>History of this environment: <code>uv run runbook trends --env {env}</code>.</p>"


def _check_table(results: list[dict[str, Any]], page: str | None) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td class='status' style='color:{STATUS_COLOURS.get(Status(r['status']), '#555')}'>"
        f"<b>{e(r['status'].upper())}</b><br><span class='section'>{e(r['severity'])}</span></td>"
        f"<td>{_link(_anchor(page, r['id']), r['id'])}<br>{e(r['title'])}"
        f"<br><span class='section'>{e(r['section'])}</span></td>"
        f"<td><code>{_cell(r.get('observed'))}</code></td>"
        f"<td><code>{_cell(r.get('threshold'))}</code></td><td>{e(r.get('explanation', ''))}</td>"
        f"</tr>"
        for r in results
    )
    return (
        "<table><tr><th>status</th><th>check</th><th>observed</th><th>threshold</th>"
        f"<th>explanation</th></tr>{rows}</table>"
    )


def _anchor(page: str | None, check_id: str) -> str | None:
    return f"{page}#check-{check_id}" if page else None


def _link(href: str | None, text: str) -> str:
    if not href:
        return html.escape(text)
    return f"<a href='{html.escape(href, quote=True)}'>{html.escape(text)}</a>"


BOX_STATE_COLOURS = {
    "proved": "#1a7f37",
    "signed": "#0969da",
    "failed": "#cf222e",
    "pending": "#8250df",
    "not-proved": "#bf8700",
    "not-run": "#bf8700",
    "unproved": "#9a6700",
    "not-applicable": "#6e7781",
}
BOX_STATE_MARKS = {
    "proved": "✔",
    "signed": "✍",
    "failed": "✘",
    "pending": "…",
    "not-proved": "?",
    "not-run": "–",
    "unproved": "○",
    "not-applicable": "n/a",
}


def checklist_section(view: dict[str, Any] | None, notebook_pages: dict[str, str]) -> str:
    """The checklist view of the manifest as HTML: the coverage line, the count per state, then
    every box section by section with its state, why, and links to the evidence cells."""
    if not view:
        return (
            "<h2>Checklist</h2><p>This run recorded no checklist view (a manifest older "
            "than the checklist catalogue).</p>"
        )
    from runbook.core.checklist.view import STATE_LABELS, BoxState, ChecklistView

    e = html.escape
    if "error" in view:
        return f"<h2>Checklist</h2><p>{e(str(view['error']))}</p>"
    parsed = ChecklistView.from_manifest(view)
    counts = "".join(
        f"<tr><td class='box-state' style='color:{BOX_STATE_COLOURS[s]}'>"
        f"{e(BOX_STATE_MARKS[s])} {e(STATE_LABELS[BoxState(s)])}</td><td>{n}</td></tr>"
        for s, n in parsed.counts.items()
        if n
    )
    sections = "".join(
        f"<h3>{e(section)}</h3><table class='checklist'><tr><th>state</th><th>box</th>"
        f"<th>evidence</th></tr>{''.join(_box_row(b, notebook_pages) for b in boxes)}</table>"
        for section, boxes in parsed.sections().items()
    )
    return (
        f"<h2>Checklist</h2><p class='coverage'><b>{e(parsed.coverage_line())}</b> "
        f"(environment {e(parsed.environment)})</p><table>{counts}</table>{sections}"
    )


def _box_row(box: Any, notebook_pages: dict[str, str]) -> str:
    from runbook.core.checklist.view import STATE_LABELS

    e = html.escape
    state = box.state.value
    label = STATE_LABELS[box.state]
    if box.signed_by:
        label += " by " + ", ".join(box.signed_by)
    links = ", ".join(
        _link(_anchor(notebook_pages.get(ev.phase or "run"), ev.id), ev.id)
        + f" <span class='why'>{e(ev.status)}</span>"
        for ev in box.evidence
    )
    if not links and (box.checks or box.signoff):
        links = "<span class='why'>" + e(", ".join([*box.checks, *box.signoff])) + "</span>"
    mark = {"rollback": "❌ ", "failed": "❌ ", "success": "✅ "}.get(box.kind, "")
    return (
        f"<tr id='box-{e(box.id)}'><td class='box-state' "
        f"style='color:{BOX_STATE_COLOURS.get(state, '#555')}'>"
        f"{e(BOX_STATE_MARKS.get(state, ''))} {e(label)}</td>"
        f"<td class='text'>{e(mark + box.text)}<br><span class='why'>{e(box.reason)}</span>"
        f"</td><td>{links}</td></tr>"
    )
