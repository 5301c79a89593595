"""Conversion benchmark: `python -m shared.cli` against pandoc, on the same input, in the same run.

Generates a ~1 MB Markdown book with ~10 MB of camera-sized images, a ~5 MB book with the same
images, and the 1 MB book as an mdBook project (30 chapter files in folders, a SUMMARY.md, links
between the files), then times pandoc (`pandoc book.md -o book.epub`; for the project, pandoc's
ordered file list) and the CLI on each (median of --runs), with the peak resident memory and CPU of
each process. Targets: at 1 MB (one file or many) ≤ 0.5× pandoc's time and ≤ 0.5× its memory; at
5 MB ≤ 0.25× its time; memory growing no faster than the input. For each book, then, what the
web-app book's search index and an edition's change summary (against the book with one sentence in
50 edited) cost, against the CLI's median time and CPU on it (#39: ≤ 10 %), and the index's gzipped
size against the book's text (bench/added_cost.py).

Run: `.venv/bin/python bench/convert.py [--runs 3]` (needs pandoc on PATH: `apt-get install pandoc`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The CLI is timed one run at a time: compiling every module on each run, as this variable forces
# (some machines set it), is not its cost, and the long-lived hosts pay it once.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.path.insert(0, str(ROOT))

WORDS = [
    "harbour",
    "quay",
    "tide",
    "lantern",
    "rope",
    "sail",
    "gull",
    "mast",
    "keel",
    "anchor",
    "salt",
    "fog",
    "shore",
    "dawn",
    "dusk",
    "wave",
    "stone",
    "bridge",
    "market",
    "fisher",
    "net",
    "crate",
    "barrel",
    "ledger",
    "captain",
    "cargo",
    "voyage",
    "storm",
    "calm",
    "mooring",
    "pier",
]


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
    words[0] = words[0].capitalize()
    if rng.random() < 0.2:
        words[2] = f"*{words[2]}*"
    if rng.random() < 0.1:
        words[4] = f"“{words[4]}”"
    return " ".join(words) + rng.choice([".", ".", ".", "…", "!"])


def book_markdown(
    target_bytes: int, chapters: int, images: list[str], seed: int = 1, image_folder: str = "images"
) -> str:
    rng = random.Random(seed)
    parts = [
        "---\ntitle: The Benchmark Harbour\nauthor: Bench Writer\nlanguage: en-GB\nisbn: 978-3-16-148410-0\n"
        "cover-image: images/cover.jpg\n---\n"
    ]
    per_chapter = target_bytes // chapters
    for number in range(1, chapters + 1):
        chunk = [f"# Chapter {number}\n"]
        size = 0
        notes = []
        section = 0
        while size < per_chapter:
            roll = rng.random()
            if roll < 0.04:
                section += 1
                block = f"## Section {number}.{section}\n"
            elif roll < 0.05:
                block = f"### Part {number}.{section}.{rng.randint(1, 9)}\n"
            elif roll < 0.07:
                block = "> " + sentence(rng) + "\n>\n> — " + rng.choice(WORDS).capitalize() + "\n"
            elif roll < 0.08:
                block = "| Ship | Tons | Port |\n|:--|--:|:-:|\n" + "".join(
                    f"| {rng.choice(WORDS)} | {rng.randint(100, 9000)} | {rng.choice(WORDS)} |\n" for _ in range(5)
                )
            elif roll < 0.09:
                block = "```python\ndef voyage(n):\n    return [n * 2 for _ in range(n)]\n```\n"
            elif roll < 0.11:
                block = "".join(f"- {sentence(rng)}\n" for _ in range(4))
            else:
                text = " ".join(sentence(rng) for _ in range(rng.randint(3, 7)))
                if rng.random() < 0.06:
                    label = f"c{number}n{len(notes) + 1}"
                    text += f"[^{label}]"
                    notes.append(f"[^{label}]: {sentence(rng)}\n")
                block = text + "\n"
            chunk.append(block)
            size += len(block.encode())
        if number <= len(images) * 2:
            image = images[(number - 1) % len(images)]
            chunk.append(f"![Figure {number}: {rng.choice(WORDS)}]({image_folder}/{image})\n")
        chunk.extend(notes)
        parts.append("\n".join(chunk))
    return "\n".join(parts)


def make_images(folder: Path) -> list[str]:
    from PIL import Image, ImageDraw, ImageFilter

    folder.mkdir(parents=True, exist_ok=True)
    sizes = [(6000, 4000), (4032, 3024), (4032, 3024), (3000, 2000), (1080, 1350)]
    names = []
    for index, (width, height) in enumerate(sizes):
        gradient = Image.linear_gradient("L").resize((width, height))
        noise = (
            Image.effect_noise((width // 4, height // 4), 60)
            .resize((width, height))
            .filter(ImageFilter.GaussianBlur(1))
        )
        image = Image.merge("RGB", (gradient, noise, gradient.rotate(90, expand=False)))
        name = f"photo{index + 1}.jpg"
        image.save(folder / name, "JPEG", quality=75)
        names.append(name)
    diagram = Image.new("RGB", (2400, 1600), "white")
    draw = ImageDraw.Draw(diagram)
    for x in range(0, 2400, 60):
        draw.line((x, 0, 2400 - x, 1600), fill="black", width=3)
    diagram.save(folder / "diagram.png")
    names.append("diagram.png")
    cover = Image.linear_gradient("L").resize((1600, 2560)).convert("RGB")
    cover.save(folder / "cover.jpg", "JPEG", quality=90)
    return names


def measure(command: list[str], cwd: Path) -> tuple[float, int, float]:
    """Wall time, peak RSS (bytes) and CPU seconds (user + system) of one run of `command`,
    measured by a small parent process."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "elapsed = time.perf_counter() - start\n"
        "used = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(done.returncode, elapsed, used.ru_maxrss, used.ru_utime + used.ru_stime)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, *command], cwd=cwd, capture_output=True, text=True, check=True)
    code, elapsed, rss_kib, cpu = out.stdout.split()
    if code != "0":
        raise RuntimeError(f"{command[0]} failed with {code}")
    return float(elapsed), int(rss_kib) * 1024, float(cpu)


