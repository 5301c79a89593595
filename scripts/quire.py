"""Quire from the command line, standard library only (the client is scripts/quire_client.py).
Each command prints the API's answer as JSON; a refusal prints its problem on stderr and exits 1.

    python scripts/quire.py create book.md --title Tides [--wait]        a new book (prints its owner key)
    python scripts/quire.py edition BOOK book-v2.md [--wait]             a new edition (owner key)
    python scripts/quire.py upload photos.zip [--book BOOK] [--wait]     a direct upload; run it again to resume
    python scripts/quire.py status JOB [--wait]                          an edition's job
    python scripts/quire.py book BOOK                                    the book and its editions
    python scripts/quire.py download BOOK [--format pdf] [--edition N] [-o FILE]
    python scripts/quire.py feeds BOOK [--set URL ...]                   read or replace its feeds
    python scripts/quire.py rotate-key BOOK | delete BOOK                (owner key)
    python scripts/quire.py shelf-create [--title T] | shelf-add SHELF BOOK | shelf-remove SHELF BOOK
    python scripts/quire.py shelf-delete SHELF                           (shelf key)

--url (or QUIRE_URL) is Quire's address, --function-key (QUIRE_FUNCTION_KEY) the app's key for
creating in Azure, --owner-key (QUIRE_OWNER_KEY) a book's key, --shelf-key (QUIRE_SHELF_KEY) a
shelf's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quire_client import Quire, QuireError

META = ("title", "author", "language", "split_level", "pdf_page", "release_notes")


def parser() -> argparse.ArgumentParser:
    env = os.environ.get
    top = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--url", default=env("QUIRE_URL", "http://localhost:7071"))
    top.add_argument("--function-key", default=env("QUIRE_FUNCTION_KEY", ""))
    top.add_argument("--owner-key", default=env("QUIRE_OWNER_KEY", ""))
    top.add_argument("--shelf-key", default=env("QUIRE_SHELF_KEY", ""))
    commands = top.add_subparsers(dest="command", required=True)

    def command(name: str, *positional: str, metadata: bool = False, wait: bool = False) -> argparse.ArgumentParser:
        sub = commands.add_parser(name)
        for arg in positional:
            sub.add_argument(arg)
        if metadata:
            for field in META:
                sub.add_argument(f"--{field.replace('_', '-')}", dest=field, default="")
        if wait:
            sub.add_argument("--wait", action="store_true", help="follow the conversion to its end")
        return sub

    command("create", "file", metadata=True, wait=True)
    command("edition", "book", "file", metadata=True, wait=True)
    command("upload", "file", metadata=True, wait=True).add_argument("--book", default="")
    command("status", "job", wait=True)
    command("book", "book")
    download = command("download", "book")
    download.add_argument("--format", choices=("epub", "pdf"), default="epub")
    download.add_argument("--edition", type=int)
    download.add_argument("-o", "--output", help="the file to write (default: <book>.<format>)")
    command("feeds", "book").add_argument("--set", nargs="*", dest="urls", metavar="URL")
    command("rotate-key", "book")
    command("delete", "book")
    command("shelf-create").add_argument("--title", default="")
    command("shelf-add", "shelf", "book")
    command("shelf-remove", "shelf", "book")
    command("shelf-delete", "shelf")
    return top


def run(args: argparse.Namespace, client: Quire) -> Any:
    """The command's answer."""
    metadata = {field: getattr(args, field) for field in META if getattr(args, field, "")}
    match args.command:
        case "create":
            return client.create_book(Path(args.file).read_bytes(), Path(args.file).name, **metadata)
        case "edition":
            path = Path(args.file)
            return client.publish_edition(args.book, args.owner_key, path.read_bytes(), path.name, **metadata)
        case "upload":
            path = Path(args.file)
            state = path.with_name(path.name + ".quire-upload.json")  # what a stopped run had sent
            return client.direct_upload(path, args.book, args.owner_key, state=state, **metadata)
        case "status":
            return client.status(args.job)
        case "book":
            return client.book(args.book)
        case "download":
            data = client.download(args.book, args.format, args.edition)
            output = Path(args.output or f"{args.book}.{args.format}")
            output.write_bytes(data)
            return {"file": str(output), "bytes": len(data)}
        case "feeds":
            if args.urls is None:
                return client.feeds(args.book, args.owner_key)
            return client.set_feeds(args.book, args.owner_key, args.urls)
        case "rotate-key":
            return client.rotate_owner_key(args.book, args.owner_key)
        case "delete":
            return client.delete_book(args.book, args.owner_key)
        case "shelf-create":
            return client.create_shelf(args.title)
        case "shelf-add":
            return client.shelve(args.shelf, args.shelf_key, args.book)
        case "shelf-remove":
            return client.unshelve(args.shelf, args.shelf_key, args.book)
        case "shelf-delete":
            return client.delete_shelf(args.shelf, args.shelf_key)
    raise ValueError(args.command)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    client = Quire(args.url, args.function_key)
    try:
        answer = run(args, client)
        if getattr(args, "wait", False):
            print(json.dumps(answer, indent=2))
            answer = client.wait(answer["id"], timeout=3600)
    except QuireError as error:
        print(json.dumps(error.problem, indent=2), file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    return 1 if isinstance(answer, dict) and answer.get("status") == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
