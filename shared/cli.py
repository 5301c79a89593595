"""Command line: `python -m shared.cli MANUSCRIPT --out DIR` writes DIR/book.epub, DIR/book.pdf and DIR/app/.

Warnings go to stderr; a manuscript that cannot be converted exits 1 with the reason, no traceback.
With a job's parameters (`--modified` its `created`, `--title`, `--author`, `--language`,
`--file-name` its manuscript's `filename`, `--split-level` and `--pdf-page` its manuscript's,
`--edition` its `edition`, `--updates-url ../updates`)
it writes the same bytes the pipeline publishes for that job (tests/e2e/test_pipeline.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from shared.book.limits import DEEPEST_SPLIT_LEVEL
from shared.formats import PDF_PAGE_SIZES, pdf_page_size


def page_size(value: str) -> str:
    """--pdf-page's value as a job stores it (any case, spaces around it trimmed)."""
    chosen = pdf_page_size(value)
    if chosen is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(PDF_PAGE_SIZES)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.cli", description=__doc__)
    parser.add_argument("manuscript", type=Path, help="a .md, .txt, .html, .docx, .epub or .zip manuscript")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--title", default="")
    parser.add_argument("--author", default="")
    parser.add_argument("--language", default="")
    parser.add_argument(
        "--split-level",
        type=int,
        default=1,
        choices=range(1, DEEPEST_SPLIT_LEVEL + 1),  # h1 to h6
        metavar="1-6",
        help="the heading level chapters start at (h1 to h6); default 1",
    )
    parser.add_argument(
        "--pdf-page",
        type=page_size,
        default="",
        metavar="|".join(PDF_PAGE_SIZES),
        help="the print PDF's page size; default: chosen by the book's language",
    )
    parser.add_argument("--no-pdf", action="store_true", help="make the EPUB and the web-app book only")
    parser.add_argument("--updates-url", default="", help="where the web-app book's updates page reads its news")
    parser.add_argument(
        "--edition",
        type=int,
        default=0,
        help="the edition of a served book these files are (its service worker asks for that edition's files); "
        "default 0: not part of a served book",
    )
    parser.add_argument(
        "--file-name",
        default="",
        help="the manuscript's name as uploaded (its type is checked against it, and its links may use it); "
        "default: the manuscript file's own name",
    )
    parser.add_argument(
        "--modified",
        default="",
        help="the book's modification time (ISO 8601); default: the manuscript file's own time, so reruns match",
    )
    parser.add_argument("--release-notes", default="", help="the author's notes on this edition (plain text)")
    parser.add_argument(
        "--changes",
        type=Path,
        default=None,
        help="a JSON file of what changed since the previous edition, as a job's status gives it ('changes'); "
        "with it or release notes, the EPUB ends with a 'Changes in this edition' page",
    )
    parser.add_argument("--no-changes-page", action="store_true", help="no 'Changes in this edition' page")
    args = parser.parse_args(argv)
    if args.edition < 0:
        parser.error("--edition must be 0 or more")
    file_name = args.file_name or args.manuscript.name

    from shared.book import ConvertOptions, ManuscriptError
    from shared.book.conversion import finish, parse
    from shared.intake import Upload, UploadRejected, checked_release_notes, identify

    try:
        data = args.manuscript.read_bytes()
    except OSError as error:
        print(f"error: cannot read {args.manuscript}: {error.strerror}", file=sys.stderr)
        return 1
    try:
        kind = identify(Upload(filename=file_name, data=data)).type.kind
        modified = (
            datetime.fromisoformat(args.modified.replace("Z", "+00:00"))
            if args.modified
            else datetime.fromtimestamp(int(args.manuscript.stat().st_mtime), UTC)
        )
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=UTC)
        options = ConvertOptions(
            kind=kind,
            modified=modified,
            title=args.title,
            author=args.author,
            language=args.language,
            split_level=args.split_level,
            pdf_page=args.pdf_page,
            updates_url=args.updates_url,
            file_name=file_name,
            edition=args.edition,
            release_notes=checked_release_notes(args.release_notes),
            changes=json.loads(args.changes.read_text(encoding="utf-8")) if args.changes else None,
            changes_page=not args.no_changes_page,
        )
        book = parse(data, options)
        del data  # the manuscript (a zip of photos, say) is not needed past parsing
        result = finish(book, options, with_pdf=not args.no_pdf)
    except (ManuscriptError, UploadRejected) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "book.epub").write_bytes(result.epub)
    if result.pdf is not None:
        (args.out / "book.pdf").write_bytes(result.pdf)
    app = args.out / "app"
    for path, content in result.app_files.items():
        target = app / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    pdf = f", {args.out / 'book.pdf'} ({len(result.pdf):,} bytes)" if result.pdf is not None else ""
    print(
        f"wrote {args.out / 'book.epub'} ({len(result.epub):,} bytes){pdf} and {app}/ ({len(result.app_files)} files)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
