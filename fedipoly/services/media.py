"""Uploaded images: checked by their bytes, decoded, stripped, re-encoded, resized, stored on disk.

An upload is accepted only when its first bytes are those of PNG, JPEG, WebP or GIF (the file
name and the declared type are never trusted) and Pillow, restricted to that one format, decodes
it completely. SVG, HTML and anything else are refused with a 400. The decoded pixels are
re-encoded into a new file, so no metadata (EXIF with GPS positions, ICC profiles, comments)
and no trailing payload survive; EXIF orientation is applied first so photos stay upright.
GIFs (and animated WebPs) keep their first frame.

Files get random, unguessable names (`<32 url-safe characters>.<jpg|png|webp>`, the media id)
in a store-agnostic directory, sharded by the first two characters: `<directory>/ab/abc….png`.
Several processes may share the directory (a shared volume when web processes run on more
than one machine). Files are written to a temporary name and renamed, so a reader never sees
half a file. Serve them with `read()` (bytes and content type) and `headers_for()`.

This module knows files only: who uploaded an image, what for, and whether a post or profile
shows it are recorded by `media_library.MediaLibrary`, which members' uploads go through.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PIL import Image, ImageOps

from fedipoly.errors import NotFound, PayloadTooLarge, ValidationFailed

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000  # below Pillow's own decompression-bomb threshold (89 M)
POST_MAX_EDGE = 1600
AVATAR_EDGE = 400
JPEG_QUALITY = 85
MAX_ALT_TEXT = 1500

MEDIA_ID = re.compile(r"[A-Za-z0-9_-]{32}\.(?:jpg|png|webp)")
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
# Sniffed format -> (Pillow format to decode with, Pillow format to encode to, extension).
FORMATS = {
    "png": ("PNG", "PNG", "png"),
    "jpeg": ("JPEG", "JPEG", "jpg"),
    "webp": ("WEBP", "WEBP", "webp"),
    "gif": ("GIF", "PNG", "png"),
}


class MediaRejected(ValidationFailed):
    code = "bad_media"


class MediaPurpose(StrEnum):
    POST = "post"  # longest edge at most 1600 px, aspect kept
    AVATAR = "avatar"  # centre square, at most 400 x 400 px


@dataclass(frozen=True)
class StoredMedia:
    id: str  # the file name, e.g. "Xy…Q.png"; also the last segment of its URL
    media_type: str
    width: int
    height: int
    size: int  # bytes on disk


def sniff(data: bytes) -> str | None:
    """The image format by magic bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def content_type_of(media_id: str) -> str:
    return CONTENT_TYPES[media_id.rsplit(".", 1)[-1]]


def headers_for(media_id: str) -> dict[str, str]:
    """Response headers for serving a media file (names are never reused: cache forever)."""
    return {
        "Content-Type": content_type_of(media_id),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "public, max-age=31536000, immutable",
    }


def _decode(data: bytes, kind: str, max_pixels: int) -> Image.Image:
    decoder = FORMATS[kind][0]
    try:
        image = Image.open(io.BytesIO(data), formats=[decoder])
        width, height = image.size
        if width < 1 or height < 1 or width * height > max_pixels:
            raise MediaRejected(
                f"an image has at most {max_pixels / 1_000_000:g} megapixels", {"field": "file"}
            )
        image.seek(0)  # the first frame of an animation
        image.load()  # decodes everything: a truncated or damaged file fails here
        return ImageOps.exif_transpose(image)
    except MediaRejected:
        raise
    except Exception as error:  # Pillow raises many types on hostile input; all mean "unreadable"
        raise MediaRejected(
            "the image cannot be read; it may be damaged or incomplete", {"field": "file"}
        ) from error


def _fit(image: Image.Image, purpose: MediaPurpose) -> Image.Image:
    if purpose is MediaPurpose.AVATAR:
        edge = min(image.size)
        left, top = (image.width - edge) // 2, (image.height - edge) // 2
        image = image.crop((left, top, left + edge, top + edge))
        limit = AVATAR_EDGE
    else:
        limit = POST_MAX_EDGE
    if max(image.size) > limit:
        image = image.copy()
        image.thumbnail((limit, limit), Image.Resampling.LANCZOS)
    return image


