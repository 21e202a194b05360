"""Photos for a second opinion, shrunk on the box before they are queued: a 4 MB phone photo
would cost a month of the 3G budget. JPEG out, at most ``MAX_PHOTO_BYTES``, EXIF dropped (no
phone model, no GPS position of the patient's home leaves the box)."""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PHOTO_BYTES = 200 * 1024
MAX_UPLOAD_BYTES = 8 * 1024 * 1024  # what a phone sends; anything larger is refused before decoding
MAX_PIXELS = 40_000_000  # a decompression bomb is refused, not decoded into 512 MB of RAM
SIDES = (1600, 1280, 1024, 800, 640)  # longest side tried, largest first
QUALITIES = (80, 70, 60, 50)


class PhotoError(ValueError):
    """A photo that cannot be used, worded in French for the nurse."""


def shrink(raw: bytes, *, limit: int = MAX_PHOTO_BYTES) -> bytes:
    """The photo as a JPEG of at most ``limit`` bytes, as large and sharp as that allows."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise PhotoError(f"Photo trop lourde ({len(raw) / 1024 / 1024:.1f} Mo) : "
                         f"{MAX_UPLOAD_BYTES // 1024 // 1024} Mo au plus.")
    try:
        with Image.open(io.BytesIO(raw)) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise PhotoError("Photo trop grande (plus de 40 mégapixels).")
            opened.draft("RGB", (SIDES[0], SIDES[0]))  # JPEG: decode at a reduced scale, cheap in memory
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise PhotoError("Ce fichier n'est pas une photo lisible (JPEG ou PNG attendu).") from exc
    for side in SIDES:
        scaled = image.copy()
        scaled.thumbnail((side, side), Image.Resampling.LANCZOS)
        for quality in QUALITIES:
            out = io.BytesIO()
            scaled.save(out, "JPEG", quality=quality, optimize=True)
            if out.tell() <= limit:
                return out.getvalue()
    raise PhotoError("Photo impossible à réduire sous 200 Ko.")
