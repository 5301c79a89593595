"""Print PDF benchmark: Quire's pdf step (Typst) against WeasyPrint, and pandoc's PDF route, on the same books in the same run.

Books: the 1 MB and 5 MB books of bench/convert.py, and a 500-page book of plain prose (40
chapters; its pages are counted with pdfinfo). On each:
- Quire: the pdf step's typesetting (`book_parts` and `write_pdf`, as shared/worker/typesetting.py
  calls them), in a process forked (as the worker's zygote forks step processes) from a fresh one
  that imported what the step processes preload, which loads the step's checkpoints (the parse,
  the rendered chapters, the processed images, as the plan and image steps leave them): time and
  CPU (all threads: Typst lays out on several) of the typesetting alone, with the processes it
  typesets the parts in. Memory twice: resident, the step process's peak or, when higher, what
  it held at the end plus the largest part process's peak (the two peaks added, as if they came
  at once); and the step's own: its private memory (not the modules it shares with the zygote)
  plus the largest part process's peak. And once, the whole CLI (`python -m shared.cli`: parse,
  render, images, EPUB, web-app book and PDF);
- WeasyPrint 70 on one HTML file made of the web-app book's own pages (the app's stylesheet and
  images, by the same relative paths), as `python -m weasyprint` in a virtual environment of its
  own, .bench-venv, installed on the first run: WeasyPrint is no dependency of Quire's;
- with --pandoc, where pandoc is on PATH, its PDF route, once:
  `pandoc book.md -o book.pdf --pdf-engine=weasyprint` (LaTeX is not installed; weasyprint from
  .bench-venv). Left out by default: no target compares with it, and its runs (about 95 s) took
  `make bench` over 15 minutes.
Wall time, CPU (user + system) and peak memory of each process; medians and ranges over --runs.
WeasyPrint is not run again on a book once its runs there took over 30 s, and a run over 300 s is
stopped.
Targets (#37): Quire ≤ 0.2× WeasyPrint's time and ≤ 0.5× its memory; the 500-page book within one
step's budget (DEFAULT_STEP_CPU_SECONDS, and the pdf step's own DEFAULT_PDF_STEP_MEMORY_MB). A last
run on each book typesets it under the limits the step process runs with (RLIMIT_CPU, RLIMIT_DATA):
a book too long for them gets no PDF, and the step's warning says so.

Run: `.venv/bin/python bench/pdf.py [--runs 3] [--pandoc]` (needs Debian's Pango for WeasyPrint, installed
when missing and root, and poppler-utils for pdfinfo; pandoc is optional).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes.util
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Processes are timed one run at a time: compiling every module on each run, as this variable forces
# (some machines set it), is not their cost.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from convert import make_images, prepare, sentence  # noqa: E402

from shared.settings import (  # noqa: E402
    DEFAULT_PDF_STEP_MEMORY_MB,
    DEFAULT_STEP_CPU_SECONDS,
    DEFAULT_STEP_MEMORY_MB,
)

MODIFIED = "2026-11-21T00:00:00+00:00"
BENCH_VENV = ROOT / ".bench-venv"
WEASYPRINT = "weasyprint>=70,<71"
PANGO = {"pango-1.0": "libpango-1.0-0", "pangoft2-1.0": "libpangoft2-1.0-0"}
# seconds: WeasyPrint is run again on a book only while its runs there took less, which keeps the
# bench near 4 minutes (the 5 MB book: one run of ~85 s; the others: 2–3 runs of 12–17 s)
REPEAT_WITHIN = 30.0
STOP_AFTER = 300.0  # seconds: a reference run is stopped there
MIB = 2**20

# The pdf step in a fresh process: the step processes' preloaded modules, the checkpoints, then the
# typesetting alone timed, as shared/worker/typesetting.py calls it. With "limits", under the
# RLIMIT_CPU and RLIMIT_DATA the step runs with (shared/budget/process.py).
STEP_PROBE = """
import importlib, json, math, os, resource, sys, time
from datetime import datetime
from pathlib import Path
from shared.worker.protocol import STEP_PRELOAD
for name in STEP_PRELOAD:
    importlib.import_module(name)
# As the worker's zygote does: the step runs in a child forked from the process that preloaded.
child = os.fork()
if child:
    sys.exit(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]))
from shared.book.conversion import ConvertOptions, book_parts
from shared.book.model import ParsedBook, RenderedChapter, unpack_images
from shared.book.pdf.typeset import write_pdf
from shared.budget.process import data_bytes_left

