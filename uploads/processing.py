"""Deciding what an uploaded file is, and making images safe and web-sized.

Everything here is plain, synchronous, CPU- and IO-bound work on a file that
Django has already received (in memory up to ``FILE_UPLOAD_MAX_MEMORY_SIZE``,
in a temporary file above it). It runs in the worker thread of a sync DRF
view, never on the event loop; Pillow releases the GIL while it decodes,
resizes and encodes, so other requests keep running.

The type of a file is decided from its bytes only: magic numbers, then a
full check of the format (Pillow decodes images, ``zipfile`` reads the
central directory, text must be UTF-8 without NULs). The name is used for
one thing: a name that claims another accepted type ("photo.png" holding a
zip) is refused, so nobody is surprised by what they download. The client's
``Content-Type`` is ignored.

Images are always re-encoded from decoded pixels: this is what strips every
piece of metadata (EXIF with GPS, XMP, comments, text chunks) without a list
of chunks to remember. Only the ICC colour profile is carried over, so colours
stay right. Animated GIF/WebP/PNG keep their animation: every frame is
re-encoded (and resized), with its duration and the loop count; the thumbnail
is the first frame.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from core.errors import ActionError, invalid

from .image_slots import image_slots

CHUNK_SIZE = 64 * 1024
# Animations are decoded frame by frame and held in memory to be re-encoded:
# the pixels of all frames together have their budget (UPLOAD_MAX_DECODED_PIXELS),
# and the frame count has its own cap (each frame costs a little however small).
MAX_FRAMES = 1000
JPEG_QUALITY = 85
WEBP_QUALITY = 85
THUMBNAIL_QUALITY = 80


@dataclass(frozen=True)
class FileKind:
    key: str
    label: str
    content_type: str
    extension: str
    pillow_format: str | None = None

    @property
    def is_image(self) -> bool:
        return self.pillow_format is not None


KINDS = {
    kind.key: kind
    for kind in (
        FileKind("jpeg", "JPEG image", "image/jpeg", "jpg", "JPEG"),
        FileKind("png", "PNG image", "image/png", "png", "PNG"),
        FileKind("gif", "GIF image", "image/gif", "gif", "GIF"),
        FileKind("webp", "WebP image", "image/webp", "webp", "WEBP"),
        FileKind("pdf", "PDF document", "application/pdf", "pdf"),
        FileKind("zip", "ZIP archive", "application/zip", "zip"),
        FileKind("text", "plain text", "text/plain", "txt"),
        FileKind("markdown", "Markdown text", "text/markdown", "md"),
    )
}

# Names that claim one of the accepted types. Any other name (".docx" for a
# zip, ".py" for text, no extension) is fine: the bytes decide.
EXTENSION_KINDS = {
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "jpe": "jpeg",
    "jfif": "jpeg",
    "png": "png",
    "apng": "png",
    "gif": "gif",
    "webp": "webp",
    "pdf": "pdf",
    "zip": "zip",
    "txt": "text",
    "text": "text",
    "md": "markdown",
    "markdown": "markdown",
}
TEXT_KINDS = {"text", "markdown"}


@dataclass
class PreparedUpload:
    """What gets stored: the content (the original file, or the re-encoded image) and its facts."""

    kind: FileKind
    name: str
    content: IO[bytes]
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None

    @property
    def content_type(self) -> str:
        return self.kind.content_type


# --- Names ----------------------------------------------------------------------------

_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f/\\"<>|:*?]')


def clean_filename(name: str | None, *, default: str = "file") -> str:
    """The user's file name, safe to keep as metadata and to put in a header.

    Path parts, control characters and characters that mean something in
    headers or file systems go; the length is capped at 200 characters,
    keeping the extension.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME_CHARS.sub("_", name)
    name = " ".join(name.split()).strip(". ")
    if len(name) > 200:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: 199 - len(extension)] + "." + extension
        else:
            name = name[:200]
    return name or default


def name_extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


# --- Detection ------------------------------------------------------------------------


def sniff(head: bytes) -> str | None:
    """The accepted binary kind these first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    return None


def _is_utf8_text(fp: IO[bytes]) -> bool:
    """Valid UTF-8 without NUL bytes, read in chunks (the file may be on disk)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    fp.seek(0)
    try:
        while chunk := fp.read(CHUNK_SIZE):
            if b"\x00" in chunk:
                return False
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        fp.seek(0)
    return True


def detect_kind(fp: IO[bytes], name: str) -> FileKind:
    """Decide the kind from the bytes; refuse a name that claims another accepted kind."""
    fp.seek(0)
    head = fp.read(64)
    fp.seek(0)
    if not head:
        raise invalid("The file is empty.")
    key = sniff(head)
    if key is None:
        if not _is_utf8_text(fp):
            raise invalid(
                "Unsupported file type: accepted are JPEG, PNG, GIF and WebP images, PDF, "
                "plain text or Markdown (UTF-8) and ZIP archives."
            )
        key = "text"
    claimed = EXTENSION_KINDS.get(name_extension(name))
    if key == "text" and claimed == "markdown":
        key = "markdown"
    if claimed is not None and claimed != key and not (key in TEXT_KINDS and claimed in TEXT_KINDS):
        raise invalid(
            f"The file is named like a {KINDS[claimed].label} (`{name}`) but its content is a {KINDS[key].label}. "
            "Rename it or upload the right file.",
            detected=KINDS[key].content_type,
        )
    return KINDS[key]


