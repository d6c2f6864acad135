"""What the embedded provider needs in every database: a signing key and the public clients
that Swagger UI and the web console sign in with (authorization code + PKCE)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sodata.identity.keys import ensure_key
from sodata.models import OAuthClient

SWAGGER_CLIENT_ID = "sodata-swagger"
SWAGGER_REDIRECT = "/docs/swagger-ui/oauth2-redirect.html"
CONSOLE_CLIENT_ID = "sodata-console"
# back from sign-in, and back from sign-out (post_logout_redirect_uri)
CONSOLE_REDIRECTS = ["/console/callback", "/console/"]

# client id -> (name, redirect URIs)
PUBLIC_CLIENTS = {
    SWAGGER_CLIENT_ID: ("Swagger UI", [SWAGGER_REDIRECT]),
    CONSOLE_CLIENT_ID: ("Web console", CONSOLE_REDIRECTS),
}


def ensure_identity(session: Session) -> None:
    ensure_key(session)
    known = set(
        session.scalars(
            select(OAuthClient.client_id).where(OAuthClient.client_id.in_(PUBLIC_CLIENTS))
        )
    )
    for client_id, (name, redirects) in PUBLIC_CLIENTS.items():
        if client_id not in known:
            session.add(
                OAuthClient(
                    client_id=client_id,
                    name=name,
                    secret_hash=None,
                    grant_types=["authorization_code", "refresh_token"],
                    redirect_uris=redirects,
                )
            )
    session.flush()