def status(*names):
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return [int(fields[name].split()[0]) * 1024 for name in names]

def private():
    fields = dict(line.split(":", 1) for line in open("/proc/self/smaps_rollup") if ":" in line[:20])
    return sum(int(fields[name].split()[0]) * 1024 for name in ("Private_Clean", "Private_Dirty"))

def cpu():
    mine, parts = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + parts.ru_utime + parts.ru_stime

folder, modified, limits = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
book = ParsedBook.from_plain_meta(json.loads((folder / "parsed.json").read_bytes()))
chapters = [RenderedChapter.from_dict(c) for c in json.loads((folder / "chapters.json").read_bytes())]
images = {image.key: image for image in unpack_images((folder / "images.bin").read_bytes())}
options = ConvertOptions(kind="markdown", modified=datetime.fromisoformat(modified))
loaded, own_loaded = status("VmRSS")[0], private()
if limits:
    seconds, memory = int(limits[0]), int(limits[1])
    resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(cpu()) + seconds, resource.RLIM_INFINITY))
    resource.setrlimit(resource.RLIMIT_DATA, (memory, resource.RLIM_INFINITY))
started, cpu_before = time.perf_counter(), cpu()
parts = book_parts(book, chapters, images, options)
del book
result = write_pdf(parts, options.pdf_page, False, memory_left=data_bytes_left())
wall, used = time.perf_counter() - started, cpu() - cpu_before
peak, size, data, hwm, now = status("VmPeak", "VmSize", "VmData", "VmHWM", "VmRSS")
part = result.part_peak_bytes
(folder / "step.pdf").write_bytes(result.pdf or b"")
print(json.dumps({"wall": wall, "cpu": used, "rss": max(hwm, now + part), "own": max(own_loaded, private()) + part,
                  "data": peak - size + data, "loaded": loaded, "made": result.pdf is not None,
                  "warnings": result.warnings, "parts": result.parts}))
os._exit(0)
"""


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # seconds, user + system, the process's threads and the children it waited for
    rss: int  # bytes, peak resident
    code: int = 0  # exit code; negative: the signal that ended it
    stopped: bool = False  # ran past STOP_AFTER and was killed
    data: int = 0  # Quire's step: peak data segment (what RLIMIT_DATA limits)
    loaded: int = 0  # Quire's step: resident before the typesetting (interpreter, modules, checkpoints)
    refused: str = ""  # Quire's step: why it made no PDF (a book too long for the memory left)
    own: int = 0  # Quire's step: its private memory (beside the zygote's shared pages) + the largest part's process
    parts: int = 0  # Quire's step: the processes the body was typeset in


def run_process(command: list[str], cwd: Path, stop_after: float = STOP_AFTER) -> tuple[Run, str, str]:
    """One run of `command`, measured by wait4 (its own figures with those of the children it
    waited for: pandoc's WeasyPrint), with its output and the end of its errors."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=errors, start_new_session=True)
        stopped = threading.Event()

        def stop() -> None:
            stopped.set()
            with contextlib.suppress(ProcessLookupError):  # it ended just then
                os.killpg(process.pid, signal.SIGKILL)

        timer = threading.Timer(stop_after, stop)
        timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        timer.cancel()
        process.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        errors.seek(0)
        text, tail = out.read().decode(errors="replace"), errors.read().decode(errors="replace")[-1500:]
    run = Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, code, stopped.is_set())
    return run, text, tail


def step_run(folder: Path, limits: list[int] | None = None) -> Run:
    """Quire's pdf step on the checkpoints in `folder`: the typesetting's own time and CPU, the
    process's peak memory. A run that ended otherwise than by exiting 0 keeps wait4's figures."""
    command = [sys.executable, "-c", STEP_PROBE, str(folder), MODIFIED, *map(str, limits or [])]
    run, out, errors = run_process(command, ROOT)
    if run.code != 0:
        if limits is None:
            raise RuntimeError(f"Quire's pdf step failed ({run.code}): {errors}")
        return run
    figures = json.loads(out.splitlines()[-1])
    refused = "" if figures["made"] else " ".join(figures["warnings"]) or "no PDF"
    if refused and limits is None:
        raise RuntimeError(f"Quire's pdf step made no PDF: {refused}")
    return Run(
        figures["wall"],
        figures["cpu"],
        figures["rss"],
        data=figures["data"],
        loaded=figures["loaded"],
        refused=refused,
        own=figures["own"],
        parts=figures["parts"],
    )


def pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    found = re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)
    return int(found.group(1)) if found else 0