def _check_zip(fp: IO[bytes]) -> None:
    # Reading the central directory is enough to know it is a zip; nothing is
    # extracted, so a zip bomb is just a small file here.
    try:
        with zipfile.ZipFile(fp) as archive:
            archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise invalid("The file starts like a ZIP archive but is not a valid one.")
    finally:
        fp.seek(0)


def _hash_and_size(fp: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    fp.seek(0)
    while chunk := fp.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    fp.seek(0)
    return digest.hexdigest(), size


# --- Images ---------------------------------------------------------------------------


def _too_many_pixels(width: int, height: int) -> ActionError:
    limit = settings.UPLOAD_MAX_PIXELS
    return ActionError(
        "too_large",
        f"The image is too large to process ({width}×{height} pixels); the limit is {limit:,} pixels.",
        limit=limit,
    )


def _too_many_decoded_pixels(width: int, height: int, frames: int) -> ActionError:
    limit = settings.UPLOAD_MAX_DECODED_PIXELS
    return ActionError(
        "too_large",
        f"The image is too large to process ({frames} frames of {width}×{height} pixels); "
        f"the limit is {limit:,} pixels in all frames together.",
        limit=limit,
    )


def _too_many_frames(frames: int) -> ActionError:
    return ActionError(
        "too_large", f"The animation has too many frames ({frames}); the limit is {MAX_FRAMES}.", limit=MAX_FRAMES
    )


def _damaged(kind: FileKind) -> ActionError:
    return invalid(f"The file starts like a {kind.label} but is damaged or not a valid image.")


def _open_image(fp: IO[bytes], kind: FileKind) -> Image.Image:
    """Open (headers only) as exactly the sniffed format, refusing bombs before any decoding."""
    fp.seek(0)
    try:
        image = Image.open(fp, formats=[kind.pillow_format])
    except Image.DecompressionBombError:
        raise ActionError(
            "too_large",
            f"The image is too large to process; the limit is {settings.UPLOAD_MAX_PIXELS:,} pixels.",
            limit=settings.UPLOAD_MAX_PIXELS,
        )
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _damaged(kind)
    width, height = image.size
    if width < 1 or height < 1:
        raise _damaged(kind)
    if width * height > settings.UPLOAD_MAX_PIXELS:
        raise _too_many_pixels(width, height)
    return image


def _fitted_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    if max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _has_alpha(image: Image.Image) -> bool:
    # "transparency" in info: a palette entry or a colour key (tRNS) that is see-through.
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _normalise_mode(image: Image.Image, kind: FileKind) -> Image.Image:
    """A mode the output format stores well and that resizes smoothly (not palette)."""
    if kind.key == "jpeg":
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if "transparency" in image.info:
        return image.convert("RGBA")  # the colour key would be lost with the metadata
    if image.mode in ("RGB", "RGBA", "L", "LA") and not (kind.key == "webp" and image.mode in ("L", "LA")):
        return image
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


def _encode(image: Image.Image, kind: FileKind, icc_profile: bytes | None, **extra) -> bytes:
    options: dict = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if kind.key == "jpeg":
        options.update(quality=JPEG_QUALITY, optimize=True, progressive=True)
    elif kind.key == "webp":
        options.update(quality=WEBP_QUALITY, method=4)
    elif kind.key == "gif":
        options.pop("icc_profile", None)
    options.update(extra)
    buffer = io.BytesIO()
    image.save(buffer, format=kind.pillow_format, **options)
    return buffer.getvalue()


def _thumbnail(frame: Image.Image) -> bytes:
    side = settings.UPLOAD_THUMBNAIL_SIDE
    thumb = frame.convert("RGBA" if _has_alpha(frame) else "RGB")
    thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumb.save(buffer, format="WEBP", quality=THUMBNAIL_QUALITY, method=4)
    return buffer.getvalue()


def process_image(fp: IO[bytes], kind: FileKind) -> tuple[bytes, int, int, bytes]:
    """Verify, orient, strip, resize and re-encode an image; make its thumbnail.

    Returns ``(data, width, height, thumbnail_webp)``. Before decoding
    anything, from the header alone (the size, and the frame count, which
    Pillow finds by skipping from frame header to frame header), it refuses
    a frame of more than ``UPLOAD_MAX_PIXELS`` pixels (a decompression bomb
    is a small file that would need gigabytes) and frames x width x height
    above ``UPLOAD_MAX_DECODED_PIXELS`` (what an animation costs in memory
    while it is re-encoded). Only then does it wait for one of the
    process's image slots (``uploads.image_slots``) to decode.
    """
    image = _open_image(fp, kind)
    try:
        frames = getattr(image, "n_frames", 1)
    except (OSError, SyntaxError, ValueError, EOFError):
        raise _damaged(kind)
    width, height = image.size
    if frames > MAX_FRAMES:
        raise _too_many_frames(frames)
    if width * height * frames > settings.UPLOAD_MAX_DECODED_PIXELS:
        raise _too_many_decoded_pixels(width, height, frames)
    with image_slots.slot():
        return _decode_and_encode(fp, kind, image, frames)


def _decode_and_encode(fp: IO[bytes], kind: FileKind, image: Image.Image, frames: int) -> tuple[bytes, int, int, bytes]:
    try:
        image.verify()  # structure and checksums; the image cannot be used afterwards
    except Exception:
        raise _damaged(kind)
    image = _open_image(fp, kind)
    try:
        if frames > 1:
            return _process_animation(image, kind, frames)
        return _process_still(image, kind)
    except ActionError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        # Truncated data, corrupt chunks: verify() does not decode JPEG fully.
        raise _damaged(kind)


def _process_still(image: Image.Image, kind: FileKind) -> tuple[bytes, int, int, bytes]:
    max_side = settings.UPLOAD_IMAGE_MAX_SIDE
    icc_profile = image.info.get("icc_profile")
    source_mode = image.mode
    if kind.key == "jpeg":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the result is still
        # at least max_side on both sides: much less memory and time for photos.
        image.draft(image.mode, (max_side, max_side))
    oriented = ImageOps.exif_transpose(image)  # decodes; applies and drops the orientation
    oriented = _normalise_mode(oriented, kind)
    if oriented.mode != source_mode and source_mode == "CMYK":
        icc_profile = None  # a CMYK profile does not describe the converted RGB pixels
    size = _fitted_size(*oriented.size, max_side)
    if size != oriented.size:
        oriented = oriented.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    oriented.info = {}  # nothing of the original's metadata may reach the encoder
    data = _encode(oriented, kind, icc_profile)
    return data, oriented.width, oriented.height, _thumbnail(oriented)


def _process_animation(image: Image.Image, kind: FileKind, frames: int) -> tuple[bytes, int, int, bytes]:
    size = _fitted_size(*image.size, settings.UPLOAD_IMAGE_MAX_SIDE)
    loop = image.info.get("loop", 0)
    output: list[Image.Image] = []
    durations: list[int] = []
    for frame in ImageSequence.Iterator(image):
        durations.append(int(frame.info.get("duration") or 100))
        converted = frame.convert("RGBA")  # composited frame, full canvas
        if converted.size != size:
            converted = converted.resize(size, Image.Resampling.LANCZOS)
        converted.info = {}
        output.append(converted)
    if not output:
        raise _damaged(kind)
    first = output[0]
    extra = {"save_all": True, "append_images": output[1:], "duration": durations, "loop": loop}
    if kind.key == "gif":
        extra["disposal"] = 2  # every frame is a full composited canvas
    data = _encode(first, kind, None, **extra)
    return data, size[0], size[1], _thumbnail(first)


# --- Entry point ----------------------------------------------------------------------


def prepare_upload(fp: IO[bytes], original_name: str | None) -> PreparedUpload:
    """Everything the stored upload needs, from the received file; raises ``ActionError``.

    ``fp`` is read and rewound; for documents it is stored as it is (Django's
    storage streams it), for images the re-encoded bytes are stored instead.
    """
    name = clean_filename(original_name)
    kind = detect_kind(fp, name)
    if kind.key == "zip":
        _check_zip(fp)
    if kind.is_image:
        data, width, height, thumbnail = process_image(fp, kind)
        return PreparedUpload(
            kind=kind,
            name=name,
            content=io.BytesIO(data),
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            width=width,
            height=height,
            thumbnail=thumbnail,
        )
    sha256, size = _hash_and_size(fp)
    return PreparedUpload(kind=kind, name=name, content=fp, size=size, sha256=sha256)


def square_webp_renditions(fp: IO[bytes], sides: tuple[int, ...]) -> dict[int, bytes]:
    """Square WebP images of a stored upload's first frame, centre-cropped, one per side in ``sides``.

    For avatars. The upload was checked and re-encoded when it arrived; it is
    judged again from its header (pixels, and frames x pixels) before any
    decoding, in case limits were lowered since, and decoded in one of the
    process's image slots like any upload.
    """
    try:
        image = Image.open(fp)
        frames = getattr(image, "n_frames", 1)
        width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        raise invalid("The upload is not an image that can be read.") from None
    if width * height > settings.UPLOAD_MAX_PIXELS:
        raise _too_many_pixels(width, height)
    if width * height * frames > settings.UPLOAD_MAX_DECODED_PIXELS:
        raise _too_many_decoded_pixels(width, height, frames)
    with image_slots.slot():
        try:
            image.seek(0)
            frame = image.convert("RGBA" if _has_alpha(image) else "RGB")
        except (OSError, SyntaxError, ValueError, EOFError):
            raise invalid("The upload is not an image that can be read.") from None
        renditions: dict[int, bytes] = {}
        for side in sides:
            square = ImageOps.fit(frame, (side, side), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
            buffer = io.BytesIO()
            square.save(buffer, format="WEBP", quality=WEBP_QUALITY, method=4)
            renditions[side] = buffer.getvalue()
    return renditions
