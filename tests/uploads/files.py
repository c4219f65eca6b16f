"""Real files, generated in the tests: images of every accepted format, archives, bombs."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from PIL import Image

GPS_IFD = 0x8825
ORIENTATION = 0x0112
CAMERA_MAKE = 0x010F
CAMERA_NAME = "ConfabTestCamera"


def image_bytes(size=(64, 48), fmt="PNG", color=(200, 30, 30), mode="RGB", **save) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def gradient_jpeg(size) -> bytes:
    """A large photo-like JPEG that still compresses well."""
    image = Image.radial_gradient("L").resize(size).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def jpeg_with_orientation_and_gps() -> bytes:
    """400×200 as stored, left half red, right half blue; EXIF says rotate 90° clockwise to show it.

    It also carries GPS coordinates and a camera make that must not survive.
    """
    image = Image.new("RGB", (400, 200), (255, 0, 0))
    image.paste((0, 0, 255), (200, 0, 400, 200))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[CAMERA_MAKE] = CAMERA_NAME
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)})
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def animated_gif(size=(50, 40), colors=((255, 0, 0), (0, 255, 0), (0, 0, 255)), durations=(100, 200, 300)) -> bytes:
    frames = [Image.new("RGB", size, color) for color in colors]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=list(durations), loop=0)
    return buffer.getvalue()


def zip_bytes(files=None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (files or {"readme.txt": "hello"}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width=50_000, height=50_000) -> bytes:
    """A valid PNG header announcing billions of pixels; a few hundred bytes on disk.

    The image data is a compressed run of zeros (1-bit grey), as a real bomb's
    would be; only its first rows are present, which no decoder must ever reach.
    """
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    idat = zlib.compress(row * 16, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def open_image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def noisy_jpeg(size=(6000, 4000), grain=(750, 500)) -> bytes:
    """A photo-sized JPEG of a few MB (grey noise scaled up): above Django's in-memory upload threshold."""
    channel = Image.effect_noise(grain, 60).resize(size)
    buffer = io.BytesIO()
    Image.merge("RGB", [channel] * 3).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