# -- the references ---------------------------------------------------------------------------------


def weasyprint_venv() -> Path | None:
    """.bench-venv's weasyprint, installed on first use; None (with the reason printed) when it cannot run."""
    missing = [package for library, package in PANGO.items() if not ctypes.util.find_library(library)]
    if missing and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=False, capture_output=True)
        missing = [package for library, package in PANGO.items() if not ctypes.util.find_library(library)]
    if missing:
        print(
            f"WeasyPrint skipped: it needs Pango ({', '.join(missing)}); install it: apt-get install {' '.join(missing)}"
        )
        return None
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing {WEASYPRINT} into {BENCH_VENV.name}/ (once) …")
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        installed = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", WEASYPRINT], capture_output=True, text=True
        )
        if installed.returncode != 0:
            shutil.rmtree(BENCH_VENV)
            print(f"WeasyPrint skipped: pip could not install it: {installed.stderr.strip()[-500:]}")
            return None
    version = subprocess.run([str(python), "-m", "weasyprint", "--version"], capture_output=True, text=True)
    if version.returncode != 0:
        print(f"WeasyPrint skipped: it does not start: {version.stderr.strip()[-500:]}")
        return None
    print(version.stdout.strip())
    return BENCH_VENV / "bin" / "weasyprint"


MAIN = re.compile(r"<main\b[^>]*>(.*)</main>", re.DOTALL)
PAGER = re.compile(r'<nav class="pager".*?</nav>', re.DOTALL)


def one_html(app: Path) -> Path:
    """The web-app book as one HTML file beside its chapters: the home page (cover, title,
    contents), then every chapter's text, with the app's stylesheet and image paths."""
    index = (app / "index.html").read_text(encoding="utf-8")
    head = re.search(r"<html[^>]*>", index)
    title = re.search(r"<title>.*?</title>", index, re.DOTALL)
    assert head and title
    home = MAIN.search(index)
    assert home
    mains = [home.group(1).replace('src="images/', 'src="../images/')]  # the one file sits in chapters/
    for chapter in sorted((app / "chapters").glob("ch*.html")):
        body = MAIN.search(chapter.read_text(encoding="utf-8"))
        assert body, chapter
        mains.append(PAGER.sub("", body.group(1)))
    html = (
        f"<!DOCTYPE html>\n{head.group(0)}\n<head>\n<meta charset='utf-8'>\n{title.group(0)}\n"
        "<link rel='stylesheet' href='../css/app.css'>\n</head>\n<body>\n"
        + "\n".join(f"<main>{main}</main>" for main in mains)
        + "\n</body>\n</html>\n"
    )
    path = app / "chapters" / "one.html"
    path.write_text(html, encoding="utf-8")
    return path


# -- the books --------------------------------------------------------------------------------------