def compare(label: str, folder: Path, runs: int, pandoc_inputs: list[str] | None = None) -> dict[str, float]:
    """Pandoc and the CLI on the book in `folder` (book.zip for Quire; book.md, or the files of
    `pandoc_inputs` in order, for pandoc)."""
    cli = [
        sys.executable,
        "-m",
        "shared.cli",
        str(folder / "book.zip"),
        "--out",
        str(folder / "quire"),
        "--modified",
        "2026-11-21T00:00:00Z",
        "--no-pdf",  # pandoc makes the EPUB alone here; the print PDF is bench/pdf.py's to measure
    ]
    sources = pandoc_inputs or ["book.md"]
    # pandoc finds each file's images from the working directory, then along its resource path.
    folders = ":".join(sorted({str(Path(source).parent) for source in sources}))
    pandoc = [
        "pandoc",
        *sources,
        "-o",
        "pandoc.epub",
        "--resource-path",
        folders,
        "--metadata",
        "title=The Benchmark Harbour",
    ]
    results: dict[str, list[tuple[float, int, float]]] = {"pandoc": [], "quire": []}
    for _ in range(runs):
        results["pandoc"].append(measure(pandoc, folder))
        results["quire"].append(measure([*cli[:3], *cli[3:]], ROOT))
    summary = {}
    spread = {}
    for tool, samples in results.items():
        summary[f"{tool}_time"] = statistics.median(s[0] for s in samples)
        summary[f"{tool}_rss"] = statistics.median(s[1] for s in samples)
        summary[f"{tool}_cpu"] = statistics.median(s[2] for s in samples)
        spread[tool] = (
            f"(time {min(s[0] for s in samples):.2f}–{max(s[0] for s in samples):.2f} s, "
            f"{min(s[1] for s in samples) / 2**20:.0f}–{max(s[1] for s in samples) / 2**20:.0f} MiB, "
            f"CPU {min(s[2] for s in samples):.2f}–{max(s[2] for s in samples):.2f} s)"
        )
    text_mb = sum((folder / source).stat().st_size for source in sources) / 1e6
    print(
        f"\n{label}: {text_mb:.2f} MB of Markdown in {len(sources)} file(s) + {sum(f.stat().st_size for f in (folder / 'images').iterdir()) / 1e6:.1f} MB of images, median of {runs}"
    )
    print(
        f"  pandoc : {summary['pandoc_time']:6.2f} s  {summary['pandoc_rss'] / 2**20:6.0f} MiB  CPU {summary['pandoc_cpu']:5.2f} s  EPUB {(folder / 'pandoc.epub').stat().st_size / 1e6:5.1f} MB  {spread['pandoc']}"
    )
    print(
        f"  quire  : {summary['quire_time']:6.2f} s  {summary['quire_rss'] / 2**20:6.0f} MiB  CPU {summary['quire_cpu']:5.2f} s  EPUB {(folder / 'quire' / 'book.epub').stat().st_size / 1e6:5.1f} MB  (+ web-app book)  {spread['quire']}"
    )
    print(
        f"  ratio  : time {summary['quire_time'] / summary['pandoc_time']:.2f}×   memory {summary['quire_rss'] / summary['pandoc_rss']:.2f}×   CPU {summary['quire_cpu'] / summary['pandoc_cpu']:.2f}×"
    )
    summary["text_mb"] = text_mb
    added_cost(folder, runs, summary)
    return summary


