"""The web console: SoLive Pro's screens, served at /console/ as static files.

It is a client of the public API and of the OpenID Connect provider, as any third-party
application: it signs in with the authorization code grant and PKCE (client
`sodata-console` of the embedded provider, or `Settings.console_client_id` of an external
realm), then calls /api/v1 with the user's token. The server only hands
out the files and, at /console/config.json, where to sign in. Every asset is in the package
(static/vendor/README.md lists the libraries, their versions and licences).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from sodata import docs
from sodata.config import Settings
from sodata.identity.bootstrap import CONSOLE_CLIENT_ID

STATIC = Path(__file__).parent / "static"
PREFIX = "/console"
CALLBACK = f"{PREFIX}/callback"  # where the provider sends the browser back with a code
# The page itself is never cached, so that a new version's assets are picked up at once.
NO_CACHE = {"Cache-Control": "no-cache"}


def install(app: FastAPI, settings: Settings) -> None:
    app.mount(f"{PREFIX}/assets", StaticFiles(directory=STATIC), name="console-assets")

    @app.get("/", include_in_schema=False)
    @app.get(PREFIX, include_in_schema=False)
    def _to_console() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/")

    @app.get("/favicon.ico", include_in_schema=False)  # browsers ask for it on every page
    def _favicon() -> FileResponse:
        return FileResponse(docs.STATIC / "favicon-32x32.png", media_type="image/png")

    @app.get(f"{PREFIX}/config.json", include_in_schema=False)
    def _config(request: Request) -> JSONResponse:
        if settings.oidc_issuer:  # an external Keycloak realm, with a client made for us
            issuer, client_id = settings.oidc_issuer.rstrip("/"), settings.console_client_id
        else:
            issuer, client_id = request.app.state.provider.issuer(request), CONSOLE_CLIENT_ID
        return JSONResponse({"issuer": issuer, "clientId": client_id}, headers=NO_CACHE)

    # Every other address under /console/ is a page of the console (a link or a reload of
    # /console/ca/{ca}/devices/{d} shows that device): the same document, which routes itself.
    @app.get(f"{PREFIX}/", include_in_schema=False)
    @app.get(PREFIX + "/{page:path}", include_in_schema=False)
    def _page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=NO_CACHE)
