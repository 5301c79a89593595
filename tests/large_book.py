"""A photo book of a given size: a zip of Markdown and distinct camera-sized JPEGs of noise (noise
does not compress, so the zip is as large as its photos), written to disk without holding it in
memory. For the direct-upload tests and bench/upload."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

PHOTO_SIZE = (4000, 3000)  # 12 megapixels, about 11 MiB of noise at quality 92


def write_photo_book(path: Path, target_bytes: int) -> int:
    """Write the zip at `path`, at least `target_bytes` large; returns how many photos it holds."""
    from PIL import Image

    photos = 0
    chapters = ["---\ntitle: A Large Photo Book\nauthor: Quire Tests\nlanguage: en\n---\n"]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        while path.stat().st_size < target_bytes:
            photo = Image.frombytes("RGB", PHOTO_SIZE, os.urandom(PHOTO_SIZE[0] * PHOTO_SIZE[1] * 3))
            data = io.BytesIO()
            photo.save(data, "JPEG", quality=92)
            photos += 1
            archive.writestr(f"photos/photo-{photos:03d}.jpg", data.getvalue())
            chapters.append(
                f"\n# Plate {photos}\n\nA photograph of nothing in particular, number {photos}.\n\n"
                f"![Plate {photos}: noise](photos/photo-{photos:03d}.jpg)\n"
            )
            archive.fp.flush()  # type: ignore[union-attr]
        archive.writestr("book.md", "".join(chapters), compress_type=zipfile.ZIP_DEFLATED)
    return photos