def added_cost(folder: Path, runs: int, summary: dict[str, float]) -> None:
    """The search index's and the change summary's cost against the CLI's on this book, measured in
    a process of its own (bench/added_cost.py)."""
    from bench.added_cost import report

    script = str(ROOT / "bench" / "added_cost.py")
    out = subprocess.run(
        [sys.executable, script, str(folder), "--runs", str(runs)], capture_output=True, text=True, check=True
    )
    for line in report(json.loads(out.stdout), summary["quire_time"], summary["quire_cpu"]):
        print(line)


def prepare(folder: Path, target: int, chapters: int, images: Path) -> None:
    folder.mkdir(parents=True)
    shutil.copytree(images, folder / "images")
    names = sorted(p.name for p in images.iterdir() if p.name != "cover.jpg")
    (folder / "book.md").write_text(book_markdown(target, chapters, names), encoding="utf-8")
    with zipfile.ZipFile(folder / "book.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(folder / "book.md", "book.md")
        for path in sorted((folder / "images").iterdir()):
            archive.write(path, f"images/{path.name}", compress_type=zipfile.ZIP_STORED)


def prepare_project(folder: Path, target: int, chapters: int, images: Path) -> list[str]:
    """The book as an mdBook project: one file per chapter in two folders, in SUMMARY.md's order,
    each linking to the next chapter and to a heading in the previous one. Returns pandoc's
    ordered file list."""
    folder.mkdir(parents=True)
    shutil.copytree(images, folder / "images")
    names = sorted(p.name for p in images.iterdir() if p.name != "cover.jpg")
    text = book_markdown(target, chapters, names, image_folder="../images")
    bodies = ["# Chapter " + body for body in text.split("\n# Chapter ")[1:]]
    files = [f"{'part1' if n <= chapters // 2 else 'part2'}/ch{n}.md" for n in range(1, len(bodies) + 1)]
    for number, (name, body) in enumerate(zip(files, bodies, strict=True), start=1):
        here = Path(name).parent
        links = []
        if number < len(files):
            links.append(f"On to [the next chapter]({os.path.relpath(files[number], here)}).")
        if number > 1:
            links.append(f"Back to [its opening]({os.path.relpath(files[number - 2], here)}#chapter-{number - 1}).")
        path = folder / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(body + "\n" + " ".join(links) + "\n", encoding="utf-8")
    summary = "# Summary\n\n" + "".join(f"- [Chapter {n}]({name})\n" for n, name in enumerate(files, start=1))
    (folder / "SUMMARY.md").write_text(summary, encoding="utf-8")
    (folder / "book.toml").write_text('[book]\ntitle = "The Benchmark Harbour"\nauthors = ["Bench Writer"]\n')
    with zipfile.ZipFile(folder / "book.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ["book.toml", "SUMMARY.md", *files]:
            archive.write(folder / name, name)
        for path in sorted((folder / "images").iterdir()):
            archive.write(path, f"images/{path.name}", compress_type=zipfile.ZIP_STORED)
    return files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("pandoc"):
        sys.exit("pandoc is not on PATH: install it (apt-get install pandoc, or pip install pypandoc-binary).")
    print(subprocess.run(["pandoc", "--version"], capture_output=True, text=True).stdout.splitlines()[0])
    work = Path(tempfile.mkdtemp(prefix="quire-bench-"))
    started = time.perf_counter()
    make_images(work / "images")
    prepare(work / "1mb", 1_050_000, 30, work / "images")
    prepare(work / "5mb", 5_200_000, 60, work / "images")
    project_files = prepare_project(work / "project", 1_050_000, 30, work / "images")
    print(f"(inputs generated in {time.perf_counter() - started:.1f} s under {work})")
    one = compare("1 MB book", work / "1mb", args.runs)
    five = compare("5 MB book", work / "5mb", args.runs)
    compare("1 MB book of 30 files (mdBook project)", work / "project", args.runs, project_files)
    growth = five["quire_rss"] / one["quire_rss"]
    print(
        f"\nmemory growth 1 MB → 5 MB: quire {growth:.2f}× , pandoc {five['pandoc_rss'] / one['pandoc_rss']:.2f}×, input {five['text_mb'] / one['text_mb']:.2f}×"
    )
    print("targets: 1 MB (one file or 30) time ≤ 0.5×, memory ≤ 0.5×; 5 MB time ≤ 0.25×; memory growth ≤ input growth")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
