"""Swagger UI, served from files vendored in the package (swagger-ui-dist 5.35.0): no CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
OPENAPI_URL = "/swagger-api-json/v1"
SWAGGER_UI_URL = "/docs/swagger-ui/index.html"


def install(app: FastAPI) -> None:
    app.mount("/docs/swagger-ui", StaticFiles(directory=STATIC), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    @app.get("/docs/swagger-ui", include_in_schema=False)
    def _to_swagger_ui() -> RedirectResponse:
        return RedirectResponse(SWAGGER_UI_URL)
