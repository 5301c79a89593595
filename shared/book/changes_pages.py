"""What an edition's readers see of its changes: the EPUB's "Changes in this edition" page at the
back, and the web-app book's changes.json, which the update offer reads (shared/book/webapp_changes.py).
Pure: from the author's release notes (plain text) and the summary of
shared/book/changes.py `compare` (None when there was no earlier edition to compare with).
Everything the author wrote is escaped here: notes and titles are text, never markup.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from shared.book.epub import BackPage

CHANGES_STEM = "edition-changes"  # text/edition-changes.xhtml in the EPUB
CHANGES_TITLE = "Changes in this edition"
APP_CHANGES_FILE = "changes.json"


def _e(text: str) -> str:
    return escape(text, quote=True)


def note_paragraphs(notes: str) -> list[str]:
    """Release notes as paragraphs: a blank line parts them; a single line break stays within one."""
    return [p.strip() for p in re.split(r"\n\s*\n", notes) if p.strip()]


def has_changes_page(notes: str, summary: dict[str, Any] | None) -> bool:
    """Whether an edition has anything to say: notes, or a comparison with an earlier edition."""
    return bool(notes.strip()) or summary is not None


def _chapter_item(entry: dict[str, Any], note: str) -> str:
    link = f'<a href="{_e(entry["chapter"])}.xhtml">{_e(entry["title"])}</a>'
    return f"<li>{link} ({_e(note)})</li>"


def changed_note(entry: dict[str, Any]) -> str:
    """How a changed chapter is described: its share of words changed, and its old title if retitled."""
    note = f"about {entry['percent']}% of its words changed" if entry["percent"] else "retitled"
    if entry.get("previous_title"):
        note += f"; it was “{entry['previous_title']}”"
    return note


def _more(listed: int, counted: int) -> str:
    return f"<li>and {counted - listed:,} more</li>" if counted > listed else ""


def changes_page(notes: str, summary: dict[str, Any] | None) -> BackPage:
    """The EPUB page listing what changed, chapters linked (removed ones named)."""
    body = [f'<section class="edition-changes" aria-labelledby="{CHANGES_STEM}-title">']
    body.append(f'<h1 id="{CHANGES_STEM}-title">{CHANGES_TITLE}</h1>')
    if summary is not None:
        body.append(f"<p>Compared with the previous edition, edition {int(summary['previous_edition'])}.</p>")
    paragraphs = note_paragraphs(notes)
    if paragraphs:
        body.append("<h2>From the author</h2>")
        body += ["<p>" + "<br/>".join(_e(line) for line in p.split("\n")) + "</p>" for p in paragraphs]
    if summary is not None:
        counts = summary["counts"]
        if summary["added"]:
            items = "".join(_chapter_item(e, "new") for e in summary["added"])
            body.append(f"<h2>New chapters</h2><ul>{items}{_more(len(summary['added']), counts['added'])}</ul>")
        if summary["changed"]:
            items = "".join(_chapter_item(e, changed_note(e)) for e in summary["changed"])
            body.append(f"<h2>Changed chapters</h2><ul>{items}{_more(len(summary['changed']), counts['changed'])}</ul>")
        if summary["removed"]:
            items = "".join(f"<li>{_e(e['title'])}</li>" for e in summary["removed"])
            body.append(f"<h2>Removed chapters</h2><ul>{items}{_more(len(summary['removed']), counts['removed'])}</ul>")
        unchanged = int(counts["unchanged"])
        if not (summary["added"] or summary["changed"] or summary["removed"]):
            body.append("<p>The text of every chapter is the same as in the previous edition.</p>")
        elif unchanged:
            body.append(f"<p>{unchanged:,} other chapter{'s are' if unchanged != 1 else ' is'} unchanged.</p>")
    body.append("</section>")
    return BackPage(CHANGES_STEM, CHANGES_TITLE, "".join(body))


def app_changes(notes: str, summary: dict[str, Any] | None) -> bytes | None:
    """The web-app book's changes.json: the edition's notes and its summary (null: none); None
    when the edition has nothing to say."""
    if not has_changes_page(notes, summary):
        return None
    data = {"release_notes": notes, "changes": summary}
    return (json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def back_matter(notes: str, summary: dict[str, Any] | None) -> list[BackPage]:
    """The EPUB's pages after the last chapter: the changes page, when the edition has notes or a comparison."""
    return [changes_page(notes, summary)] if has_changes_page(notes, summary) else []
