"""What the embedded provider needs in every database: a signing key and the public client
that Swagger UI (and later the web console) signs in with (authorization code + PKCE)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sodata.identity.keys import ensure_key
from sodata.models import OAuthClient

SWAGGER_CLIENT_ID = "sodata-swagger"
SWAGGER_REDIRECT = "/docs/swagger-ui/oauth2-redirect.html"


def ensure_identity(session: Session) -> None:
    ensure_key(session)
    if (
        session.scalar(select(OAuthClient.id).where(OAuthClient.client_id == SWAGGER_CLIENT_ID))
        is None
    ):
        session.add(
            OAuthClient(
                client_id=SWAGGER_CLIENT_ID,
                name="Swagger UI",
                secret_hash=None,
                grant_types=["authorization_code", "refresh_token"],
                redirect_uris=[SWAGGER_REDIRECT],
            )
        )
    session.flush()
