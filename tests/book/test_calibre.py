"""calibre, the e-book manager many readers keep their books in, reads every book Quire makes:
`ebook-meta` finds the title, authors, languages, identifiers and cover that Quire wrote in the
package document, and `ebook-convert` makes a Kindle book (AZW3) of it without an error.

calibre is Debian's (scripts/install-system-deps.sh). It runs headless, on Qt's offscreen platform,
with its home, configuration, runtime and temporary folders inside the test's own folder, so it
writes nothing anywhere else.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from lxml import etree

from shared.book import Conversion
from tests import tiers
from tests.book.conftest import GOOD_BOOKS, selected_books

OPF = "{http://www.idpf.org/2007/opf}"
DC = "{http://purl.org/dc/elements/1.1/}"
CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
# calibre names a language by its ISO 639-2 code ("en-GB" is "eng"): the corpus's languages and a few
# more. A book in another one fails below, asking for its line here.
CALIBRE_LANGUAGES = {
    "ar": "ara",
    "de": "deu",
    "el": "ell",
    "en": "eng",
    "es": "spa",
    "fr": "fra",
    "he": "heb",
    "ja": "jpn",
    "ru": "rus",
    "zh": "zho",
}
# calibre keeps a urn:uuid identifier as the book's own uuid, which ebook-meta does not print: the
# identifiers it lists are the others, as scheme:value ("urn:isbn:978…" is "isbn:978…").
UUID = "urn:uuid:"
# Two at a time: the machine has two cores and EPUBCheck and Ace share them the same way.
CALIBRE_PROCESSES = 2


@dataclass(frozen=True)
class Metadata:
    """What a reader's library shows of a book. `cover` is the SHA-256 of the cover image's bytes."""

    title: str
    authors: tuple[str, ...]
    languages: tuple[str, ...]
    identifiers: tuple[str, ...]
    cover: str | None


def package_document(archive: zipfile.ZipFile) -> tuple[str, etree._Element]:
    container = etree.fromstring(archive.read("META-INF/container.xml"))
    path = container.find(f".//{CONTAINER}rootfile").get("full-path")
    return path, etree.fromstring(archive.read(path))


def cover_image(epub: bytes) -> bytes | None:
    """The image the package document names its cover (`properties="cover-image"`)."""
    with zipfile.ZipFile(io.BytesIO(epub)) as archive:
        path, package = package_document(archive)
        for item in package.iter(f"{OPF}item"):
            if "cover-image" in item.get("properties", "").split():
                return archive.read((Path(path).parent / item.get("href")).as_posix())
    return None


def written_metadata(epub: bytes) -> Metadata:
    """The metadata Quire wrote in the book's package document, as calibre is expected to report it."""
    with zipfile.ZipFile(io.BytesIO(epub)) as archive:
        _, package = package_document(archive)
        metadata = package.find(f"{OPF}metadata")
        roles = {
            meta.get("refines", "").removeprefix("#"): meta.text
            for meta in metadata.iter(f"{OPF}meta")
            if meta.get("property") == "role"
        }
        authors = tuple(
            (creator.text or "").strip()
            for creator in metadata.iter(f"{DC}creator")
            if roles.get(creator.get("id", ""), "aut") == "aut"
        )
        languages = []
        for language in metadata.iter(f"{DC}language"):
            primary = (language.text or "").strip().split("-")[0].lower()
            if primary not in CALIBRE_LANGUAGES:
                pytest.fail(f"no ISO 639-2 code for the language {language.text!r}: add it to CALIBRE_LANGUAGES")
            languages.append(CALIBRE_LANGUAGES[primary])
        identifiers = []
        for identifier in metadata.iter(f"{DC}identifier"):
            value = (identifier.text or "").strip()
            if not value.startswith(UUID):
                identifiers.append(value.removeprefix("urn:"))
    image = cover_image(epub)
    return Metadata(
        title=(metadata.findtext(f"{DC}title") or "").strip(),
        authors=authors,
        languages=tuple(languages),
        identifiers=tuple(sorted(identifiers)),
        cover=hashlib.sha256(image).hexdigest() if image is not None else None,
    )


