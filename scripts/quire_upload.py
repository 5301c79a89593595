"""Send a manuscript to Quire as a direct upload: straight to Blob Storage with the SAS Quire hands
out, in blocks read from disk one at a time (a 1 GiB zip never sits in this process's memory), then
submit it. Standard library only; the client is scripts/quire_client.py (`python scripts/quire.py
upload` does the same, and resumes a stopped run).

    python scripts/quire_upload.py book.zip [--url http://localhost:7071] [--function-key KEY]
    python scripts/quire_upload.py book.zip --book <book id> --owner-key <owner key>   (a new edition)

A block that fails (a dropped connection, a 5xx) is sent again after a pause, so the upload resumes
where it stopped. Prints the accepted job as JSON (with the new book's owner key); `--wait` follows
the conversion to its end and exits 1 if it failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quire_client import Quire, QuireError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--url", default="http://localhost:7071", help="Quire's address (default: %(default)s)")
    parser.add_argument("--function-key", default=os.environ.get("QUIRE_FUNCTION_KEY", ""))
    parser.add_argument("--book", help="publish a new edition of this book")
    parser.add_argument("--owner-key", default=os.environ.get("QUIRE_OWNER_KEY", ""))
    parser.add_argument("--title", default="")
    parser.add_argument("--author", default="")
    parser.add_argument("--language", default="")
    parser.add_argument("--wait", action="store_true", help="follow the conversion to its end")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()

    client = Quire(args.url, args.function_key)
    metadata = {k: v for k, v in (("title", args.title), ("author", args.author), ("language", args.language)) if v}

    def progress(done: int, count: int) -> None:
        print(f"\r{done}/{count} blocks", end="" if done < count else "\n", file=sys.stderr, flush=True)

    try:
        job = client.direct_upload(
            Path(args.file), args.book or "", args.owner_key, progress=None if args.quiet else progress, **metadata
        )
    except QuireError as error:
        print(json.dumps(error.problem, indent=2), file=sys.stderr)
        return 1
    print(json.dumps(job, indent=2))
    if args.wait:
        ended = client.wait(job["id"], timeout=3600)
        print(json.dumps({"status": ended["status"], "error": ended.get("error", "")}))
        return 1 if ended["status"] == "failed" else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
