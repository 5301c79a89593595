"""Images for phones: decoded under a pixel limit, oriented, converted to RGB, scaled, re-encoded.

Re-encoding strips metadata and anything smuggled after the image data. Photos become JPEG
(quality 80, progressive); images with transparency, and PNGs whose PNG encoding is smaller than
the JPEG one (line art), stay PNG. Limits: long edge ≤ 1600 px and ≤ 5.6 Mpx (Apple's cap).
A photo (a JPEG) wider than 480, 720 or 960 px also gets copies that wide, made here from the pixels
already decoded, for the web-app book's `srcset`: a phone downloads a third to a tenth of the bytes.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import tempfile
import warnings
from typing import Any

from shared.book.errors import ManuscriptError
from shared.book.model import ImageCopy, ProcessedImage
from shared.book.svg import MEDIA_TYPE as SVG_MEDIA_TYPE
from shared.book.svg import SvgError, is_svg, sanitize_svg, svg_size

MAX_LONG_EDGE = 1600
MAX_PIXELS_OUT = 5_600_000
# Decoding cap: 64 Mpx covers every camera in use; above it, a file is a decompression bomb.
MAX_PIXELS_IN = 64_000_000
ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
JPEG_QUALITY = 80
# A JPEG whose 1/2, 1/4 or 1/8 DCT scale is at least this share of the capped size is decoded at
# that scale and not resampled: a 6000×4000 photo becomes 1500×1000 straight from the decoder
# (0.2 s, 14 MiB) where decoding at 3000×2000 and resampling to 1600 took 0.4 s and 46 MiB. Either
# is wider than a phone's screen in device pixels.
DRAFT_SHORTFALL = 0.9
COVER_SIZE = (1600, 2400)
# The web-app book's phone copies of a photo: the text column of a phone 412 CSS px wide (372 px)
# takes 480 px at 1×, 720 at 1.75× (Lighthouse's phone: 651 px) and 960 at 2.6×; a wider screen or
# a denser one takes the photo itself. A copy is made only for a photo at least a fifth wider.
COPY_WIDTHS = (480, 720, 960)
COPY_MIN_SHARE = 1.2
ICON_SIZES = (192, 512)


def image_key(data: bytes) -> str:
    """A stable name for an image: the same bytes get the same key, whatever they were called."""
    return "img-" + hashlib.sha256(data).hexdigest()[:16]


def _open(data: bytes, reference: str) -> Any:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS_IN
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
            if image.width * image.height > MAX_PIXELS_IN:
                raise Image.DecompressionBombError("too many pixels")
            return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ManuscriptError(
            f"The image '{reference}' is far too large to be a book illustration (over "
            f"{MAX_PIXELS_IN // 1_000_000} megapixels). Export it at a normal size."
        ) from None
    except MemoryError:
        raise  # over the step's memory budget: not a damaged image
    except Exception:
        raise ManuscriptError(
            f"The image '{reference}' is not a JPEG, PNG, GIF or WebP image Quire can read. Re-export it as JPEG or PNG."
        ) from None


def declared_size(data: bytes) -> tuple[int, int]:
    """An image's size as its header declares it, without decoding it; (0, 0) when unreadable
    (processing reports the damaged image by name)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:
        return (0, 0)


def _target_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, MAX_LONG_EDGE / max(width, height), math.sqrt(MAX_PIXELS_OUT / (width * height)))
    return max(1, int(width * scale)), max(1, int(height * scale))


def process_svg(data: bytes, reference: str, key: str | None = None) -> ProcessedImage:
    """An SVG drawing made safe (shared/book/svg.py), its size capped like a raster's. Raises
    ManuscriptError when it cannot be (the parse step leaves such drawings out first)."""
    try:
        safe = sanitize_svg(data)
    except SvgError as error:
        raise ManuscriptError(f"The SVG image '{reference}' cannot be carried in the book: {error}.") from None
    width, height = svg_size(safe)
    scale = min(1.0, MAX_LONG_EDGE / max(width, height))
    return ProcessedImage(
        key=key or image_key(data),
        media_type=SVG_MEDIA_TYPE,
        extension="svg",
        width=max(1, round(width * scale)),
        height=max(1, round(height * scale)),
        data=safe,
    )


