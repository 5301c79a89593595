"""Send a manuscript to Quire as a direct upload: straight to Blob Storage with the SAS Quire hands
out, in blocks read from disk one at a time (a 1 GiB zip never sits in this process's memory), then
submit it. Standard library only.

    python scripts/quire_upload.py book.zip [--url http://localhost:7071] [--function-key KEY]
    python scripts/quire_upload.py book.zip --book <book id> --owner-key <owner key>   (a new edition)

A block that fails (a dropped connection, a 5xx) is sent again after a pause, so the upload resumes
where it stopped. Prints the accepted job as JSON (with the new book's owner key); `--wait` follows
the conversion to its end and exits 1 if it failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PARALLEL_BLOCKS = 4
ATTEMPTS = 8


def request(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def with_retries(method: str, url: str, body: bytes | None, headers: dict[str, str], what: str) -> tuple[int, bytes]:
    """Send until storage or Quire answers something other than a dropped connection or a 5xx."""
    for attempt in range(ATTEMPTS):
        try:
            status, _, answer = request(method, url, body, headers)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            status, answer = 0, str(error).encode()
        if status and status < 500:
            return status, answer
        time.sleep(min(30.0, 0.5 * 2**attempt))
    raise SystemExit(f"{what} failed {ATTEMPTS} times: {answer[:300]!r}")


def block_id(index: int) -> str:
    return base64.b64encode(f"quire-block-{index:06d}".encode()).decode()


def upload_blocks(path: str, upload: dict[str, Any], progress: bool) -> list[str]:
    size, block_size = upload["size"], upload["block_size"]
    count = max(1, -(-size // block_size))
    ids = [block_id(index) for index in range(count)]
    done = 0

    def send(index: int) -> None:
        nonlocal done
        with open(path, "rb") as file:
            file.seek(index * block_size)
            data = file.read(block_size)
        url = f"{upload['url']}&comp=block&blockid={urllib.request.quote(ids[index], safe='')}"
        status, answer = with_retries("PUT", url, data, {}, f"block {index}")
        if status != 201:
            raise SystemExit(f"storage refused block {index} (HTTP {status}): {answer[:300]!r}")
        done += 1
        if progress:
            print(f"\r{done}/{count} blocks", end="", file=sys.stderr, flush=True)

    with ThreadPoolExecutor(max_workers=PARALLEL_BLOCKS) as pool:
        list(pool.map(send, range(count)))
    if progress:
        print(file=sys.stderr)
    return ids


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

    base = args.url.rstrip("/")
    fields = {"filename": os.path.basename(args.file), "size": os.path.getsize(args.file)}
    fields.update({k: v for k, v in (("title", args.title), ("author", args.author), ("language", args.language)) if v})
    headers = {"Content-Type": "application/json"}
    if args.book:
        ask_url = f"{base}/api/books/{args.book}/uploads"
        headers["Authorization"] = f"Bearer {args.owner_key}"
    else:
        ask_url = f"{base}/api/uploads"
        if args.function_key:
            headers["x-functions-key"] = args.function_key
    status, answer = with_retries("POST", ask_url, json.dumps(fields).encode(), headers, "asking for the upload")
    if status != 201:
        print(answer.decode(errors="replace"), file=sys.stderr)
        return 1
    grant = json.loads(answer)
    owner_key = grant.get("owner_key") or args.owner_key
    upload = grant["upload"]
    ids = upload_blocks(args.file, upload, progress=not args.quiet)
    block_list = "".join(f"<Latest>{i}</Latest>" for i in ids)
    body = f'<?xml version="1.0" encoding="utf-8"?><BlockList>{block_list}</BlockList>'.encode()
    status, answer = with_retries("PUT", upload["url"] + "&comp=blocklist", body, {}, "committing the blocks")
    if status != 201:
        print(f"storage refused the block list (HTTP {status}): {answer[:300]!r}", file=sys.stderr)
        return 1
    auth = {"Authorization": f"Bearer {owner_key}"}
    status, answer = with_retries("POST", base + grant["submit"]["url"], b"", auth, "submitting")
    job = json.loads(answer)
    if status != 202:
        print(json.dumps(job, indent=2), file=sys.stderr)
        return 1
    if grant.get("owner_key"):
        job["owner_key"] = grant["owner_key"]
    print(json.dumps(job, indent=2))
    while args.wait and job.get("status") not in ("succeeded", "failed"):
        time.sleep(1)
        _, _, answer = request("GET", base + job["links"]["self"])
        job = json.loads(answer)
    if args.wait:
        print(json.dumps({"status": job["status"], "error": job.get("error", "")}))
    return 1 if job.get("status") == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