def _encode(image: Image.Image, encoder: str) -> bytes:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if encoder == "JPEG":
        image = image.convert("RGB") if image.mode not in ("RGB", "L") else image
    elif encoder == "WEBP" or image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
        image = image.convert("RGBA" if has_alpha else "RGB")
    # Nothing of the original's metadata is written: only palette transparency is kept.
    transparency = image.info.get("transparency")
    image.info = {} if transparency is None else {"transparency": transparency}
    out = io.BytesIO()
    if encoder == "JPEG":
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif encoder == "WEBP":
        image.save(out, "WEBP", quality=JPEG_QUALITY)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


class MediaService:
    def __init__(
        self,
        directory: str | Path,
        *,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self._directory = Path(directory)
        self._max_upload_bytes = max_upload_bytes
        self._max_pixels = max_pixels

    @property
    def directory(self) -> Path:
        return self._directory

    def path_of(self, media_id: str) -> Path:
        """Where a media file lives; NotFound for anything that is not a media id."""
        if not isinstance(media_id, str) or not MEDIA_ID.fullmatch(media_id):
            raise NotFound("no such media")
        return self._directory / media_id[:2] / media_id

    async def save_image(
        self,
        data: bytes,
        *,
        purpose: MediaPurpose = MediaPurpose.POST,
        filename: str | None = None,
    ) -> StoredMedia:
        """Check, clean, resize and store an uploaded image. 413 when too big, 400 when it is
        not a PNG, JPEG, WebP or GIF that decodes completely. `filename` (the client's name
        for the upload) is accepted for the caller's convenience and deliberately ignored:
        the type comes from the bytes, the stored name is random."""
        del filename
        if len(data) > self._max_upload_bytes:
            raise PayloadTooLarge(
                f"an image has at most {self._max_upload_bytes // (1024 * 1024)} MB",
                {"field": "file"},
            )
        kind = sniff(data)
        if kind is None:
            raise MediaRejected(
                "only PNG, JPEG, WebP or GIF images are accepted", {"field": "file"}
            )
        return await asyncio.to_thread(self._process, data, kind, purpose)

    def _process(self, data: bytes, kind: str, purpose: MediaPurpose) -> StoredMedia:
        _, encoder, extension = FORMATS[kind]
        with _decode(data, kind, self._max_pixels) as decoded:
            image = _fit(decoded, purpose)
            encoded = _encode(image, encoder)
            width, height = image.size
        media_id = f"{secrets.token_urlsafe(24)}.{extension}"
        path = self.path_of(media_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{media_id}.{secrets.token_hex(4)}.part")
        partial.write_bytes(encoded)
        os.replace(partial, path)
        return StoredMedia(media_id, CONTENT_TYPES[extension], width, height, len(encoded))

    async def read(self, media_id: str) -> tuple[bytes, str]:
        """The stored bytes and their content type; NotFound when there is no such file."""
        path = self.path_of(media_id)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFound("no such media") from None
        return data, content_type_of(media_id)

    async def info(self, media_id: str) -> StoredMedia:
        """Type, size and dimensions of a stored file (read from its header only)."""
        return await asyncio.to_thread(self._info, self.path_of(media_id), media_id)

    @staticmethod
    def _info(path: Path, media_id: str) -> StoredMedia:
        try:
            size = path.stat().st_size
            with Image.open(path) as image:
                width, height = image.size
        except (FileNotFoundError, OSError):
            raise NotFound("no such media") from None
        return StoredMedia(media_id, content_type_of(media_id), width, height, size)

    async def delete(self, media_id: str) -> bool:
        path = self.path_of(media_id)
        try:
            await asyncio.to_thread(path.unlink)
        except FileNotFoundError:
            return False
        return True
