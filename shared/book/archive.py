"""Reading zip archives from authors (manuscript zips, and DOCX files, which are zips) safely.

Every entry is checked on the central directory before anything is read: count, names
(traversal, absolute paths, drive letters, backslashes, NUL, duplicates after case folding),
symlinks, encryption, declared sizes and compression ratio. Then entries are read into memory,
never extracted to disk, counting the bytes actually decompressed, so an entry that lies about its
size is stopped at the limit too.
"""

from __future__ import annotations

import io
import posixpath
import stat
import unicodedata
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import BinaryIO

from shared.book.errors import ManuscriptError


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = 2000
    max_entry_bytes: int = 64 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024
    # Text compresses ~10:1 and DOCX XML up to ~50:1; 200:1 is only reached by bombs.
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1024 * 1024  # small entries may compress very well


DEFAULT_LIMITS = ArchiveLimits()
# An archive read from a file, entry by entry, never holds more than one entry in memory, so its
# total is bounded by what a book's images can sensibly be (and by the pixel cap), not by memory.
STREAMED_LIMITS = replace(DEFAULT_LIMITS, max_total_bytes=4 * 1024 * 1024 * 1024)


def _open(data: bytes, what: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ManuscriptError(f"The {what} is damaged and cannot be opened. Save or zip it again.") from None


def check_names(infos: list[zipfile.ZipInfo], what: str, limits: ArchiveLimits) -> None:
    if len(infos) > limits.max_entries:
        raise ManuscriptError(
            f"The {what} holds {len(infos)} files; Quire accepts at most {limits.max_entries}. "
            "Keep only the manuscript and the images it uses."
        )
    seen: set[str] = set()
    declared_total = 0
    for info in infos:
        name = info.filename
        if "\x00" in name or "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise ManuscriptError(
                f"The {what} contains a file with an unsafe name ({name!r}). Zip the folder again "
                "with a standard tool, using relative paths."
            )
        parts = name.split("/")
        if ".." in parts:
            raise ManuscriptError(
                f"The {what} contains a path that climbs out of the archive ({name!r}). Zip the folder again."
            )
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ManuscriptError(f"The {what} contains a symbolic link ({name!r}); replace it with the real file.")
        if info.flag_bits & 0x1:
            raise ManuscriptError(f"The {what} is encrypted ({name!r}). Upload it without a password.")
        folded = unicodedata.normalize("NFC", name).casefold()
        if folded in seen:
            raise ManuscriptError(f"The {what} contains two files named {name!r} (ignoring case). Rename one.")
        seen.add(folded)
        if info.file_size > limits.max_entry_bytes:
            raise ManuscriptError(
                f"The file {name!r} in the {what} unpacks to {info.file_size // 2**20} MiB; the limit is "
                f"{limits.max_entry_bytes // 2**20} MiB per file."
            )
        declared_total += info.file_size
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise ManuscriptError(
                f"The file {name!r} in the {what} is compressed suspiciously well (a zip bomb?). Upload the real files."
            )
    if declared_total > limits.max_total_bytes:
        raise ManuscriptError(
            f"The {what} unpacks to {declared_total // 2**20} MiB; the limit is "
            f"{limits.max_total_bytes // 2**20} MiB. Shrink the images."
        )


def read_archive(data: bytes, what: str = "zip archive", limits: ArchiveLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """All regular files of the archive, by name, read in memory under the limits."""
    with _open(data, what) as archive:
        infos = archive.infolist()
        check_names(infos, what, limits)
        files: dict[str, bytes] = {}
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            budget = min(limits.max_entry_bytes, limits.max_total_bytes - total)
            content = _read_bounded(archive, info, budget, what)
            total += len(content)
            files[info.filename] = content
        return files


class ArchiveFiles(Mapping[str, bytes]):
    """An archive's regular files by name, each read (bounded by the size it declares) only when
    asked for: a 1 GiB zip of photos is never in memory at once. The file must stay open while
    this is used."""

    def __init__(self, file: BinaryIO, what: str = "zip archive", limits: ArchiveLimits = STREAMED_LIMITS) -> None:
        try:
            self._archive = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, ValueError, OSError):
            raise ManuscriptError(f"The {what} is damaged and cannot be opened. Save or zip it again.") from None
        infos = self._archive.infolist()
        check_names(infos, what, limits)
        self._infos = {info.filename: info for info in infos if not info.is_dir()}
        self._what = what

    def __getitem__(self, name: str) -> bytes:
        info = self._infos[name]
        return _read_bounded(self._archive, info, info.file_size, self._what)

    def __iter__(self) -> Iterator[str]:
        return iter(self._infos)

    def __len__(self) -> int:
        return len(self._infos)

    def __contains__(self, name: object) -> bool:
        return name in self._infos


def _read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, what: str) -> bytes:
    chunks = []
    size = 0
    try:
        with archive.open(info) as entry:
            while chunk := entry.read(1024 * 1024):
                size += len(chunk)
                if size > budget:
                    raise ManuscriptError(
                        f"The file {info.filename!r} in the {what} unpacks to more than it declares "
                        "(a zip bomb?). Upload the real files."
                    )
                chunks.append(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as error:
        raise ManuscriptError(
            f"The file {info.filename!r} in the {what} cannot be read ({error}). Zip it again."
        ) from None
    return b"".join(chunks)


def normalise_reference(reference: str, base_dir: str = "") -> str | None:
    """The archive path an image reference points to, or None when it leaves the archive."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(reference)
    if parts.scheme or parts.netloc:
        return None
    path = unquote(parts.path).replace("\\", "/")
    if not path or path.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(base_dir, path))
    if joined.startswith("../") or joined == "..":
        return None
    return joined