def calibre_environment(folder: Path) -> dict[str, str]:
    """Headless, and writing only under `folder`."""
    places = {name: folder / name.lower() for name in ("HOME", "CALIBRE_CONFIG_DIRECTORY", "TMPDIR", "XDG_RUNTIME_DIR")}
    for place in places.values():
        place.mkdir(mode=0o700, parents=True, exist_ok=True)  # Qt refuses a runtime folder others can read
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", **{name: str(place) for name, place in places.items()}}


def run_calibre(*command: str, folder: Path) -> subprocess.CompletedProcess[str]:
    tiers.require("tools", f"runs calibre's {command[0]}")
    if shutil.which(command[0]) is None:
        pytest.fail(
            "calibre is not installed: run ./scripts/install-system-deps.sh (as root) or apt-get install calibre"
        )
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=calibre_environment(folder / "calibre"), cwd=folder
    )


def calibre_metadata(book: Path) -> Metadata:
    """What `ebook-meta` reports of an EPUB or AZW3 file, and the cover it finds."""
    cover_file = book.with_name(f"{book.name}.cover")
    done = run_calibre("ebook-meta", str(book), f"--get-cover={cover_file}", folder=book.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    fields = dict(re.findall(r"^(Title|Author\(s\)|Languages|Identifiers)\s*: (.*)$", done.stdout, re.MULTILINE))
    authors = tuple(fields.get("Author(s)", "").split(" & "))
    identifiers = tuple(
        sorted(item for item in fields.get("Identifiers", "").split(", ") if item and not item.startswith("mobi-asin:"))
    )  # calibre gives every AZW3 a made-up ASIN of its own
    return Metadata(
        title=fields.get("Title", ""),
        authors=() if authors == ("Unknown",) else authors,  # calibre's word for a book with no author
        languages=tuple(fields.get("Languages", "").split(", ")) if fields.get("Languages") else (),
        identifiers=identifiers,
        cover=hashlib.sha256(cover_file.read_bytes()).hexdigest() if cover_file.is_file() else None,
    )


def write_books(books: dict[str, bytes], folder: Path) -> dict[str, Path]:
    paths = {}
    for name, epub in books.items():
        (folder / name).mkdir(parents=True)
        paths[name] = folder / name / "book.epub"
        paths[name].write_bytes(epub)
    return paths


@pytest.fixture(scope="session")
def calibre_reads(
    request: pytest.FixtureRequest, converted: dict[str, Conversion], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Metadata]:
    """What `ebook-meta` reports of every book the session tests, two at a time (a third of a second each)."""
    names = selected_books(request, GOOD_BOOKS)
    paths = write_books({name: converted[name].epub for name in names}, tmp_path_factory.mktemp("calibre-meta"))
    with ThreadPoolExecutor(CALIBRE_PROCESSES) as pool:
        return dict(zip(paths, pool.map(calibre_metadata, paths.values()), strict=True))


@dataclass(frozen=True)
class KindleConversion:
    returncode: int
    output: str
    azw3: bytes
    metadata: Metadata | None  # what ebook-meta reads back from the AZW3, if there is one


def convert_to_azw3(epub: Path) -> KindleConversion:
    azw3 = epub.with_suffix(".azw3")
    done = run_calibre("ebook-convert", str(epub), str(azw3), folder=epub.parent)
    made = azw3.is_file()
    return KindleConversion(
        returncode=done.returncode,
        output=done.stdout + done.stderr,
        azw3=azw3.read_bytes() if made else b"",
        metadata=calibre_metadata(azw3) if made else None,
    )


@pytest.fixture(scope="session")
def kindle_conversions(
    request: pytest.FixtureRequest, converted: dict[str, Conversion], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, KindleConversion]:
    """`ebook-convert book.epub book.azw3` for every book the session tests, two at a time (half a
    second to a second each here, and slower when the machine is busy: the `slow` tier)."""
    tiers.require("slow", "converts every book with calibre")
    names = selected_books(request, GOOD_BOOKS)
    paths = write_books({name: converted[name].epub for name in names}, tmp_path_factory.mktemp("calibre-azw3"))
    with ThreadPoolExecutor(CALIBRE_PROCESSES) as pool:
        return dict(zip(paths, pool.map(convert_to_azw3, paths.values()), strict=True))


@pytest.mark.parametrize("name", list(GOOD_BOOKS))
def test_calibre_reads_the_metadata_quire_wrote(
    name: str, calibre_reads: dict[str, Metadata], converted: dict[str, Conversion]
) -> None:
    written = written_metadata(converted[name].epub)
    assert written.title and written.languages and written.cover  # every book has these to compare
    assert calibre_reads[name] == written


OTHER_IMAGE = "img-85b1bf7190e558e0"  # a photograph in the book's second chapter


@pytest.mark.tools  # runs ebook-meta itself
def test_the_metadata_check_sees_a_tampered_package_document(converted: dict[str, Conversion], tmp_path: Path) -> None:
    """The same book with every compared field changed in its package document: calibre reports
    each change, so the comparison above is one that can fail."""
    epub = converted["markdown-zip-every-feature"].epub
    changes = [
        (b"<dc:title>The Harbour: a Novel</dc:title>", b"<dc:title>The Quay</dc:title>"),
        (b'<dc:creator id="creator2">Ben Editor</dc:creator>', b""),
        (b"<dc:language>en-GB</dc:language>", b"<dc:language>fr</dc:language>"),
        (b"urn:isbn:9783161484100", b"urn:isbn:9780306406157"),
        (b' properties="cover-image"', b""),  # another image is named the cover
        (b'<meta name="cover" content="cover-image"/>', f'<meta name="cover" content="{OTHER_IMAGE}"/>'.encode()),
        (
            f'<item id="{OTHER_IMAGE}" href="images/{OTHER_IMAGE}.jpg" media-type="image/jpeg"/>'.encode(),
            f'<item id="{OTHER_IMAGE}" href="images/{OTHER_IMAGE}.jpg" media-type="image/jpeg" properties="cover-image"/>'.encode(),
        ),
    ]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(epub)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "OEBPS/content.opf":
                for old, new in changes:
                    assert old in data, old
                    data = data.replace(old, new)
            target.writestr(info, data, compress_type=info.compress_type)
    book = tmp_path / "tampered.epub"
    book.write_bytes(out.getvalue())
    read = calibre_metadata(book)
    written = written_metadata(epub)
    assert read == replace(
        written,
        title="The Quay",
        authors=("Ada Writer",),
        languages=("fra",),
        identifiers=("isbn:9780306406157",),
        cover=hashlib.sha256(zipfile.ZipFile(book).read(f"OEBPS/images/{OTHER_IMAGE}.jpg")).hexdigest(),
    )
    assert all(getattr(read, field) != getattr(written, field) for field in Metadata.__dataclass_fields__)


@pytest.mark.parametrize("name", list(GOOD_BOOKS))
def test_calibre_makes_a_kindle_book(
    name: str, kindle_conversions: dict[str, KindleConversion], converted: dict[str, Conversion]
) -> None:
    done = kindle_conversions[name]
    assert done.returncode == 0, done.output[-3000:]
    assert "Traceback" not in done.output and "ERROR" not in done.output, done.output[-3000:]
    assert done.azw3[60:68] == b"BOOKMOBI"  # a Mobipocket/KF8 database, as Kindles read
    epub = converted[name].epub
    cover = cover_image(epub)
    assert cover and cover in done.azw3  # the book's images went in, the cover at least
    written = written_metadata(epub)
    assert done.metadata is not None
    assert replace(done.metadata, cover=None) == replace(written, cover=None)
    assert done.metadata.cover is not None  # and calibre finds it there as the cover
