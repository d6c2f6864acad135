"""Demo credentials, seeded only by `sodata serve --demo`. For the demo only: anyone who
reads this file knows them. Kept apart from the demo data because password hashes are
salted, so they differ at every seeding."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sodata.demo import ids
from sodata.identity.passwords import hash_secret
from sodata.models import OAuthClient, User

DEMO_PASSWORD = "demo-password"
DEMO_CLIENT_ID = "sodata-demo"
DEMO_CLIENT_SECRET = "sodata-demo-secret"
USERS = (ids.ADMIN_EMAIL, ids.DEMO_EMAIL, ids.VIEWER_EMAIL, ids.OTHER_EMAIL)


def seed_credentials(session: Session) -> None:
    password_hash = hash_secret(DEMO_PASSWORD)
    for user in session.scalars(select(User).where(User.email.in_(USERS))):
        user.password_hash = password_hash
        # the demo's platform operator: may also create corporate accounts
        user.is_superuser = user.email == ids.ADMIN_EMAIL
    session.add(
        OAuthClient(
            client_id=DEMO_CLIENT_ID,
            name="Demo client (demo only)",
            secret_hash=hash_secret(DEMO_CLIENT_SECRET),
            grant_types=["password", "client_credentials", "refresh_token", "authorization_code"],
            redirect_uris=[
                "http://127.0.0.1/*",  # any port: loopback redirects (RFC 8252)
                "http://localhost/*",
                "https://oauth.pstmn.io/v1/callback",
            ],
        )
    )
    session.flush()