def process_image(data: bytes, reference: str, key: str | None = None) -> ProcessedImage:
    """Decode, orient, scale and re-encode one image (an SVG: made safe). Raises ManuscriptError on
    a bad image."""
    from PIL import Image, ImageOps

    if is_svg(reference):
        return process_svg(data, reference, key)

    image = _open(data, reference)
    try:
        source_format = image.format
        if source_format == "JPEG":
            # Decode at a reduced DCT scale: far faster, and a 24 Mpx photo never exists in memory
            # at full size. A scale that lands a little under the cap is kept as it is (see
            # DRAFT_SHORTFALL).
            width, height = _target_size(image.width, image.height)
            image.draft("RGB", (int(width * DRAFT_SHORTFALL), int(height * DRAFT_SHORTFALL)))
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        colours = image.getcolors(256) if source_format in ("PNG", "GIF") else None
        ImageOps.exif_transpose(image, in_place=True)
        has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
        wanted_mode = "RGBA" if has_alpha else "RGB"
        if image.mode != wanted_mode:
            image = image.convert(wanted_mode)  # CMYK, palette, greyscale → RGB(A)
        target = _target_size(image.width, image.height)
        if image.size != target:
            image.thumbnail(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
    except ManuscriptError:
        raise
    except MemoryError:
        raise  # over the step's memory budget: not a damaged image
    except Exception:
        raise ManuscriptError(
            f"The image '{reference}' is damaged and cannot be decoded. Re-export it as JPEG or PNG."
        ) from None

    if colours is not None:
        # Line art and diagrams: resampling adds in-between shades that bloat a PNG. A palette a
        # little richer than the source's own colours keeps the edges smooth and the file small.
        size = min(256, max(4, 2 * len(colours)))
        method = Image.Quantize.FASTOCTREE if has_alpha else Image.Quantize.MEDIANCUT
        palette = image.quantize(size, method=method)
        extension, media_type, encoded = "png", "image/png", _encode_png(palette)
    elif has_alpha:
        extension, media_type, encoded = "png", "image/png", _encode_png(image)
    else:
        extension, media_type, encoded = "jpg", "image/jpeg", _encode_jpeg(image)
        if source_format in ("PNG", "GIF", "WEBP"):
            as_png = _encode_png(image)
            if len(as_png) < len(encoded):
                extension, media_type, encoded = "png", "image/png", as_png
    return ProcessedImage(
        key=key or image_key(data),
        media_type=media_type,
        extension=extension,
        width=image.width,
        height=image.height,
        data=encoded,
        copies=phone_copies(image) if extension == "jpg" else (),
    )


def phone_copies(image: Any) -> tuple[ImageCopy, ...]:
    """Narrower JPEG copies of a decoded RGB photo (COPY_WIDTHS), narrowest first; none when it is
    not wider than COPY_MIN_SHARE × the narrowest width. Line art and transparent images (PNG)
    get none: resampling blurs line art, and its files are small.

    Each copy is resampled from the next wider one, not from the photo (30 ms for a 1600 px
    photo's three where each from the photo took 52 ms), bicubic and saved as a baseline JPEG:
    the six photos of bench/convert.py's book got their copies in 0.16 s where Lanczos and
    progressive JPEGs took 0.28 s, for 2 % more bytes, alike at these sizes (a copy this small
    loads whole before it could show a progressive pass)."""
    from PIL import Image

    copies = []
    source = image
    for width in sorted((w for w in COPY_WIDTHS if image.width >= w * COPY_MIN_SHARE), reverse=True):
        height = max(1, round(image.height * width / image.width))
        source = source.resize((width, height), Image.Resampling.BICUBIC)
        copies.append(ImageCopy(width, height, _encode_jpeg(source, progressive=False)))
    return tuple(reversed(copies))


def _encoded(image: Any, image_format: str, **options: Any) -> bytes:
    """The image encoded, by way of a file descriptor.

    Pillow releases the GIL while it encodes into a real file, but holds it throughout when it
    encodes into a BytesIO: JPEG encoding, the largest part of processing a photo, then ran one
    thread at a time, however many threads processed images. Same bytes either way. The file is
    memory-backed where the system allows (Linux, as on Azure), a temporary file elsewhere.
    """
    memfd_create = getattr(os, "memfd_create", None)
    scratch = open(memfd_create("quire-image"), "w+b") if memfd_create else tempfile.TemporaryFile()  # noqa: SIM115
    with scratch:
        image.save(scratch, image_format, **options)
        scratch.seek(0)
        return scratch.read()


def _encode_jpeg(image: Any, progressive: bool = True) -> bytes:
    return _encoded(image, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=progressive)


def _encode_png(image: Any) -> bytes:
    return _encoded(image, "PNG", compress_level=6)  # level 9 / optimize: twice the time for ~3 % smaller


def generate_cover(title: str, authors: list[str], key: str = "cover") -> ProcessedImage:
    """A plain typographic JPEG cover: the title and the authors on a dark ground."""
    from PIL import Image, ImageDraw

    width, height = COVER_SIZE
    seed = hashlib.sha256(f"{title}\n{', '.join(authors)}".encode()).digest()
    ground = (20 + seed[0] % 40, 30 + seed[1] % 40, 50 + seed[2] % 50)  # a dark colour, stable per book
    image = Image.new("RGB", COVER_SIZE, ground)
    draw = ImageDraw.Draw(image)
    accent = (230, 190, 120)
    draw.rectangle((100, 140, width - 100, 150), fill=accent)
    draw.rectangle((100, height - 150, width - 100, height - 140), fill=accent)
    y = _draw_wrapped(draw, title or "Untitled", 150, 400, width - 300, (245, 240, 230), y_gap=20)
    _draw_wrapped(draw, ", ".join(authors), 80, max(y + 160, 1500), width - 300, accent, y_gap=14)
    data = _encoded(image, "JPEG", quality=85, optimize=True, progressive=True)
    return ProcessedImage(
        key=key,
        media_type="image/jpeg",
        extension="jpg",
        width=width,
        height=height,
        data=data,
        copies=phone_copies(image),
    )


def _draw_wrapped(
    draw: Any, text: str, size: int, top: int, max_width: int, fill: tuple[int, int, int], y_gap: int
) -> int:
    from PIL import ImageFont

    font = ImageFont.load_default(size=size)
    words = text.split()
    lines: list[str] = []
    line = ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if line and draw.textlength(candidate, font=font) > max_width:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    y = top
    for text_line in lines[:8]:
        draw.text((150, y), text_line, font=font, fill=fill)
        y += size + y_gap
    return y


ICON_SAFE_ZONE = 0.8  # maskable icons keep their content inside the central 80 %


def make_icons(cover: ProcessedImage) -> dict[int, bytes]:
    """Square PNG app icons (192 and 512 px) from the cover: its top, centred on its own colour."""
    from PIL import Image

    with Image.open(io.BytesIO(cover.data)) as source:
        # A JPEG decodes at a fraction of its size when that still covers the largest icon: a
        # quarter of the pixels (and of the memory) for a 1600 × 2560 cover.
        needed = int(max(ICON_SIZES) * ICON_SAFE_ZONE) + 1
        source.draft("RGB", (needed, needed))
        image = source.convert("RGB")
    side = min(image.width, image.height)
    square = image.crop(((image.width - side) // 2, 0, (image.width - side) // 2 + side, side))
    icons = {}
    for size in ICON_SIZES:
        canvas = Image.new("RGB", (size, size), square.getpixel((0, 0)))
        inner = int(size * ICON_SAFE_ZONE)
        canvas.paste(square.resize((inner, inner), Image.Resampling.LANCZOS), ((size - inner) // 2,) * 2)
        out = io.BytesIO()
        canvas.save(out, "PNG", optimize=True)
        icons[size] = out.getvalue()
    return icons
