"""Icon images of customers and devices: upload checks, the response that serves them, and
replacing or dropping an owner's icon.

The body is read here, within a byte limit and before any parsing, so that neither a huge
upload nor an image that claims huge dimensions costs the server more than the limits.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import AsyncGenerator
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from PIL import Image, UnidentifiedImageError
from sqlalchemy.orm import Session
from starlette.formparsers import MultiPartException, MultiPartParser

from sodata.kit.errors import ApiError, not_found
from sodata.models import Icon

MAX_ICON_BYTES = 1024 * 1024
MULTIPART_FRAMING_BYTES = 64 * 1024  # boundaries and part headers around the image
MAX_ICON_SIDE = 4096
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


class PayloadTooLarge(ApiError):
    status_code = 413


class UnsupportedMediaType(ApiError):
    status_code = 415


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"file: the icon is larger than {MAX_ICON_BYTES // 1024} KiB; send a smaller image"
    )


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large()
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise _too_large()
    return bytes(data)


async def _multipart_file(request: Request, body: bytes) -> bytes:
    """The `file` field of a multipart body already read in memory."""

    async def chunks() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(request.headers, chunks(), max_files=1, max_fields=8)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ApiError(
            f'file: {exc.message.rstrip(".")}; send one image in the multipart field "file"'
        ) from None
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError('file: missing; send the image in the multipart field "file"')
        return await upload.read()
    finally:
        await form.close()


def _image_format(data: bytes) -> str | None:
    """The format of a valid image of at most MAX_ICON_SIDE pixels a side, else None; an image
    whose header claims larger dimensions is refused before any pixel is decoded."""
    too_big = UnsupportedMediaType(
        f"file: image dimensions too large; send an image of at most {MAX_ICON_SIDE}x"
        f"{MAX_ICON_SIDE} pixels"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width > MAX_ICON_SIDE or image.height > MAX_ICON_SIDE:
                    raise too_big
                image.verify()
                return image.format
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_big from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None


async def read_icon_upload(request: Request) -> Icon:
    """The image of a PUT .../icon: a multipart form with a `file` field, or the raw image body."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        body = await _read_body(request, MAX_ICON_BYTES + MULTIPART_FRAMING_BYTES)
        data = await _multipart_file(request, body)
    else:
        data = await _read_body(request, MAX_ICON_BYTES)
    if len(data) > MAX_ICON_BYTES:
        raise _too_large()
    if not data:
        raise ApiError("file: empty; send a PNG, JPEG, GIF or WebP image")
    fmt = _image_format(data)
    if fmt not in FORMATS:
        raise UnsupportedMediaType("file: not an image; send a PNG, JPEG, GIF or WebP image")
    return Icon(content_type=FORMATS[fmt], data=data)


def icon_response(icon: Icon | None, owner: str, owner_uuid: object) -> Response:
    if icon is None:
        raise not_found(f"Icon of {owner}", owner_uuid)
    return Response(
        icon.data, media_type=icon.content_type, headers={"Cache-Control": "private, max-age=300"}
    )


# Documents the upload in OpenAPI (the body is read by `read_icon_upload`, not by FastAPI).
ICON_UPLOAD_OPENAPI = {
    "requestBody": {
        "required": True,
        "description": f"A PNG, JPEG, GIF or WebP image of at most {MAX_ICON_BYTES // 1024} KiB "
        f"and {MAX_ICON_SIDE}x{MAX_ICON_SIDE} pixels",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
ICON_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"image/png": {}, "image/jpeg": {}, "image/gif": {}, "image/webp": {}},
        "description": "The icon",
    }
}


def set_icon(session: Session, owner: Any, icon: Icon) -> None:
    """Give `owner` (a customer or a device) a new icon; the old image row goes away."""
    if owner.icon is not None:
        session.delete(owner.icon)
    owner.icon = icon


def delete_icon(session: Session, owner: Any) -> None:
    """Delete `owner`'s icon row with it (the foreign key would only set the owner's id null)."""
    if owner.icon_id is not None:
        session.delete(owner.icon)
