"""Icon images: upload checks and the response that serves them."""

from __future__ import annotations

import io

from fastapi import Request
from fastapi.responses import Response
from PIL import Image, UnidentifiedImageError

from sodata.kit.errors import ApiError, not_found
from sodata.models import Icon

MAX_ICON_BYTES = 1024 * 1024
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


class PayloadTooLarge(ApiError):
    status_code = 413


class UnsupportedMediaType(ApiError):
    status_code = 415


async def read_icon_upload(request: Request) -> Icon:
    """The image of a PUT .../icon: a multipart form with a `file` field, or the raw image body."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_files=1)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError('file: missing; send the image in the multipart field "file"')
        data = await upload.read(MAX_ICON_BYTES + 1)
    else:
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_ICON_BYTES:
                break
        data = bytes(data)
    if len(data) > MAX_ICON_BYTES:
        raise PayloadTooLarge(
            f"file: the icon is larger than {MAX_ICON_BYTES // 1024} KiB; send a smaller image"
        )
    if not data:
        raise ApiError("file: empty; send a PNG, JPEG, GIF or WebP image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            fmt = image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        fmt = None
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
        "description": f"A PNG, JPEG, GIF or WebP image of at most {MAX_ICON_BYTES // 1024} KiB",
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
ICON_RESPONSES = {
    200: {
        "content": {"image/png": {}, "image/jpeg": {}, "image/gif": {}, "image/webp": {}},
        "description": "The icon",
    }
}