def prose_book(folder: Path, chapters: int = 40, paragraphs: int = 120, seed: int = 2) -> Path:
    """A book of plain paragraphs, no images (Quire draws its cover): about 500 A4 pages."""
    rng = random.Random(seed)
    text = ["---\ntitle: The Long Harbour\nauthor: Bench Writer\nlanguage: en-GB\n---\n"]
    for number in range(1, chapters + 1):
        text.append(f"# Chapter {number}\n")
        text.extend(" ".join(sentence(rng) for _ in range(rng.randint(3, 7))) + "\n" for _ in range(paragraphs))
    folder.mkdir(parents=True)
    (folder / "book.md").write_text("\n".join(text), encoding="utf-8")
    with zipfile.ZipFile(folder / "book.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(folder / "book.md", "book.md")
    return folder


def write_checkpoints(folder: Path) -> None:
    """What the plan and image steps leave for the pdf step (shared/worker/checkpoints.py), as files:
    the parse, the rendered chapters, the processed images (here in one batch)."""
    from shared.book.conversion import ConvertOptions, parse, process, render
    from shared.book.model import pack_images

    options = ConvertOptions(kind="zip", modified=datetime.fromisoformat(MODIFIED))
    book = parse((folder / "book.zip").read_bytes(), options)
    chapters = render(book)
    (folder / "parsed.json").write_text(json.dumps(book.plain_meta()), encoding="utf-8")
    (folder / "chapters.json").write_text(json.dumps([c.to_dict() for c in chapters]), encoding="utf-8")
    (folder / "images.bin").write_bytes(pack_images([process(book, key) for key in sorted(book.image_sources)]))


# -- the comparison ---------------------------------------------------------------------------------


def median_of(runs: list[Run]) -> Run:
    return Run(
        statistics.median(r.wall for r in runs),
        statistics.median(r.cpu for r in runs),
        int(statistics.median(r.rss for r in runs)),
        data=int(statistics.median(r.data for r in runs)),
        loaded=int(statistics.median(r.loaded for r in runs)),
        own=int(statistics.median(r.own for r in runs)),
        parts=max(r.parts for r in runs),
    )


def line(label: str, runs: list[Run], note: str = "") -> str:
    middle = median_of(runs)
    figures = f"{middle.wall:7.2f} s  CPU {middle.cpu:7.2f} s  {middle.rss / MIB:6.0f} MiB"
    spread = "(1 run)"
    if len(runs) > 1:
        spread = (
            f"(time {min(r.wall for r in runs):.2f}–{max(r.wall for r in runs):.2f} s, "
            f"CPU {min(r.cpu for r in runs):.2f}–{max(r.cpu for r in runs):.2f} s, "
            f"{min(r.rss for r in runs) / MIB:.0f}–{max(r.rss for r in runs) / MIB:.0f} MiB, {len(runs)} runs)"
        )
    return f"  {label:<22}: {figures}  {spread}{note}"


def compare(label: str, folder: Path, runs: int, weasyprint: Path | None, pandoc: bool) -> Run:
    """Quire's pdf step, WeasyPrint and pandoc on the book in `folder` (book.zip, its book.md);
    the median of the step's runs."""
    cli, _, errors = run_process(
        [sys.executable, "-m", "shared.cli", str(folder / "book.zip"), "--out", str(folder / "quire"), "--modified", MODIFIED],
        ROOT,
    )  # fmt: skip
    if cli.code != 0:
        raise RuntimeError(f"the CLI failed ({cli.code}): {errors}")
    write_checkpoints(folder)
    html = one_html(folder / "quire" / "app")
    results: dict[str, list[Run]] = {"quire": [], "weasyprint": [], "pandoc": []}
    notes: dict[str, str] = {}
    for turn in range(runs):
        results["quire"].append(step_run(folder))
        if weasyprint and "weasyprint" not in notes:
            run, _, errors = run_process(
                [str(weasyprint.parent / "python"), "-m", "weasyprint", str(html), "weasyprint.pdf"], folder
            )
            if run.stopped:
                notes["weasyprint"] = f"  stopped: > {STOP_AFTER:.0f} s"
            elif run.code != 0:
                notes["weasyprint"] = f"  failed ({run.code}): {errors.strip().splitlines()[-1:]}"
            else:
                results["weasyprint"].append(run)
                if sum(r.wall for r in results["weasyprint"]) > REPEAT_WITHIN and turn < runs - 1:
                    notes["weasyprint"] = f"  (not repeated: its runs took over {REPEAT_WITHIN:.0f} s)"
        if pandoc and weasyprint and turn == 0:
            command = ["pandoc", "book.md", "-o", "pandoc.pdf", f"--pdf-engine={weasyprint}"]
            run, _, errors = run_process(command, folder)
            if run.stopped or run.code != 0:
                why = f"> {STOP_AFTER:.0f} s" if run.stopped else f"exit {run.code}: {errors.strip().splitlines()[-1:]}"
                notes["pandoc"] = f"  pandoc's PDF route failed ({why})"
            else:
                results["pandoc"].append(run)
    counted = {
        "Quire": pages(folder / "step.pdf"),
        "WeasyPrint": pages(folder / "weasyprint.pdf") if results["weasyprint"] else 0,
        "pandoc": pages(folder / "pandoc.pdf") if results["pandoc"] else 0,
    }
    markdown_mb = (folder / "book.md").stat().st_size / 1e6
    images = folder / "images"
    images_mb = sum(f.stat().st_size for f in images.iterdir()) / 1e6 if images.is_dir() else 0
    print(
        f"\n{label}: {markdown_mb:.2f} MB of Markdown + {images_mb:.0f} MB of images; pages: "
        + ", ".join(f"{tool} {n}" for tool, n in counted.items() if n)
        + f"; medians of up to {runs} runs"
    )
    step = median_of(results["quire"])
    print(
        line(
            "quire pdf step",
            results["quire"],
            f"  [{step.parts} parts; {step.loaded / MIB:.0f} MiB resident before typesetting, of which the "
            f"preloaded modules the zygote shares; the step's own: {step.own / MIB:.0f} MiB]",
        )
    )
    if results["weasyprint"]:
        print(line("weasyprint (app HTML)", results["weasyprint"], notes.get("weasyprint", "")))
    elif "weasyprint" in notes:
        print(f"  weasyprint (app HTML) :{notes['weasyprint']}")
    if results["pandoc"]:
        print(line("pandoc → weasyprint", results["pandoc"]))
    elif "pandoc" in notes:
        print(f"  pandoc → weasyprint   :{notes['pandoc']}")
    print(line("quire CLI, everything", [cli], "  [parse, render, images, EPUB, web app, PDF]"))
    if results["weasyprint"]:
        other = median_of(results["weasyprint"])
        time_ratio, memory_ratio, own_ratio = step.wall / other.wall, step.rss / other.rss, step.own / other.rss
        print(
            f"  ratio quire/weasyprint: time {time_ratio:.2f}× (target ≤ 0.2×: {'holds' if time_ratio <= 0.2 else 'MISSED'}), "
            f"memory {memory_ratio:.2f}× resident (target ≤ 0.5×: {'holds' if memory_ratio <= 0.5 else 'MISSED'}), "
            f"{own_ratio:.2f}× the step's own ({'holds' if own_ratio <= 0.5 else 'MISSED'}), "
            f"CPU {step.cpu / other.cpu:.2f}×"
        )
    elif "weasyprint" in notes and "stopped" in notes["weasyprint"]:
        print(
            f"  ratio quire/weasyprint: time < {step.wall / STOP_AFTER:.3f}× (WeasyPrint stopped at {STOP_AFTER:.0f} s)"
        )
    return step


def budget_check(folder: Path, step: Run) -> None:
    """The step's CPU and memory (medians) against its budget, then one run under the step's own limits."""
    memory = DEFAULT_PDF_STEP_MEMORY_MB * MIB
    print(
        f"  step budget: CPU {step.cpu:.2f} s of {DEFAULT_STEP_CPU_SECONDS} s "
        f"({'within' if step.cpu <= DEFAULT_STEP_CPU_SECONDS else 'OVER'}); peak data segment (what the memory "
        f"limit counts) {step.data / MIB:.0f} MiB of the pdf step's {DEFAULT_PDF_STEP_MEMORY_MB} MiB "
        f"({'within' if step.data <= memory else 'OVER'}; other steps have {DEFAULT_STEP_MEMORY_MB} MiB), "
        f"peak resident {step.rss / MIB:.0f} MiB"
    )
    limited = step_run(folder, [DEFAULT_STEP_CPU_SECONDS, memory])
    where = "under the pdf step's limits (RLIMIT_CPU, RLIMIT_DATA)"
    if limited.code != 0:
        ended = signal.Signals(-limited.code).name if limited.code < 0 else f"exit {limited.code}"
        print(f"  {where}: FAILED, {ended} after {limited.wall:.1f} s")
    elif limited.refused:
        print(f"  {where}: no PDF, {limited.refused}")
    else:
        print(f"  {where}: typeset in {limited.wall:.2f} s, peak data segment {limited.data / MIB:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pandoc", action="store_true", help="also time pandoc's PDF route (about 95 s more)")
    args = parser.parse_args()
    if not shutil.which("pdfinfo"):
        sys.exit("pdfinfo is not on PATH: install poppler-utils (apt-get install poppler-utils).")
    weasyprint = weasyprint_venv()
    pandoc = args.pandoc and shutil.which("pandoc") is not None
    if pandoc:
        print(subprocess.run(["pandoc", "--version"], capture_output=True, text=True).stdout.splitlines()[0])
    else:
        print("pandoc's PDF route is left out (" + ("not on PATH" if args.pandoc else "no --pandoc") + ")")
    work = Path(tempfile.mkdtemp(prefix="quire-bench-pdf-"))
    started = time.perf_counter()
    make_images(work / "images")
    prepare(work / "1mb", 1_050_000, 30, work / "images")
    prepare(work / "5mb", 5_200_000, 60, work / "images")
    prose_book(work / "500p")
    print(f"(inputs generated in {time.perf_counter() - started:.1f} s under {work})")
    for label, folder in (("1 MB book", "1mb"), ("500-page book", "500p"), ("5 MB book", "5mb")):
        budget_check(work / folder, compare(label, work / folder, args.runs, weasyprint, pandoc))
    print(
        "\ntargets (#37): Quire's pdf step ≤ 0.2× WeasyPrint's time, ≤ 0.5× its memory; 500 pages within one step's budget"
    )
    print(f"(whole bench {time.perf_counter() - started:.0f} s)")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
